"""Business minutes: the part of an interval that falls inside a process's weekly hours.

The hours are local wall-clock times in the process's time zone, so a calendar is built
once per call: every window of every local date the inputs touch, turned into a UTC
interval. With the intervals sorted and their open minutes summed cumulatively,
``F(t)`` (business time up to ``t``) is one ``np.searchsorted`` per timestamp, and the
business minutes of ``[opened, ended)`` are ``F(ended) - F(opened)``: no loop per
incident. Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from impactlens.service_map.hours import WeeklyHours

from impactlens.errors import InvalidIncidentsError

__all__ = ["business_minutes", "cumulative_business_minutes"]

_MINUTE = 60 * 1_000_000  # microseconds; the internal unit (exact to 1 us, range +-290,000 y)
_DAY = 24 * 60 * _MINUTE
_NAT = np.iinfo(np.int64).min  # what pandas stores for NaT
# Local dates are at most ~26 hours from UTC dates; two days each side is a safe margin.
_MARGIN_DAYS = 2
_HOUR = 60 * _MINUTE
_MAX_BUCKETS = 1 << 22  # wider buckets beyond this, so absurd date spans stay cheap


def business_minutes(opened_at: Any, ended_at: Any, hours: WeeklyHours) -> np.ndarray:
    """Minutes of each ``[opened_at, ended_at)`` that fall inside `hours`.

    Parameters
    ----------
    opened_at, ended_at : pandas Series, DatetimeIndex or numpy datetime64 array
        Equal lengths. Timezone-aware (any zone) or naive meaning UTC, in any unit
        (s, ms, us, ns); the two may differ in unit and awareness.
    hours : WeeklyHours
        The process's windows, local to ``hours.timezone``.

    Returns
    -------
    numpy.ndarray of float64
        Per row, the real elapsed minutes (seconds count as fractions) during which the
        wall clock in ``hours.timezone`` lies inside a window. 0 where
        ``ended_at <= opened_at``; NaN where either is missing (NaT).

    Notes
    -----
    On daylight-saving changes each window's local start and end are placed in UTC
    thus: a wall time that does not exist (spring forward) moves forward to the first
    time that does; an ambiguous start (fall back) takes the earlier occurrence and an
    ambiguous end the later one. So a window that begins or ends inside the repeated
    hour covers all of it, a small approximation in the process's favour of being open.
    Minutes are always real elapsed minutes: a 24x7 process loses 60 minutes fewer on
    a spring-forward night than the wall clock suggests.

    Examples
    --------
    >>> from impactlens.service_map.hours import weekly_hours
    >>> office = weekly_hours("mon-fri 09:00-17:00", "UTC")
    >>> opened = pd.to_datetime(["2026-11-20 16:00", "2026-11-21 10:00"])  # Fri, Sat
    >>> ended = pd.to_datetime(["2026-11-23 10:00", "2026-11-21 12:30"])   # Mon, Sat
    >>> business_minutes(opened, ended, office)
    array([120.,   0.])
    """
    opened = _utc_microseconds(opened_at)
    ended = _utc_microseconds(ended_at)
    if opened.shape != ended.shape:
        raise InvalidIncidentsError(
            f"opened_at and ended_at differ in length ({opened.size} and {ended.size})"
        )
    if opened.size == 0:
        return np.zeros(0)
    known = (opened != _NAT) & (ended != _NAT)
    if not known.all():
        if not known.any():
            return np.full(opened.shape, np.nan)
        # Stand-ins inside the calendar keep the look-ups valid; NaN is restored below.
        stand_in = opened[known][0]
        opened, ended = np.where(known, opened, stand_in), np.where(known, ended, stand_in)
    if hours.always_open:
        elapsed = ended - opened
    else:
        lower = min(opened.min(), ended.min())
        upper = max(opened.max(), ended.max())
        calendar = _Calendar.build(hours, lower, upper)
        elapsed = calendar.cumulative(ended) - calendar.cumulative(opened)
    result: npt.NDArray[np.float64] = np.maximum(elapsed, 0) / _MINUTE
    if not known.all():
        result[~known] = np.nan
    return result


def cumulative_business_minutes(times: Any, hours: WeeklyHours) -> np.ndarray:
    """Business minutes from the earliest of `times` up to each of `times`.

    Differences between two results of one call are business minutes between those two
    times, so one call can serve many intervals (for example, a union of outages).

    Parameters
    ----------
    times : pandas Series, DatetimeIndex or numpy datetime64 array
        Timezone-aware or naive meaning UTC, any unit.
    hours : WeeklyHours

    Returns
    -------
    numpy.ndarray of float64
        Non-decreasing in time; 0 at the earliest time; NaN where a time is NaT.

    Examples
    --------
    >>> from impactlens.service_map.hours import weekly_hours
    >>> office = weekly_hours("mon-fri 09:00-17:00")
    >>> times = pd.to_datetime(["2026-11-20 16:00", "2026-11-20 18:00", "2026-11-23 10:00"])
    >>> cumulative_business_minutes(times, office)
    array([  0.,  60., 120.])
    """
    stamps = _utc_microseconds(times)
    known = stamps != _NAT
    result = np.full(stamps.shape, np.nan)
    if not known.any():
        return result
    lower, upper = stamps[known].min(), stamps[known].max()
    if hours.always_open:
        result[known] = (stamps[known] - lower) / _MINUTE
        return result
    calendar = _Calendar.build(hours, lower, upper)
    result[known] = (
        calendar.cumulative(stamps[known]) - calendar.cumulative(np.array([lower]))
    ) / _MINUTE
    return result


class _Calendar:
    """Disjoint sorted open intervals in UTC microseconds, ready for F(t) look-ups.

    With ``k`` the last interval starting at or before ``t``,
    ``F(t) = min(t + offset[k], done[k])`` where ``offset[k] = open time before interval k
    - its start`` and ``done[k] = open time up to its end``. Row 0 is an empty sentinel
    interval at or before every queried time, so ``k`` is never -1.

    Finding ``k`` by ``np.searchsorted`` over a million unsorted times costs ~40 ms, so a
    bucket table does it instead: ``first_row[b]`` is ``k`` at the start of bucket ``b``
    (fixed width, an hour by default), and at most ``steps`` more intervals start inside any
    bucket, so ``k`` is ``first_row[b]`` plus ``steps`` vectorised comparisons (usually 1).
    """

    def __init__(self, starts: np.ndarray, ends: np.ndarray, lower: int, upper: int) -> None:
        lengths = ends - starts
        done = np.cumsum(lengths)
        origin = min(lower, int(starts[0])) if starts.size else lower
        self.origin = origin
        self.starts = np.concatenate([[origin], starts])
        self.offset = np.concatenate([[-origin], done - lengths - starts])
        self.done = np.concatenate([[0], done])
        span = max(upper - origin, 0)
        self.bucket = _HOUR * max(1, -(-span // (_HOUR * _MAX_BUCKETS)))
        bucket_starts = origin + np.arange(span // self.bucket + 2, dtype=np.int64) * self.bucket
        self.first_row = np.searchsorted(self.starts, bucket_starts, side="right") - 1
        self.steps = int(np.diff(self.first_row).max(initial=0))
        # Padding so that first_row + step never runs past the end.
        self.padded_starts = np.concatenate(
            [self.starts, np.full(self.steps, np.iinfo(np.int64).max)]
        )

    @classmethod
    def build(cls, hours: WeeklyHours, lower: int, upper: int) -> _Calendar:
        """The calendar of `hours` covering every time in ``[lower, upper]``."""
        first_day = int(lower // _DAY) - _MARGIN_DAYS
        last_day = int(upper // _DAY) + _MARGIN_DAYS
        days = np.arange(first_day, last_day + 1, dtype=np.int64)
        weekdays = (days + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
        windows = np.array(hours.windows, dtype=np.int64).reshape(-1, 3)
        day_rows, window_rows = np.nonzero(weekdays[:, None] == windows[None, :, 0])
        midnight = days[day_rows] * _DAY
        wall_starts = midnight + windows[window_rows, 1] * _MINUTE
        wall_ends = midnight + windows[window_rows, 2] * _MINUTE
        starts, ends = _union(*_to_utc(wall_starts, wall_ends, hours.timezone))
        return cls(starts, ends, int(lower), int(upper))

    def cumulative(self, times: np.ndarray) -> np.ndarray:
        """F: open microseconds from the origin up to each time (all in [lower, upper])."""
        row = self.first_row[(times - self.origin) // self.bucket]
        if self.steps:
            base = row.copy()
            for step in range(1, self.steps + 1):
                row += self.padded_starts[base + step] <= times
        open_time: npt.NDArray[np.int64] = np.minimum(times + self.offset[row], self.done[row])
        return open_time


def _to_utc(
    wall_starts: np.ndarray, wall_ends: np.ndarray, timezone: str
) -> tuple[np.ndarray, np.ndarray]:
    """Local wall times (as if UTC microseconds) to real UTC microseconds.

    Nonexistent times shift forward; ambiguous starts take the earlier occurrence and
    ambiguous ends the later one. Localizing everything both ways and taking the minimum
    or maximum does this without relying on which side a zone calls daylight time.
    """
    if timezone == "UTC":
        return wall_starts, wall_ends
    wall = pd.DatetimeIndex(np.concatenate([wall_starts, wall_ends]).view("datetime64[us]"))
    both = [
        wall.tz_localize(timezone, ambiguous=np.full(wall.size, flag), nonexistent="shift_forward")
        .as_unit("us")
        .asi8
        for flag in (True, False)
    ]
    earlier, later = np.minimum(*both), np.maximum(*both)
    return earlier[: wall_starts.size], later[wall_starts.size :]


def _union(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted disjoint intervals covering the same time; empty ones dropped.

    Windows touching at midnight, or overlapping after a fall-back, merge here.
    """
    keep = starts < ends
    starts, ends = starts[keep], ends[keep]
    if starts.size == 0:
        return starts, ends
    order = np.argsort(starts, kind="stable")
    starts, ends = starts[order], ends[order]
    reach = np.maximum.accumulate(ends)
    first = np.flatnonzero(np.concatenate([[True], starts[1:] > reach[:-1]]))
    return starts[first], np.maximum.reduceat(ends, first)


def _utc_microseconds(values: Any) -> np.ndarray:
    """Int64 microseconds since the epoch in UTC (NaT stays pandas' NaT value)."""
    index = values if isinstance(values, pd.DatetimeIndex) else pd.DatetimeIndex(values)
    # asi8 of a timezone-aware index is already UTC; a naive one is taken as UTC.
    return np.asarray(index.as_unit("us").asi8, dtype=np.int64)
