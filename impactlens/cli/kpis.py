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
from impactlens.text import bars, kpi_figure

# Short names for the table (CSV and JSON keep the KPI ids).
_LABELS = {
    "incidents": "incidents",
    "business_critical_incidents": "critical incidents",
    "business_minutes_lost": "minutes lost",
    "value_at_risk": "value at risk",
    "ttr_median_hours": "restore h, median",
    "ttr_p90_hours": "restore h, p90",
    "escalation_rate_l2": "to L2/L3",
    "escalation_rate_l3": "to L3",
    "repeat_rate": "repeats",
    "ping_pong_rate": "ping-pong",
    "reopen_rate": "reopened",
    "open_at_week_end": "open at week end",
    "opened": "opened",
}


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

    Each KPI has its value for --week, the change from the week before, and the last 8
    weeks (the week before itself is in the csv and json output). Business minutes lost and value at risk come from the process timelines, so
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
        write_table(
            scorecard, format=format, title=f"KPIs {review.week}", currency=review.settings.currency
        )
        return
    workload = scorecard["kpi"].isin(["open_at_week_end", "opened"])
    shown_groups = scorecard[scorecard["kpi"] == "open_at_week_end"]["subject"].head(groups)
    keep = ~workload | scorecard["subject"].isin(shown_groups)
    table = scorecard[keep].assign(trend=scorecard["trend"][keep].map(bars))
    for column in ("value", "previous", "change"):
        table[column] = [
            kpi_figure(value, kpi, change=column == "change", currency=review.settings.currency)
            for value, kpi in zip(table[column], table["kpi"], strict=True)
        ]
    out.print(
        f"KPI scorecard, week {review.week} ({review.window.timezone}), trend over "
        f"{review.settings.trend_weeks} weeks"
    )
    # The week before is in the change (and in CSV and JSON): the table fits 80 columns.
    table = table.assign(kpi=table["kpi"].map(_LABELS).fillna(table["kpi"]))
    table = table[["kpi", "subject", "value", "change", "trend"]]
    write_table(
        table, format="table", title=f"KPIs {review.week}", currency=review.settings.currency
    )
