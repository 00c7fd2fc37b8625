"""`impactlens kpis`: the joint KPI scorecard of a week, with its trend."""

from __future__ import annotations

from typing import Annotated

import typer

from impactlens.cli.app import app, out
from impactlens.cli.inputs import (
    AsOfOption,
    FormatOption,
    HistoryOption,
    IncidentsOption,
    MapOption,
    SourceOption,
    TimezoneOption,
    WeekOption,
    weekly_review,
)
from impactlens.cli.output import check_format, write_table

_BARS = "▁▂▃▄▅▆▇█"


@app.command("kpis")
def kpis(
    week: WeekOption = None,
    format: FormatOption = "table",
    groups: Annotated[
        int,
        typer.Option(
            "--groups",
            help="In the table, the assignment groups with the most "
            "open incidents to show (csv and json show all).",
            min=0,
        ),
    ] = 10,
    map_path: MapOption = None,
    incidents: IncidentsOption = None,
    history: HistoryOption = None,
    source: SourceOption = None,
    timezone: TimezoneOption = None,
    as_of: AsOfOption = None,
) -> None:
    """The weekly KPI scorecard: business impact, time to restore, escalation, workload.

    Each KPI has its value for --week, the week before, the change, and the last 8
    weeks. Business minutes lost and value at risk come from the process timelines, so
    concurrent incidents on one outage count once.

    Example: impactlens kpis --week 2026-W47 --map fixtures/service_map.yaml
    --incidents fixtures/incidents.csv --history fixtures/assignment_history.csv
    """
    check_format(format)
    review, _ = weekly_review(
        map_path=map_path, incidents=incidents, history=history, source=source, week=week,
        as_of=as_of, timezone=timezone,
    )  # fmt: skip
    scorecard = review.kpis
    if format != "table":
        write_table(scorecard, format=format, title=f"KPIs {review.week}")
        return
    workload = scorecard["kpi"].isin(["open_at_week_end", "opened"])
    shown_groups = scorecard[scorecard["kpi"] == "open_at_week_end"]["subject"].head(groups)
    keep = ~workload | scorecard["subject"].isin(shown_groups)
    table = scorecard[keep].assign(trend=scorecard["trend"][keep].map(_sparkline))
    rates = table["kpi"].str.contains("_rate")
    for column in ("value", "previous", "change"):
        table[column] = [
            _shown(value, percent=is_rate, change=column == "change")
            for value, is_rate in zip(table[column], rates, strict=True)
        ]
    out.print(
        f"KPI scorecard, week {review.week} ({review.window.timezone}), trend over "
        f"{review.settings.trend_weeks} weeks"
    )
    write_table(table, format="table", title=f"KPIs {review.week}")


def _shown(value: float, *, percent: bool, change: bool) -> str:
    """A KPI figure for people: shares as percentages, their changes in points."""
    if value != value:  # NaN: no incident to measure that week
        return ""
    if percent:
        return f"{value * 100:+.1f} pp" if change else f"{value:.1%}"
    decimals = 0 if float(value).is_integer() else 2
    return f"{value:+,.{decimals}f}" if change else f"{value:,.{decimals}f}"


def _sparkline(values: list[float]) -> str:
    known = [v for v in values if v == v]
    if not known:
        return ""
    low, high = min(known), max(known)
    span = high - low or 1.0
    return "".join(
        " " if v != v else _BARS[int((v - low) / span * (len(_BARS) - 1))] for v in values
    )
