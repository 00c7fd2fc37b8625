"""The weekly (or monthly) impact report: a pure rendering of a `WeeklyReview`.

`render(review, fmt)` gives the report as one text: ``html`` (one self-contained file:
inline CSS, charts as inline SVG, no script, no external fetch), ``md`` (Markdown for
chat and email) or ``json`` (the review itself, versioned, for other tools).
`render_files(review, fmt)` gives what an edition writes to disk: for ``csv``, one file
per table. One Jinja2 environment, autoescape on for HTML and `StrictUndefined`
everywhere; everything a source wrote (incident text, group and service names) comes out
escaped and cut, so hostile text cannot break the layout.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
from impactlens.engine.correlation import COMMON_CAUSE_COLUMNS, GROUP_OUTAGE_COLUMNS
from impactlens.engine.escalation import PING_PONG_COLUMNS
from impactlens.engine.misprioritised import MISPRIORITISED_COLUMNS
from impactlens.engine.timelines import TIMELINE_COLUMNS
from impactlens.engine.weekly import WeeklyReview
from impactlens.reports.context import report_context
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from impactlens.errors import InvalidSettingsError
from impactlens.jsonable import json_records, json_value

__all__ = [
    "JSON_SCHEMA",
    "REPORT_FORMATS",
    "render",
    "render_files",
    "report_tables",
    "summary_markdown",
]

REPORT_FORMATS = ("html", "md", "csv", "json")
_FORMULA_STARTS = frozenset("=+-@\t\r")
JSON_SCHEMA = "impactlens.review/1"
_FILE_NAMES = {"html": "report.html", "md": "report.md", "json": "review.json"}
_WEEK_COLUMNS = (
    "source", "incident_id", "opened_at", "resolved_at", "priority", "ci", "service_id",
    "category", "subcategory", "assignment_group", "support_tier", "tier_rule", "escalated",
    "reached_l3", "ping_pong", "repeat", "reopened", "ttr_hours", "severity",
    "impact_score", "impact_minutes", "value_at_risk", "top_process", "explanation",
    "short_description",
)  # fmt: skip
# Tables a review without a service map leaves without columns: their CSV still gets its
# header line, so a tool reads an empty table (not an empty file it cannot parse).
_HEADERS = {
    "timelines": TIMELINE_COLUMNS,
    "misprioritised": MISPRIORITISED_COLUMNS,
    "group_outages": GROUP_OUTAGE_COLUMNS,
    "common_causes": COMMON_CAUSE_COLUMNS,
    "handoff_loops": PING_PONG_COLUMNS,
}


def render(review: WeeklyReview, fmt: str) -> str:
    """The report as one text: ``html``, ``md`` or ``json`` (`render_files` for ``csv``)."""
    if fmt == "csv":
        raise InvalidSettingsError("the csv edition is one file per table: use render_files")
    files = render_files(review, fmt)
    return files[_FILE_NAMES[fmt]]


def render_files(review: WeeklyReview, fmt: str) -> dict[str, str]:
    """File name -> text of the report's `fmt` edition (`REPORT_FORMATS`)."""
    if fmt not in REPORT_FORMATS:
        raise InvalidSettingsError(
            f"report format {fmt!r} is not one of {', '.join(REPORT_FORMATS)}"
        )
    if fmt == "csv":
        return {f"{name}.csv": _csv(table) for name, table in report_tables(review).items()}
    if fmt == "json":
        return {_FILE_NAMES["json"]: json.dumps(review_document(review), indent=1) + "\n"}
    context = report_context(review, charts_svg=fmt == "html")
    template = _environment().get_template(_FILE_NAMES[fmt])
    return {_FILE_NAMES[fmt]: template.render(**context)}


def summary_markdown(review: WeeklyReview, *, link: str = "", hotspots: int = 5) -> str:
    """A few lines for a chat message or a Prefect artifact: the headline, the top
    `hotspots` and the notes, with a `link` to the full report."""
    context = report_context(review, charts_svg=False)
    template = _environment().get_template("summary.md")
    return template.render(
        title=context["title"],
        period_kind=context["period_kind"],
        headline=context["headline"],
        top_hotspots=context["hotspots"][:hotspots],
        notes=context["notes"],
        link=link,
    )


