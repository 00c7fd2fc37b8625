"""What several routers share: the moment a request is answered as of, the map to store
incidents with."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import pandas as pd
from fastapi import Query
from impactlens.api.problems import Problem
from impactlens.api.state import ServiceState
from impactlens.service_map.model import ServiceMap
from pydantic import BeforeValidator

from impactlens.moments import utc_moment

__all__ = [
    "EARLIEST",
    "LATEST",
    "AsOf",
    "Moment",
    "WeekQuery",
    "as_of_moment",
    "query_moment",
    "service_map_of",
]

# The moments the service reckons in. Outside them calendars and weeks overflow (year 1,
# year 9999), and no incident happened there: such a moment is a mistake in the request.
EARLIEST = pd.Timestamp("1970-01-01", tz="UTC")
LATEST = pd.Timestamp("2200-01-01", tz="UTC")


def _iso_8601(value: object) -> object:
    """A moment must be written as ISO 8601: a bare number (which pydantic would read as
    seconds since 1970) is refused, as the OpenAPI ``date-time`` format says."""
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return value
        raise ValueError("write the moment as ISO 8601 (2026-11-23T09:00:00Z), not a number")
    return value


Moment = Annotated[datetime, BeforeValidator(_iso_8601)]
AsOf = Annotated[
    Moment | None,
    Query(
        description="The moment open incidents count up to (ISO 8601). Default: now, to "
        "the minute (so answers of the same minute are the same, and cached)."
    ),
]
WeekQuery = Annotated[
    str | None,
    Query(
        pattern=r"^\d{4}-?W\d{2}$",
        description="ISO week, e.g. 2026-W47. Default: the last full week before as_of.",
        examples=["2026-W47"],
    ),
]


def as_of_moment(as_of: datetime | None) -> pd.Timestamp:
    """`as_of` in UTC; now, floored to the minute, when not given."""
    if as_of is None:
        return pd.Timestamp.now(tz="UTC").floor("min")
    return query_moment(as_of, name="as_of")


def query_moment(value: datetime, *, name: str) -> pd.Timestamp:
    """The query parameter `name`'s moment in UTC (naive: UTC); a 422 outside the years
    1970 to 2199."""
    moment = utc_moment(value)
    if not EARLIEST <= moment < LATEST:
        message = f"{value.isoformat()} is out of range: give a moment from 1970 to 2199"
        raise Problem(
            422, f"the request is invalid: query.{name}: {message}",
            errors=[{"place": f"query.{name}", "message": message}],
        )  # fmt: skip
    return moment


def service_map_of(state: ServiceState) -> ServiceMap | None:
    """The service map incidents are stored with (for the ingest report's figures)."""
    model = state.current_map.model
    return model.service_map if model is not None else None
