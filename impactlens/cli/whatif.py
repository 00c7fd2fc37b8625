"""`impactlens whatif`: a week re-scored with a changed map, or without a hotspot's incidents."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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
from impactlens.errors import InputFileError


@app.command("whatif")
def whatif(
    map_path: Annotated[
        Path | None,
        typer.Option("--map", help="The service map as it is (default: IMPACTLENS_SERVICE_MAP)."),
    ] = None,
    week: WeekOption = None,
    new_map: Annotated[
        Path | None,
        typer.Option("--new-map", help="A changed service map to re-score the week with."),
    ] = None,
    without_hotspot: Annotated[
        str | None,
        typer.Option(
            "--without-hotspot",
            help="A hotspot key (as impactlens hotspots shows it): re-score the week "
            "without its incidents.",
        ),
    ] = None,
    group_by: Annotated[
        str | None,
        typer.Option("--group-by", help="The key --without-hotspot is in (as for hotspots)."),
    ] = None,
    format: FormatOption = "table",
    incidents: IncidentsOption = None,
    history: HistoryOption = None,
    source: SourceOption = None,
    timezone: TimezoneOption = None,
    as_of: AsOfOption = None,
) -> None:
    """What a week's business impact would have been with a changed map or a fixed hotspot.

    Give exactly one of --new-map and --without-hotspot. The answer is per process:
    business minutes lost and value at risk before and after (from the process
    timelines), and what the change saves.

    Example: impactlens whatif --week 2026-W47 --map fixtures/service_map.yaml
    --without-hotspot inventory-sync --incidents fixtures/incidents.csv
    --history fixtures/assignment_history.csv
    """
    from impactlens.engine.impact import build_impact_model
    from impactlens.engine.whatif import savings_sentence, whatif_map, whatif_without
    from impactlens.service_map.load import load_service_map

    check_format(format)
    if (new_map is None) == (without_hotspot is None):
        raise InputFileError("give exactly one of --new-map and --without-hotspot")
    review, model = weekly_review(
        map_path=map_path, incidents=incidents, history=history, source=source, week=week,
        as_of=as_of, map_required=True, timezone=timezone, group_by=group_by,
    )  # fmt: skip
    assert model is not None  # map_required
    if new_map is not None:
        answer = whatif_map(review, build_impact_model(load_service_map(new_map)))
        change = f"the map {new_map}"
    else:
        assert without_hotspot is not None  # exactly one of the two was given
        answer = whatif_without(review, model, key=without_hotspot)
        change = (
            f"fixing hotspot {without_hotspot} ({answer.incidents} incidents active in the week)"
        )
    sentence = savings_sentence(answer.table, change)
    if format == "table":
        out.print(f"Week {review.week} ({review.window.timezone}): {sentence}.")
    write_table(
        answer.table,
        format=format,
        title=f"What-if {review.week}",
        currency=review.settings.currency,
    )
