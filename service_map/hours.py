"""A business process's weekly hours: ``24x7`` or ranges such as ``mon-fri 09:00-17:00``.

Grammar (case-insensitive, whitespace-tolerant)::

    hours  := "24x7" | range ("," range)*
    range  := days " " time "-" time
    days   := day | day "-" day | "daily"          # day ranges may wrap: fri-mon
    day    := mon | tue | wed | thu | fri | sat | sun
    time   := HH:MM, 00:00 to 24:00 (24:00 only as an end)

An end earlier than the start means overnight: ``mon-fri 22:00-06:00`` covers 22:00-24:00 on
each listed day and 00:00-06:00 on the day after. A start equal to its end is an error (for a
whole day write ``00:00-24:00``). Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from impactlens.errors import ImpactlensError, excerpt
from impactlens.moments import time_zone

__all__ = ["InvalidHoursError", "WeeklyHours", "parse_hours", "weekly_hours"]

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY = 24 * 60
_ALWAYS = tuple((day, 0, MINUTES_PER_DAY) for day in range(7))
_DAY_HINT = "use mon, tue, wed, thu, fri, sat, sun or daily"
_RANGE_HINT = "expected '<days> <HH:MM>-<HH:MM>', e.g. 'mon-fri 09:00-17:00', or '24x7'"
_TIME = re.compile(r"(\d{1,2}):(\d{2})")

Window = tuple[int, int, int]


class InvalidHoursError(ImpactlensError):
    """Hours text that cannot be understood; the message says which part."""


@dataclass(frozen=True)
class WeeklyHours:
    """A process's opening hours in its own time zone.

    ``windows`` holds ``(weekday, start_minute, end_minute)`` in local wall-clock time,
    weekday 0 = Monday ... 6 = Sunday, ``0 <= start < end <= 1440``, sorted, with
    overlapping or touching windows of one day merged. Build it with `weekly_hours`.
    """

    spec: str
    timezone: str
    windows: tuple[Window, ...]

    @property
    def always_open(self) -> bool:
        """True when the windows cover every minute of the week."""
        return self.windows == _ALWAYS


def parse_hours(spec: str) -> tuple[Window, ...]:
    """The weekly windows that an hours text describes.

    Parameters
    ----------
    spec : str
        ``24x7``, or one or more ``<days> <HH:MM>-<HH:MM>`` ranges joined by ``,``.

    Returns
    -------
    tuple of (weekday, start_minute, end_minute)
        Local wall-clock windows, weekday 0 = Monday, sorted, merged per day. Overnight
        ranges are split at midnight.

    Raises
    ------
    InvalidHoursError
        When any part of the text is malformed; the message quotes that part.

    Examples
    --------
    >>> parse_hours("mon-fri 09:00-17:00, sat 10:00-14:00")[-2:]
    ((4, 540, 1020), (5, 600, 840))
    >>> parse_hours("sun 22:00-02:00")
    ((0, 0, 120), (6, 1320, 1440))
    """
    if not isinstance(spec, str):
        raise InvalidHoursError(f"hours must be text, not {type(spec).__name__}")
    if not spec.strip():
        raise InvalidHoursError("empty hours (use '24x7' or ranges such as 'mon-fri 09:00-17:00')")
    if re.sub(r"\s+", "", spec).lower() == "24x7":
        return _ALWAYS
    parts = spec.split(",")
    windows: list[Window] = []
    for number, part in enumerate(parts, start=1):
        if not part.strip():
            raise InvalidHoursError(
                f"{excerpt(spec.strip())}: range {number} of {len(parts)} is empty "
                "(a stray ',' before, after or between ranges)"
            )
        windows.extend(_parse_range(part.strip()))
    return _merge(windows)


def weekly_hours(spec: str, timezone: str = "UTC") -> WeeklyHours:
    """Parse hours text and check its IANA time zone.

    Parameters
    ----------
    spec : str
        Hours text, see `parse_hours`.
    timezone : str, default "UTC"
        IANA time zone name (``Europe/London``); the hours are local wall-clock times there.

    Returns
    -------
    WeeklyHours

    Raises
    ------
    InvalidHoursError
        For malformed hours (checked first).
    InvalidTimezoneError
        For a time zone that is not an IANA name (see `impactlens.moments.time_zone`).

    Examples
    --------
    >>> hours = weekly_hours("Mon-Fri 09:00-17:00", "America/New_York")
    >>> hours.windows[0], hours.always_open
    ((0, 540, 1020), False)
    >>> weekly_hours("24x7").always_open
    True
    """
    windows = parse_hours(spec)
    time_zone(timezone)
    return WeeklyHours(spec=spec, timezone=timezone, windows=windows)


def _parse_range(part: str) -> list[Window]:
    # Tolerate "mon - fri  09:00 - 17:00": spaces around '-' carry no meaning. Split and
    # strip rather than re.sub(r"\s*-\s*"): that regex is quadratic in a run of spaces.
    tokens = "-".join(piece.strip() for piece in part.lower().split("-")).split()
    if len(tokens) == 1 and tokens[0] == "24x7":
        raise InvalidHoursError(f"{excerpt(part)}: '24x7' cannot be combined with other ranges")
    if len(tokens) != 2:
        raise InvalidHoursError(f"{excerpt(part)}: {_RANGE_HINT}")
    days = _parse_days(tokens[0], part)
    start, end = _parse_times(tokens[1], part)
    windows: list[Window] = []
    for day in days:
        if start < end:
            windows.append((day, start, end))
        else:  # overnight: the rest of this day, then the early part of the next
            windows.append((day, start, MINUTES_PER_DAY))
            if end > 0:
                windows.append(((day + 1) % 7, 0, end))
    return windows


def _parse_days(text: str, part: str) -> list[int]:
    if text == "daily":
        return list(range(7))
    names = text.split("-")
    if len(names) > 2 or not all(names):
        raise InvalidHoursError(
            f"{excerpt(part)}: bad days {excerpt(text)} (a day such as 'mon', a range such as "
            "'mon-fri', or 'daily')"
        )
    numbers = []
    for name in names:
        if name not in DAY_NAMES:
            raise InvalidHoursError(f"{excerpt(part)}: unknown day {excerpt(name)} ({_DAY_HINT})")
        numbers.append(DAY_NAMES.index(name))
    first, last = numbers[0], numbers[-1]
    # A range runs forward through the week and may wrap: fri-mon = fri, sat, sun, mon.
    return [(first + step) % 7 for step in range((last - first) % 7 + 1)]


def _parse_times(text: str, part: str) -> tuple[int, int]:
    pieces = text.split("-")
    if len(pieces) != 2 or not all(pieces):
        raise InvalidHoursError(
            f"{excerpt(part)}: bad time range {excerpt(text)} (use HH:MM-HH:MM, e.g. 09:00-17:00)"
        )
    start, end = (_parse_time(piece, part) for piece in pieces)
    if start == MINUTES_PER_DAY:
        raise InvalidHoursError(
            f"{excerpt(part)}: a range cannot start at 24:00 (start at 00:00 on the next day)"
        )
    if start == end:
        raise InvalidHoursError(
            f"{excerpt(part)}: start and end are both {pieces[0]} (for a whole day use 00:00-24:00)"
        )
    return start, end


def _parse_time(text: str, part: str) -> int:
    match = _TIME.fullmatch(text)
    if match is None:
        raise InvalidHoursError(
            f"{excerpt(part)}: bad time {excerpt(text)} (use HH:MM, 00:00 to 24:00)"
        )
    hour, minute = int(match.group(1)), int(match.group(2))
    if minute > 59:
        raise InvalidHoursError(
            f"{excerpt(part)}: bad time {excerpt(text)} (minutes run from 00 to 59)"
        )
    total = hour * 60 + minute
    if total > MINUTES_PER_DAY:
        raise InvalidHoursError(
            f"{excerpt(part)}: time {excerpt(text)} is out of range (00:00 to 24:00)"
        )
    return total


def _merge(windows: list[Window]) -> tuple[Window, ...]:
    merged: list[list[int]] = []
    for day, start, end in sorted(windows):
        if merged and merged[-1][0] == day and start <= merged[-1][2]:
            merged[-1][2] = max(merged[-1][2], end)
        else:
            merged.append([day, start, end])
    return tuple((day, start, end) for day, start, end in merged)
