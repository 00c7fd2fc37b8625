"""What each dashboard page shows, as plain values for its template.

Each function takes what a library call returned (a `WeeklyReview`, a `HotspotView`, an
`IncidentImpact`, a timeline) and lays it out: rows as JSON values (`json_records`, as
the API answers them), links, drawings. Nothing is recomputed here, so a page shows the
API's numbers. The templates only format (the filters of `environment`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlencode

import pandas as pd
from impactlens.api.dashboard.svg import bar_chart, handoff_graph
from impactlens.engine.hotspot_view import HotspotView
from impactlens.engine.hotspots import (
    DEFAULT_KEY_COLUMNS,
    SORT_ORDERS,
    hotspot_keys,
    sort_hotspots,
)
from impactlens.engine.impact import ImpactModel
from impactlens.engine.keys import KEY_FIELDS, key_fields_from_text
from impactlens.engine.weekly import WeeklyReview
from impactlens.engine.weeks import parse_week, week_label
from impactlens.reports.render import cut
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from impactlens.jsonable import json_records
from impactlens.lookup import IncidentImpact, IncidentPage
from impactlens.text import counted, money

__all__ = [
    "SORTS",
    "Carry",
    "environment",
    "hotspot_page",
    "hotspots_page",
    "incident_page",
    "key_fields",
    "map_page",
    "process_page",
    "report_page",
]

_BLUE, _LIGHT, _ORANGE = "#2f5d8c", "#b8c7d9", "#c2571a"
SORTS = tuple(SORT_ORDERS)
SORT_NAMES = {
    "rank": "rank (flagged first, then impact of escalated repeats)",
    "impact": "business impact",
    "repeat_impact": "impact of escalated repeats",
    "escalated": "escalated to L2/L3",
    "reached_l3": "reached L3",
    "incidents": "incidents",
    "repeats": "repeats",
    "ping_pong": "ping-pong handoffs",
    "reopens": "reopens",
    "escalation_rate": "escalation rate",
    "ttr": "median time to resolve",
}


@dataclass(frozen=True)
class Carry:
    """The week a page shows, carried by its links, so the next page shows the same
    figures: the week, the moment (as of) and the hotspot key fields (None: setting)."""

    week: str
    as_of: pd.Timestamp
    group_by: str | None = None

    def query(self, *, group_by: bool = True) -> dict[str, str]:
        """Query parameters of a link to a page of the same week."""
        found = {"week": self.week, "as_of": self.as_of.isoformat()}
        if group_by and self.group_by:
            found["group_by"] = self.group_by
        return found


def key_fields(group_by: str | None) -> tuple[str, ...] | None:
    """Hotspot key fields from their comma-separated names (None: the setting's)."""
    if group_by is None:
        return None
    return key_fields_from_text(group_by, what="group_by") or None


def environment() -> Environment:
    """The dashboard's one Jinja2 environment: autoescape on, undefined names fail."""
    env = Environment(
        loader=PackageLoader("impactlens.api.dashboard", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        figure=figure, money=money_text, percent=percent, moment=moment, cut=cut,
        segment=segment, priority=priority,
    )  # fmt: skip
    env.globals.update(url=url, sort_names=SORT_NAMES)
    return env


# Filters: figures as people read them; a dash where there is none.


def figure(value: Any, decimals: int = 0) -> str:
    """A number with thousands separators (``1,234``); a dash for none."""
    if value is None or value != value:
        return "–"
    return f"{float(value):,.{decimals}f}"


def money_text(value: Any, currency: str = "") -> str:
    return "–" if value is None or value != value else money(float(value), currency)


def percent(value: Any) -> str:
    return "–" if value is None or value != value else f"{float(value):.0%}"


def moment(value: Any) -> str:
    """An ISO moment as ``2026-11-17 12:22 UTC``; a dash for none (still open)."""
    if value is None or value == "":
        return "–"
    return f"{pd.Timestamp(value).tz_convert('UTC'):%Y-%m-%d %H:%M} UTC"


def priority(value: Any) -> str:
    return "–" if value is None or value != value else f"P{int(value)}"


def segment(value: Any) -> str:
    """`value` as one segment of a link's path (``/`` and every reserved character quoted)."""
    return quote(str(value), safe="")


def url(path: str, query: Mapping[str, Any] | None = None, **more: Any) -> str:
    """`path` with the query parameters that have a value."""
    params = {**(query or {}), **more}
    kept = {name: value for name, value in params.items() if value not in (None, "", False)}
    return f"{path}?{urlencode(kept)}" if kept else path


# Pages.


def hotspots_page(
    review: WeeklyReview, *, sort: str, flagged: bool, group_by: str | None, limit: int
) -> dict[str, Any]:
    """The week's hotspots, sorted as the API sorts them, flagged ones only if asked."""
    table = review.hotspots
    if flagged and len(table):
        table = table[table["flag"] != ""]
    table = sort_hotspots(table, sort)
    carry = Carry(review.week, review.as_of, group_by)
    return {
        **_week_of(review, carry),
        "hotspots": json_records(table.head(limit)),
        "shown_of": len(table),
        "total": len(review.hotspots),
        "flagged_total": int((review.hotspots.get("flag", pd.Series()) != "").sum()),
        "sort": sort,
        "sorts": SORTS,
        "flagged": flagged,
        "group_by": group_by or "",
        "key_fields": ", ".join(KEY_FIELDS),
        "limit": limit,
    }


def hotspot_page(
    review: WeeklyReview, view: HotspotView, *, group_by: str | None
) -> dict[str, Any]:
    """One hotspot: its row, reasons, incidents, handoff graph, processes and trend."""
    carry = Carry(review.week, review.as_of, group_by)
    hotspot = json_records(view.hotspot.to_frame().T)[0]
    trend = json_records(view.trend)
    labels = [f"{pd.Timestamp(row['period_start']):%d %b}" for row in trend]
    handoffs = json_records(view.handoffs.sort_values(["handoffs", "from_group", "to_group"],
                                                      ascending=[False, True, True]))  # fmt: skip
    return {
        **_week_of(review, carry),
        "key": view.key,
        "hotspot": hotspot,
        "incidents": json_records(view.incidents),
        "handoffs": handoffs,
        "handoff_svg": handoff_graph(handoffs),
        "processes": json_records(view.processes),
        "trend": [{**row, "label": label} for row, label in zip(trend, labels, strict=True)],
        "trend_svg": bar_chart(
            labels,
            [
                ("incidents", [row["incidents"] for row in trend], _LIGHT),
                ("escalated to L2/L3", [row["escalated"] for row in trend], _BLUE),
            ],
            title=f"Incidents and escalations of {view.key}, week by week",
            name="trend",
        ),
    }


def incident_page(
    found: IncidentImpact,
    model: ImpactModel | None,
    *,
    group_by: tuple[str, ...],
    timezone: str,
    currency: str,
) -> dict[str, Any]:
    """One incident with its impact, the path that explains it and its hotspot's link."""
    incident = found.incident
    names = {p.id: p.name for p in model.service_map.processes} if model is not None else {}
    processes = [{**row, "name": names.get(row["process_id"], row["process_id"])}
                 for row in found.processes]  # fmt: skip
    explanation = incident.get("explanation")
    carry = None
    key = None
    if incident.get("opened_at"):
        opened = pd.Timestamp(incident["opened_at"]).tz_convert(timezone)
        monday = (opened - timedelta(days=opened.weekday())).date()
        carry = Carry(week_label(monday), found.as_of, ",".join(group_by) or None)
        key = _hotspot_key(incident, group_by)
    suggested = found.suggested_priority
    stated = incident.get("priority")
    return {
        "incident": incident,
        "processes": processes,
        "path": str(explanation).split(" -> ") if explanation else [],
        "suggested_priority": suggested,
        "priority_verdict": _verdict(stated, suggested),
        "map_version": found.map_version,
        "as_of": found.as_of,
        "hotspot_key": key,
        "carry": carry,
        "currency": currency,
    }


def process_page(
    model: ImpactModel,
    process_id: str,
    days: pd.DataFrame,
    incidents: IncidentPage,
    *,
    since: pd.Timestamp,
    until: pd.Timestamp,
    as_of: pd.Timestamp,
    currency: str,
) -> dict[str, Any]:
    """A process's business minutes lost per day, and the incidents that reached it."""
    process = model.service_map.process(process_id)
    rows = json_records(days)
    labels = [f"{pd.Timestamp(row['day']):%a %d %b}" for row in rows]
    return {
        "process": process,
        "days": rows,
        "total_minutes": float(days["impact_minutes"].sum()) if len(days) else 0.0,
        "total_value": float(days["value_at_risk"].sum()) if len(days) else 0.0,
        "timeline_svg": bar_chart(
            labels,
            [("business minutes lost", [row["impact_minutes"] for row in rows], _BLUE)],
            title=f"Business minutes {process.name} lost each day",
            name="timeline",
        ),
        "incidents": incidents.incidents,
        "more_incidents": incidents.next_cursor is not None,
        "since": since,
        "until": until,
        "as_of": as_of,
        "carry_as_of": as_of.isoformat(),
        "currency": currency,
    }


def map_page(
    model: ImpactModel | None,
    *,
    path: str | None,
    findings: list[str],
    counts: Mapping[str, int],
    review: WeeklyReview | None,
    service: str,
    blast: tuple[str, pd.DataFrame] | None,
    blast_error: str | None,
) -> dict[str, Any]:
    """The map's version and quality, the week's coverage, and a service's blast radius."""
    coverage = review.coverage if review is not None else None
    processes = (
        sorted(model.service_map.processes, key=lambda p: (p.criticality, p.id)) if model else []
    )
    services = sorted(s.id for s in model.service_map.services) if model else []
    return {
        "version": model.version if model is not None else None,
        "path": path,
        "findings": findings,
        "counts": counts,
        "coverage": coverage,
        "coverage_text": {
            "incidents": counted(coverage.incidents, "incident"),
            "unknown_cis": [f"{ci} ({count:,})" for ci, count in coverage.unknown_cis],
        }
        if coverage is not None
        else None,
        "week": review.week if review is not None else None,
        "carry": Carry(review.week, review.as_of) if review is not None else None,
        "processes": processes,
        "services": services,
        "service": service,
        "blast_service": blast[0] if blast else None,
        "blast": json_records(blast[1]) if blast else [],
        "blast_error": blast_error,
    }


def report_page(review: WeeklyReview, report_html: str) -> dict[str, Any]:
    return {**_week_of(review, Carry(review.week, review.as_of)), "report_html": report_html}


def _week_of(review: WeeklyReview, carry: Carry) -> dict[str, Any]:
    """The week's label, moment, map version and notes, and the weeks either side."""
    monday = parse_week(review.week)
    before = week_label(monday - timedelta(weeks=1))
    after = week_label(monday + timedelta(weeks=1))
    return {
        "week": review.week,
        "as_of": review.as_of,
        "map_version": review.map_version,
        "notes": list(review.notes),
        "carry": carry,
        "week_before": before,
        # The week after only once it has ended by as_of.
        "week_after": after if review.window.end + pd.Timedelta(weeks=1) <= review.as_of else None,
        "currency": review.settings.currency,
    }


def _hotspot_key(incident: Mapping[str, Any], group_by: tuple[str, ...]) -> str | None:
    """The key of the hotspot the incident counts in, when its fields are at hand."""
    columns = [KEY_FIELDS[name] for name in group_by] or list(DEFAULT_KEY_COLUMNS)
    if any(column not in incident for column in columns):
        return None
    frame = pd.DataFrame([{column: incident[column] for column in columns}])
    return str(hotspot_keys(frame, group_by).iloc[0])


def _verdict(stated: Any, suggested: int | None) -> str:
    if suggested is None or stated is None:
        return ""
    if int(stated) > suggested:
        return "understated: its business impact calls for a higher priority"
    if int(stated) < suggested:
        return "overstated: its business impact calls for a lower priority"
    return "as its business impact suggests"
