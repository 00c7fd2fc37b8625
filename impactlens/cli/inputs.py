"""The options commands share, and how they become library inputs.

Commands parse options; these helpers turn them into what the library takes (settings,
the store, the service map's impact model, the moment `as_of`, incidents read from a
CSV) and call `impactlens.analysis`. Settings come from `impactlens.settings`: an option
left out falls back to ``IMPACTLENS_*`` and ``impactlens.toml``, then the defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import pandas as pd
import typer

from impactlens.cli.app import err
from impactlens.cli.output import print_notes
from impactlens.errors import InputFileError

if TYPE_CHECKING:  # the library is imported when a command runs: --help stays quick
    from impactlens.engine.impact import ImpactModel
    from impactlens.engine.weekly import WeeklyReview
    from impactlens.settings import Settings
    from impactlens.store import Store

__all__ = [
    "AsOfOption",
    "FormatOption",
    "HistoryOption",
    "IncidentsOption",
    "MapOption",
    "SourceOption",
    "TimezoneOption",
    "WeekOption",
    "load_model",
    "open_store",
    "parse_as_of",
    "weekly_review",
]

MapOption = Annotated[
    Path | None,
    typer.Option(
        "--map",
        help="Service map YAML: incidents are resolved to its services and scored "
        "(default: IMPACTLENS_SERVICE_MAP). Without one, nothing is scored and "
        "incidents are keyed by CI or category.",
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
    str | None,
    typer.Option(
        "--timezone",
        help="IANA time zone whose Monday 00:00 starts each week (default: "
        "IMPACTLENS_TIMEZONE, else UTC).",
    ),
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


def parse_as_of(text: str | None) -> pd.Timestamp:
    """``--as-of`` as a UTC moment; now (to the second) when not given."""
    from pandas.api.typing import NaTType

    from impactlens.moments import utc_moment

    if text is None:
        return pd.Timestamp.now(tz="UTC").floor("s")
    try:
        moment: pd.Timestamp | NaTType = utc_moment(text)  # NaT for text such as "nat"
    except ValueError:
        moment = pd.NaT
    if isinstance(moment, NaTType):
        raise InputFileError(
            f"--as-of {text!r} is not an ISO 8601 moment (for example 2026-11-23T00:00:00Z)"
        )
    return moment


def open_store(settings: Settings) -> Store:
    """The store of the settings; says so on stderr when it had to be created."""
    from impactlens.store import Store

    store = Store.open(settings.database_url)
    if store.created:
        err.print(f"Created the incident store at {store.description()}.")
    return store


def load_model(
    map_path: Path | None, settings: Settings, *, required: bool = False
) -> ImpactModel | None:
    """The impact model of ``--map`` (else the settings' service map); None without one."""
    from impactlens.engine.impact import build_impact_model
    from impactlens.service_map.load import load_service_map

    path = map_path or settings.service_map
    if path is None:
        if required:
            raise InputFileError("give a service map: --map MAP (or IMPACTLENS_SERVICE_MAP)")
        return None
    return build_impact_model(load_service_map(path))


def weekly_review(
    *,
    map_path: Path | None,
    incidents: Path | None,
    history: Path | None,
    source: str | None,
    week: str | None,
    as_of: str | None,
    map_required: bool = False,
    month: str | None = None,
    **overrides: Any,
) -> tuple[WeeklyReview, ImpactModel | None]:
    """The review the weekly commands print, from their options; its notes on stderr.

    `overrides` are settings given as options (``timezone=...``; None means not given).
    """
    from impactlens.analysis import read_csv, review
    from impactlens.settings import get_settings

    settings = get_settings(**overrides)
    review_settings = settings.review_settings()
    moment = parse_as_of(as_of)
    model = load_model(map_path, settings, required=map_required)
    if incidents is not None:
        if source is not None:
            raise InputFileError("--source selects incidents in the store; not with --incidents")
        read = read_csv(incidents, history=history)
        if len(read.rejected):
            err.print(
                f"note: {len(read.rejected):,} rows of {incidents} cannot be read and are "
                "left out (impactlens score --out lists them with their reasons)."
            )
        found = review(
            model,
            settings=review_settings,
            as_of=moment,
            week=week,
            month=month,
            incidents=read,
        )
    else:
        if history is not None:
            raise InputFileError("--history goes with --incidents")
        with open_store(settings) as store:
            found = review(
                model,
                settings=review_settings,
                as_of=moment,
                week=week,
                month=month,
                store=store,
                source=source,
            )
    print_notes(found.notes)
    return found, model
