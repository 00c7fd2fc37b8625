"""`impactlens misprioritised`: incidents whose ITSM priority their business impact contradicts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from impactlens.cli.app import app, out
from impactlens.cli.weekly_input import (
    AsOfOption,
    FormatOption,
    HistoryOption,
    IncidentsOption,
    SourceOption,
    TimezoneOption,
    WeekOption,
    check_format,
    load_weekly_input,
    write_table,
)

_TABLE_COLUMNS = ("incident_id", "service_id", "priority", "suggested_priority", "direction",
                  "reason")  # fmt: skip


@app.command("misprioritised")
def misprioritised(
    map_path: Annotated[Path, typer.Option("--map", help="Service map YAML.")],
    week: WeekOption = None,
    min_gap: Annotated[
        int,
        typer.Option(
            "--min-gap",
            help="Flag a priority this many levels below the one its impact suggests.",
            min=1,
        ),
    ] = 2,
    top: Annotated[
        int,
        typer.Option(
            "--top",
            help="Show this many understated incidents (most understated first); every overstated one is shown.",
            min=1,
        ),
    ] = 20,
    format: FormatOption = "table",
    incidents: IncidentsOption = None,
    history: HistoryOption = None,
    source: SourceOption = None,
    timezone: TimezoneOption = "UTC",
    as_of: AsOfOption = None,
) -> None:
    """Incidents of a week whose priority understates (or overstates) their business impact.

    Understated: a priority at least --min-gap levels less urgent than the one the most
    critical process it hurt suggests (e.g. a P4 on a service feeding a criticality-1
    process during its hours). Overstated: a P1 on a service that reaches no business
    process. Most understated first (largest gap, then most business minutes); see
    docs/weekly.md for the rule.

    Example: impactlens misprioritised --week 2026-W45 --map fixtures/service_map.yaml
    --incidents fixtures/incidents.csv
    """
    from impactlens.engine.misprioritised import misprioritised as find_misprioritised
    from impactlens.engine.weeks import week_of

    check_format(format)
    data = load_weekly_input(
        map_path=map_path, incidents_path=incidents, history_path=history, source=source,
        week=week, timezone=timezone, as_of=as_of, weeks_before=0,
    )  # fmt: skip
    table = data.facts.incidents
    opened_this_week = table[week_of(table["opened_at"], data.bounds) == 0]
    found = find_misprioritised(opened_this_week, data.model, as_of=data.as_of, min_gap=min_gap)
    understated = found["direction"] == "understated"
    shown = pd.concat([found[understated].head(top), found[~understated]], ignore_index=True)
    if format == "table":
        out.print(
            f"Week {data.week} ({data.timezone}): {len(opened_this_week):,} incidents opened; "
            f"{int(understated.sum())} priorities understate their business impact "
            f"(the {min(top, int(understated.sum()))} most understated shown), "
            f"{int((~understated).sum())} overstate it."
        )
        write_table(
            shown[list(_TABLE_COLUMNS)], format=format, title=f"Mis-prioritised {data.week}"
        )
    else:
        write_table(shown, format=format, title=f"Mis-prioritised {data.week}")
