"""ISO weeks and calendar months in a time zone: the periods every figure is counted in.

A week runs from Monday 00:00 to the next Monday 00:00 on the wall clock of the report's
time zone, so an incident opened on Sunday 23:30 in Berlin (22:30 UTC) belongs to that
week, and one opened at 23:30 UTC on the same Sunday belongs to the next. Incidents are
counted in the week they were opened. A month (the monthly edition) runs from the 1st
00:00 to the next 1st 00:00 on the same wall clock. Pure: the period is a parameter,
never "now".
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import numpy as np
import pandas as pd

from impactlens.errors import InvalidWeekError
from impactlens.moments import time_zone

__all__ = [
    "InvalidWeekError",
    "last_complete_month",
    "last_complete_week",
    "month_bounds",
    "parse_month",
    "parse_week",
    "week_bounds",
    "week_label",
    "week_of",
]

_WEEK = re.compile(r"^(\d{4})-?W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_week(label: str) -> date:
    """The Monday of ISO week `label` (``2026-W47`` or ``2026W47``).

    >>> parse_week("2026-W47")
    datetime.date(2026, 11, 16)
    """
    found = _WEEK.match(label.strip())
    if not found:
        raise InvalidWeekError(f"week {label!r} is not an ISO week such as 2026-W47")
    year, week = int(found[1]), int(found[2])
    try:
        return date.fromisocalendar(year, week, 1)
    except ValueError:
        raise InvalidWeekError(
            f"week {label!r} does not exist: {year} has no week {week}"
        ) from None


def week_label(monday: date) -> str:
    """``YYYY-Www`` of the ISO week containing `monday`.

    >>> week_label(date(2026, 11, 16)), week_label(date(2027, 1, 1))
    ('2026-W47', '2026-W53')
    """
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def week_bounds(label: str, timezone: str = "UTC", *, weeks_before: int = 0) -> pd.DatetimeIndex:
    """UTC boundaries of the `weeks_before` weeks before week `label`, and of `label` itself.

    ``weeks_before + 2`` moments: week ``i`` is ``[bounds[i], bounds[i + 1])``, the last
    one is `label`. Each is Monday 00:00 in `timezone` (a week is 167 or 169 hours long
    when the clocks change inside it).

    >>> week_bounds("2026-W44", "Europe/Berlin", weeks_before=1).strftime("%m-%d %H:%M")
    Index(['10-18 22:00', '10-25 23:00', '11-01 23:00'], dtype='str')
    """
    zone = time_zone(timezone)
    if weeks_before < 0:
        raise InvalidWeekError(f"weeks_before must be 0 or more, not {weeks_before}")
    monday = parse_week(label)
    mondays = [monday + timedelta(weeks=offset) for offset in range(-weeks_before, 2)]
    local = pd.DatetimeIndex([pd.Timestamp(day) for day in mondays])
    # Midnight can be skipped by a DST change in a few zones: the week starts when it exists.
    return local.tz_localize(zone, nonexistent="shift_forward", ambiguous=False).tz_convert("UTC")


def week_of(moments: pd.Series, bounds: pd.DatetimeIndex) -> np.ndarray:
    """Index of the week of `bounds` that holds each moment; -1 outside them or missing.

    >>> bounds = week_bounds("2026-W47", "UTC", weeks_before=1)
    >>> week_of(pd.Series(pd.to_datetime(["2026-11-15 23:59", "2026-11-16 00:00",
    ...     "2026-11-23 00:00"], utc=True)), bounds)
    array([ 0,  1, -1])
    """
    stamps = pd.to_datetime(moments, utc=True)
    values = stamps.to_numpy(dtype="datetime64[ns]")
    edges = bounds.tz_convert("UTC").tz_localize(None).to_numpy(dtype="datetime64[ns]")
    index = np.searchsorted(edges, values, side="right") - 1
    outside = (index < 0) | (index >= len(edges) - 1) | np.isnat(values)
    return np.where(outside, -1, index)


def last_complete_week(as_of: pd.Timestamp, timezone: str = "UTC") -> str:
    """The last ISO week that ended by `as_of` in `timezone` (the Monday-morning report's week).

    >>> last_complete_week(pd.Timestamp("2026-11-23T00:00:00Z"))
    '2026-W47'
    >>> last_complete_week(pd.Timestamp("2026-11-22T23:30:00Z"), "Europe/Berlin")
    '2026-W47'
    """
    moment = as_of.tz_localize("UTC") if as_of.tzinfo is None else as_of  # naive means UTC
    local = moment.tz_convert(time_zone(timezone))
    this_monday = local.date() - timedelta(days=local.weekday())
    return week_label(this_monday - timedelta(weeks=1))


def parse_month(label: str) -> date:
    """The first day of calendar month `label` (``2026-11``).

    >>> parse_month("2026-11")
    datetime.date(2026, 11, 1)
    """
    found = _MONTH.match(label.strip())
    if not found or not 1 <= int(found[2]) <= 12:
        raise InvalidWeekError(f"month {label!r} is not a calendar month such as 2026-11")
    return date(int(found[1]), int(found[2]), 1)


def month_bounds(label: str, timezone: str = "UTC", *, months_before: int = 0) -> pd.DatetimeIndex:
    """UTC boundaries of the `months_before` months before month `label`, and of `label`.

    ``months_before + 2`` moments, each the 1st 00:00 in `timezone`.

    >>> month_bounds("2026-11", "Europe/Berlin", months_before=1).strftime("%m-%d %H:%M")
    Index(['09-30 22:00', '10-31 23:00', '11-30 23:00'], dtype='str')
    """
    zone = time_zone(timezone)
    if months_before < 0:
        raise InvalidWeekError(f"months_before must be 0 or more, not {months_before}")
    first = pd.Timestamp(parse_month(label))
    local = pd.DatetimeIndex(
        [first + pd.DateOffset(months=offset) for offset in range(-months_before, 2)]
    )
    return local.tz_localize(zone, nonexistent="shift_forward", ambiguous=False).tz_convert("UTC")


def last_complete_month(as_of: pd.Timestamp, timezone: str = "UTC") -> str:
    """The last calendar month that ended by `as_of` in `timezone`.

    >>> last_complete_month(pd.Timestamp("2026-12-01T07:00:00Z"))
    '2026-11'
    """
    moment = as_of.tz_localize("UTC") if as_of.tzinfo is None else as_of
    local = moment.tz_convert(time_zone(timezone))
    previous = (local.replace(day=1) - pd.Timedelta(days=1)).date()
    return f"{previous.year}-{previous.month:02d}"
