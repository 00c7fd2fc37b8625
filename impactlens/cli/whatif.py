"""`impactlens whatif`: a week re-scored with a changed map, or without a hotspot's incidents."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Annotated

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
from impactlens.errors import InputFileError


@app.command("whatif")
def whatif(
    map_path: Annotated[Path, typer.Option("--map", help="The service map as it is.")],
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
    timezone: TimezoneOption = "UTC",
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
    from impactlens.engine.hotspots import hotspot_keys
    from impactlens.engine.impact import build_impact_model
    from impactlens.engine.whatif import savings_sentence, whatif_map, whatif_without
    from impactlens.service_map.load import load_service_map

    check_format(format)
    if (new_map is None) == (without_hotspot is None):
        raise InputFileError("give exactly one of --new-map and --without-hotspot")
    data = load_weekly_input(
        map_path=map_path, incidents_path=incidents, history_path=history, source=source,
        week=week, timezone=timezone, as_of=as_of, weeks_before=0,
    )  # fmt: skip
    table = data.facts.incidents
    if new_map is not None:
        after = build_impact_model(load_service_map(new_map))
        diff = whatif_map(table, data.model, after, as_of=data.as_of, bounds=data.bounds)
        change = f"the map {new_map}"
    else:
        fields = tuple(name.strip() for name in (group_by or "").split(",") if name.strip())
        try:
            keys = hotspot_keys(table, fields)
        except ValueError as error:
            raise InputFileError(str(error)) from None
        removed = (keys == without_hotspot).to_numpy()
        if not removed.any():
            close = difflib.get_close_matches(without_hotspot, keys.unique().tolist(), n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise InputFileError(
                f"no incident of week {data.week} has the key {without_hotspot!r}{hint}"
            )
        diff = whatif_without(table, data.model, removed, as_of=data.as_of, bounds=data.bounds)
        change = (
            f"fixing hotspot {without_hotspot} ({int(removed.sum())} incidents active in the week)"
        )
    sentence = savings_sentence(diff, change)
    if format == "table":
        out.print(f"Week {data.week} ({data.timezone}): {sentence}.")
    write_table(diff, format=format, title=f"What-if {data.week}")
