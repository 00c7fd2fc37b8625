"""`impactlens hotspots`: the places whose incidents keep reaching L2/L3, best first."""

from __future__ import annotations

from typing import Annotated

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
    WeekOption,
    check_format,
    load_weekly_input,
    warn_if_baseline_before_data,
    write_table,
)
from impactlens.errors import InputFileError

_TABLE_COLUMNS = ("rank", "key", "flag", "incidents", "escalated", "reached_l3", "repeats",
                  "ping_pong", "repeat_impact", "reasons")  # fmt: skip


@app.command("hotspots")
def hotspots(
    week: WeekOption = None,
    group_by: Annotated[
        str | None,
        typer.Option(
            "--group-by",
            help="Comma-separated key: any of service, ci, category, subcategory, "
            "assignment_group, location. Default: service, else CI, else category.",
        ),
    ] = None,
    top: Annotated[int, typer.Option("--top", help="Show this many keys.", min=1)] = 10,
    format: FormatOption = "table",
    baseline_weeks: Annotated[
        int, typer.Option("--baseline-weeks", help="Weeks before --week to compare with.", min=1)
    ] = 8,
    repeat_days: Annotated[
        float,
        typer.Option(
            "--repeat-days",
            help="An incident within this many days of another on its key is a repeat.",
            min=0,
        ),
    ] = 14.0,
    map_path: MapOption = None,
    incidents: IncidentsOption = None,
    history: HistoryOption = None,
    source: SourceOption = None,
    timezone: TimezoneOption = "UTC",
    as_of: AsOfOption = None,
) -> None:
    """Escalation hotspots of a week: flagged chronic or emerging, with their reasons.

    Keys whose escalated (L2/L3) incidents are far above their own baseline are
    emerging; keys far above a typical key in most baseline weeks are chronic (tests
    safe on small counts; see docs/weekly.md). Flagged keys come first, then all by
    the business impact of their escalated repeats.

    Example: impactlens hotspots --week 2026-W47 --map fixtures/service_map.yaml
    --incidents fixtures/incidents.csv --history fixtures/assignment_history.csv
    """
    from impactlens.engine.hotspots import KEY_FIELDS, HotspotRules, find_hotspots, hotspot_keys

    check_format(format)
    fields = tuple(name.strip() for name in (group_by or "").split(",") if name.strip())
    unknown = [name for name in fields if name not in KEY_FIELDS]
    if unknown:
        raise InputFileError(
            f"cannot group hotspots by {', '.join(map(repr, unknown))}: "
            f"choose from {', '.join(KEY_FIELDS)}"
        )
    rules = HotspotRules(
        baseline_weeks=baseline_weeks,
        repeat_days=repeat_days,
        chronic_weeks=min(6, baseline_weeks),
    )
    data = load_weekly_input(
        map_path=map_path, incidents_path=incidents, history_path=history, source=source,
        week=week, timezone=timezone, as_of=as_of, weeks_before=baseline_weeks,
        lookback_days=repeat_days,
    )  # fmt: skip
    table = data.facts.incidents.assign(key=hotspot_keys(data.facts.incidents, fields))
    warn_if_baseline_before_data(data)
    names = {p.id: p.name for p in data.model.service_map.processes} if data.model else {}
    found = find_hotspots(
        table,
        data.bounds,
        rules=rules,
        history=data.history,
        process_minutes=data.facts.pairs,
        process_names=names,
    )
    shown = found.head(top)
    if format == "table":
        flagged = int((found["flag"] != "").sum())
        out.print(
            f"Week {data.week} ({data.timezone}): {len(found):,} keys with incidents, "
            f"{flagged} flagged as hotspots; baseline {baseline_weeks} weeks before."
        )
        write_table(shown[list(_TABLE_COLUMNS)], format=format, title=f"Hotspots {data.week}")
        for row in shown[shown["problem_record"] != ""].itertuples():
            out.print(f"- {row.problem_record}", soft_wrap=True)
    else:
        write_table(shown, format=format, title=f"Hotspots {data.week}")