def report_tables(review: WeeklyReview) -> dict[str, pd.DataFrame]:
    """Every table of the review, by name, as the CSV edition writes them."""
    columns = [name for name in _WEEK_COLUMNS if name in review.week_incidents.columns]
    tables = {
        "kpis": review.kpis.assign(trend=review.kpis["trend"].map(_joined))
        if len(review.kpis)
        else review.kpis,
        "hotspots": review.hotspots,
        "timelines": review.timelines,
        "misprioritised": review.misprioritised,
        "group_outages": review.group_outages,
        "common_causes": review.common_causes,
        "costliest": review.costliest,
        "incidents": review.week_incidents[columns],
    }
    tables["handoff_loops"] = review.handoff_loops
    tables["data_trust"] = review.data_trust
    for name, header in _HEADERS.items():
        if len(tables[name].columns) == 0:
            tables[name] = pd.DataFrame({column: [] for column in header})
    return tables


def review_document(review: WeeklyReview) -> dict[str, Any]:
    """The review as JSON values, with its schema name (`JSON_SCHEMA`)."""
    window = review.window
    coverage = review.coverage
    document: dict[str, Any] = {
        "schema": JSON_SCHEMA,
        "period": {
            "kind": window.kind,
            "label": window.week,
            "timezone": window.timezone,
            "start": window.start.isoformat(),
            "end": window.end.isoformat(),
            "trend_starts": [moment.isoformat() for moment in window.trend_bounds[:-1]],
        },
        "as_of": review.as_of.isoformat(),
        "map_version": review.map_version,
        "settings": _plain(review.settings),
        "process_names": dict(review.process_names),
        "notes": list(review.notes),
        "coverage": {
            "incidents": coverage.incidents,
            "by_ci": coverage.by_ci,
            "by_match": coverage.by_match,
            "unmapped": coverage.unmapped,
            "share": coverage.share,
            "unknown_cis": [list(pair) for pair in coverage.unknown_cis],
        },
        "map_findings": list(review.map_findings),
    }
    for name, table in report_tables(review).items():
        if name == "kpis":
            table = review.kpis
        document[name] = json_records(table)
    return document


def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("impactlens.reports", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=False,
        lstrip_blocks=False,
        keep_trailing_newline=True,
    )
    environment.filters["cut"] = cut
    environment.filters["md"] = markdown_text
    return environment


def cut(value: Any, limit: int = 200) -> str:
    """`value` as text of at most `limit` characters (an ellipsis marks the cut).

    >>> cut("x" * 10, 5)
    'xxxx…'
    """
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def markdown_text(value: Any, limit: int = 300) -> str:
    r"""`value` cut and made inert in Markdown: no markup, HTML, table cell break or line.

    >>> print(markdown_text("<script>|*x*| a -> b {{ y }}"))
    &lt;script>\|\*x\*\| a -> b {{ y }}
    >>> print(markdown_text("> quoted"))
    \> quoted
    """
    text = " ".join(cut(value, limit).split())
    text = text.replace("<", "&lt;")  # no raw HTML reaches a Markdown renderer
    for character in "\\`*_[]#|~":
        text = text.replace(character, "\\" + character)
    # ">" quotes only at the start of a line; inside text ("A -> B") it stays readable.
    return "\\" + text if text.startswith(">") else text


def _csv(table: pd.DataFrame) -> str:
    frame = table.copy()
    for name in frame.columns:
        values = frame[name]
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            frame[name] = values.dt.tz_convert("UTC").dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        elif pd.api.types.is_bool_dtype(values):
            frame[name] = values.map({True: "true", False: "false"})
        elif pd.api.types.is_string_dtype(values) or values.dtype == object:
            frame[name] = values.map(spreadsheet_safe)
    text: str = frame.to_csv(index=False)
    return text


def spreadsheet_safe(value: Any) -> Any:
    """Text a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``, tab or CR
    first), quoted with a leading apostrophe, as OWASP advises for CSV files that people
    open: incident text is written by anyone who can raise a ticket.

    >>> spreadsheet_safe("=SUM(A1)"), spreadsheet_safe("-> ok"), spreadsheet_safe(3)
    ("'=SUM(A1)", "'-> ok", 3)
    """
    if isinstance(value, str) and value[:1] in _FORMULA_STARTS:
        return "'" + value
    return value


def _joined(values: list[float]) -> str:
    return "|".join(f"{value:g}" for value in values)


def _plain(value: Any) -> Any:
    """Dataclasses and mappings as plain JSON values (the settings a review was made with)."""
    import dataclasses

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return json_value(value)
