"""What the weekly commands (hotspots, kpis, misprioritised, whatif) read, and how they write.

They read the incidents of the weeks they need from the store, or from a canonical CSV
(``--incidents``, with ``--history``), resolve and score them against ``--map`` when one
is given, and work out each incident's facts once (`engine.facts`). Tables go to stdout
as a Rich table, CSV or JSON.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from impactlens.cli.app import err, out
from impactlens.errors import InputFileError

__all__ = [
    "AsOfOption",
    "FormatOption",
    "HistoryOption",
    "IncidentsOption",
    "MapOption",
    "SourceOption",
    "TimezoneOption",
    "WeekOption",
    "WeeklyInput",
    "check_format",
    "load_weekly_input",
    "warn_if_baseline_before_data",
    "write_table",
]

MapOption = Annotated[
    Path | None,
    typer.Option(
        "--map",
        help="Service map YAML: incidents are resolved to its services and scored. "
        "Without it, nothing is scored and incidents are keyed by CI or category.",
    ),
]
IncidentsOption = Annotated[
    Path | None,
    typer.Option(
        "--incidents",
        help="Canonical incident CSV. Without it, the incidents in the store "
        "(see impactlens ingest) are read.",
    ),
]
HistoryOption = Annotated[
    Path | None,
    typer.Option(
        "--history",
        help="Assignment history CSV (incident_id, at, assignment_group) for --incidents.",
    ),
]
SourceOption = Annotated[
    str | None, typer.Option("--source", help="From the store, only incidents of this source.")
]
WeekOption = Annotated[
    str | None,
    typer.Option(
        "--week", help="ISO week, e.g. 2026-W47. Default: the last full week before --as-of."
    ),
]
TimezoneOption = Annotated[
    str,
    typer.Option("--timezone", help="IANA time zone whose Monday 00:00 starts each week."),
]
AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="ISO 8601 moment that open incidents count up to (naive means UTC). Default: now.",
    ),
]
FormatOption = Annotated[
    str, typer.Option("--format", help="Output: table, csv or json.", show_default=True)
]
OUTPUT_FORMATS = ("table", "csv", "json")


@dataclass(frozen=True)
class WeeklyInput:
    """The incidents (with their facts) and history a weekly command works on."""

    facts: object  # engine.facts.IncidentFacts
    history: pd.DataFrame
    model: object | None  # engine.impact.ImpactModel
    week: str
    bounds: pd.DatetimeIndex
    timezone: str
    as_of: pd.Timestamp
    first_opened: pd.Timestamp | None


def load_weekly_input(
    *,
    map_path: Path | None,
    incidents_path: Path | None,
    history_path: Path | None,
    source: str | None,
    week: str | None,
    timezone: str,
    as_of: str | None,
    weeks_before: int,
    lookback_days: float = 0.0,
) -> WeeklyInput:
    """Read and analyse the incidents of `week` and the `weeks_before` weeks before it.

    `lookback_days` more are read before those weeks (for repeats). Incidents opened
    after `as_of` are left out.
    """
    from impactlens.cli.score import _parse_as_of
    from impactlens.engine.facts import incident_facts
    from impactlens.engine.impact import build_impact_model
    from impactlens.engine.weeks import InvalidWeekError, last_complete_week, week_bounds
    from impactlens.service_map.load import load_service_map

    moment = _parse_as_of(as_of)
    try:
        label = week or last_complete_week(moment, timezone)
        bounds = week_bounds(label, timezone, weeks_before=weeks_before)
    except InvalidWeekError as error:
        raise InputFileError(str(error)) from None
    if bounds[-2] > moment:
        raise InputFileError(f"week {label} starts after --as-of {moment.isoformat()}")
    since = bounds[0] - timedelta(days=lookback_days)
    service_map = load_service_map(map_path) if map_path is not None else None
    model = build_impact_model(service_map) if service_map is not None else None
    if incidents_path is not None:
        if source is not None:
            raise InputFileError("--source selects incidents in the store; not with --incidents")
        incidents, history = _from_csv(incidents_path, history_path, service_map)
    else:
        if history_path is not None:
            raise InputFileError("--history goes with --incidents")
        incidents, history = _from_store(source, since, bounds[-1])
    opened = pd.to_datetime(incidents["opened_at"], utc=True)
    first_opened = opened.min() if len(opened) else None
    resolved = pd.to_datetime(incidents["resolved_at"], utc=True)
    active = (opened < bounds[-1]) & (opened <= moment) & ~(resolved < since)
    incidents = incidents[active.to_numpy()]
    facts = incident_facts(incidents, history, model, as_of=moment)
    return WeeklyInput(
        facts=facts,
        history=history,
        model=model,
        week=label,
        bounds=bounds,
        timezone=timezone,
        as_of=moment,
        first_opened=first_opened,
    )


def warn_if_baseline_before_data(data: WeeklyInput) -> None:
    """Say so when the baseline weeks start before the first incident there is."""
    if data.first_opened is not None and data.first_opened > data.bounds[0]:
        err.print(
            f"note: the baseline starts {data.bounds[0]:%Y-%m-%d}, before the first incident "
            f"({data.first_opened:%Y-%m-%d}); weeks without data count as quiet weeks."
        )


def _from_csv(
    incidents_path: Path, history_path: Path | None, service_map
) -> tuple[pd.DataFrame, pd.DataFrame]:
    from impactlens.ingest.formats import read_batch
    from impactlens.ingest.plausibility import reject_implausible
    from impactlens.ingest.tiers import assign_support_tiers

    read = read_batch(incidents_path, format="csv", history=history_path)
    batch = reject_implausible(read.batch, now=pd.Timestamp.now(tz="UTC"))
    batch, _ = assign_support_tiers(batch, service_map=service_map)
    if len(batch.rejected):
        err.print(
            f"note: {len(batch.rejected):,} rows of {incidents_path} cannot be read and are "
            "left out (impactlens score --out lists them with their reasons)."
        )
    return batch.incidents, batch.history


def _from_store(
    source: str | None, since: pd.Timestamp, until: pd.Timestamp
) -> tuple[pd.DataFrame, pd.DataFrame]:
    from impactlens.cli.ingest import open_store
    from impactlens.store import load_history, load_incidents

    engine = open_store()
    incidents = load_incidents(engine, source=source, since=since, until=until, by="active")
    history = load_history(engine, source=source, since=since, until=until, by="active")
    if incidents.empty:
        raise InputFileError(
            "the store holds no incidents for these weeks: ingest some first "
            "(impactlens ingest FILE --format ...) or pass --incidents"
        )
    return incidents, history


def check_format(format: str) -> None:
    """Refuse an unknown --format before any work is done."""
    if format not in OUTPUT_FORMATS:
        raise InputFileError(f"--format {format!r} is not one of {', '.join(OUTPUT_FORMATS)}")


def write_table(frame: pd.DataFrame, *, format: str, title: str) -> None:
    """`frame` to stdout as a Rich table, CSV or JSON records."""
    check_format(format)
    if format == "csv":
        # Plain decimals (no 1.6e+04), lists (KPI trends) as "a|b|c".
        frame = frame.round(4).apply(_joined_lists)
        out.file.write(frame.to_csv(index=False))
        return
    if format == "json":
        records = [
            {name: _json_value(value) for name, value in row.items()}
            for row in frame.to_dict("records")
        ]
        out.file.write(json.dumps(records, indent=2) + "\n")
        return
    table = Table(title=title)
    for name in frame.columns:
        table.add_column(name.replace("_", " "))
    for row in frame.itertuples(index=False):
        table.add_row(*(_cell(value) for value in row))
    out.print(table)


def _joined_lists(column: pd.Series) -> pd.Series:
    """A column of lists of numbers as ``a|b|c`` text (other columns as they are)."""
    if not column.map(lambda value: isinstance(value, list)).any():
        return column
    return column.map(
        lambda values: "|".join(f"{value:.4f}".rstrip("0").rstrip(".") for value in values)
    )


def _json_value(value):
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value


def _cell(value) -> str:
    value = _json_value(value)
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)
