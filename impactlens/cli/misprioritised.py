"""`impactlens misprioritised`: incidents whose ITSM priority their business impact contradicts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from impactlens.cli.app import app, out
from impactlens.cli.inputs import (
    AsOfOption,
    FormatOption,
    HistoryOption,
    IncidentsOption,
    SourceOption,
    TimezoneOption,
    WeekOption,
    weekly_review,
)
from impactlens.cli.output import check_format, write_table

_TABLE_COLUMNS = ("incident_id", "service_id", "priority", "suggested_priority", "direction")


@app.command("misprioritised")
def misprioritised(
    map_path: Annotated[
        Path | None,
        typer.Option("--map", help="Service map YAML (default: IMPACTLENS_SERVICE_MAP)."),
    ] = None,
    week: WeekOption = None,
    min_gap: Annotated[
        int | None,
        typer.Option(
            "--min-gap",
            help="Flag a priority this many levels below the one its impact suggests (default 2).",
            min=1,
        ),
    ] = None,
    top: Annotated[
        int,
        typer.Option(
            "--top",
            help="Show this many understated incidents (most understated first); every "
            "overstated one is shown.",
            min=1,
        ),
    ] = 20,
    format: FormatOption = "table",
    incidents: IncidentsOption = None,
    history: HistoryOption = None,
    source: SourceOption = None,
    timezone: TimezoneOption = None,
    as_of: AsOfOption = None,
) -> None:
    """Incidents of a week whose priority understates (or overstates) their business impact.

    Understated: a priority at least --min-gap levels less urgent than the one the most
    critical process it hurt suggests (e.g. a P4 on a service feeding a criticality-1
    process during its hours), with evidence that the business was hit: escalated to L3,
    reopened, or opened in a burst of incidents on that process. Overstated: a P1 on a
    service that reaches no business process. Most understated first (largest gap, then
    largest impact at the suggested priority); see docs/weekly.md for the rule.

    Example: impactlens misprioritised --week 2026-W45 --map fixtures/service_map.yaml
    --incidents fixtures/incidents.csv
    """
    check_format(format)
    review, _ = weekly_review(
        map_path=map_path, incidents=incidents, history=history, source=source, week=week,
        as_of=as_of, map_required=True, timezone=timezone, min_gap=min_gap,
    )  # fmt: skip
    found = review.misprioritised
    understated = found["direction"] == "understated"
    shown = pd.concat([found[understated].head(top), found[~understated]], ignore_index=True)
    title = f"Mis-prioritised {review.week}"
    if format != "table":
        write_table(shown, format=format, title=title, currency=review.settings.currency)
        return
    out.print(
        f"Week {review.week} ({review.window.timezone}): {len(review.week_incidents):,} "
        f"incidents opened; {int(understated.sum())} priorities understate their business "
        f"impact (the {min(top, int(understated.sum()))} most understated shown), "
        f"{int((~understated).sum())} overstate it."
    )
    # The figures in a narrow table, the reasons below it: fits an 80-column terminal.
    table = shown[list(_TABLE_COLUMNS)].rename(columns={"suggested_priority": "suggested"})
    write_table(table, format=format, title=title, currency=review.settings.currency)
    for row in shown.itertuples():
        out.print(f"{row.incident_id}: {row.reason}", markup=False)
