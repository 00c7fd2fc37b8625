"""`impactlens kpis`: the joint KPI scorecard of a week, with its 8-week trend."""

from __future__ import annotations

from typing import Annotated

import pandas as pd
import typer

from impactlens.cli.app import app, out
from impactlens.cli.weekly_input import (
    AsOfOption,
    FormatOption,
    HistoryOption,
    IncidentsOption,
    MapOption,
    SourceOption,
    TimezoneOption,
    WeeklyInput,
    WeekOption,
    check_format,
    load_weekly_input,
    write_table,
)

TREND_WEEKS = 8
REPEAT_DAYS = 14.0
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
    timezone: TimezoneOption = "UTC",
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
    data = load_weekly_input(
        map_path=map_path, incidents_path=incidents, history_path=history, source=source,
        week=week, timezone=timezone, as_of=as_of, weeks_before=TREND_WEEKS - 1,
        lookback_days=REPEAT_DAYS,
    )  # fmt: skip
    scorecard = weekly_scorecard(data)
    if format != "table":
        write_table(scorecard, format=format, title=f"KPIs {data.week}")
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
    out.print(f"KPI scorecard, week {data.week} ({data.timezone}), trend over {TREND_WEEKS} weeks")
    write_table(table, format="table", title=f"KPIs {data.week}")


def weekly_scorecard(data: WeeklyInput) -> pd.DataFrame:
    """The scorecard of `data`'s week (its bounds are the trend weeks)."""
    from impactlens.engine.hotspots import hotspot_keys, repeat_flags
    from impactlens.engine.kpis import kpi_scorecard
    from impactlens.engine.timelines import process_timelines

    table = data.facts.incidents
    table = table.assign(
        repeat=repeat_flags(hotspot_keys(table), table["opened_at"], repeat_days=REPEAT_DAYS)
    )
    timelines, criticality, names = None, None, None
    if data.model is not None:
        timelines = process_timelines(table, data.model, as_of=data.as_of, bounds=data.bounds)
        processes = data.model.service_map.processes
        criticality = {p.id: p.criticality for p in processes}
        names = {p.id: p.name for p in processes}
    return kpi_scorecard(
        table, data.bounds, timelines=timelines, pairs=data.facts.pairs,
        process_criticality=criticality, process_names=names,
    )  # fmt: skip


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
