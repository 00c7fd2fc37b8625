"""Value parsing shared by every ITSM adapter.

The helpers are pure and vectorised: a column of text in, a typed column (and, where a
value can be wrong, a mask of the bad ones) out, so a 1,000,000-row export costs a few
passes, not a Python loop per row.

- `missing_as_na`: what exports write for "no value" (empty, whitespace, ``?``, ``NULL``,
  ``N/A``) becomes NA.
- `leading_number`: ``2 - High``, ``1-Extensive/Widespread`` -> 2, 1 (``strict``: only
  ``2`` or ``2 - High``, as ServiceNow writes its choices).
- `p_number`: ``P2``, ``SEV-1`` -> 2, 1.
- `with_decimal_point`: ``2,5``, ``1.234,5`` -> ``2.5``, ``1234.5`` for decimal-comma exports.
- `listed_values`: a mapping's value map (``{Urgent: 1}``), matched ignoring case.
- `priority_from_text`: a name map, then ``P2``, then ``2 - High``, kept only within 1-5.
- `parse_timestamps`: given formats, then ISO 8601; naive values are local time in a
  named time zone (DST-aware), values with an offset are converted; all become UTC.
  `date_time_formats` lists the dates a user may set (``/``, ``.``, ``-``; day or month
  first) with 24- or 12-hour times.

Rejecting rows and assembling the batch, the last step every adapter takes, is
`ingest.rows`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Final

import numpy as np
import pandas as pd
from impactlens.ingest.batch import (
    INCIDENT_COLUMNS,
    TIMESTAMP_COLUMNS,
)

from impactlens.moments import time_zone

__all__ = [
    "DAY_FIRST_FORMATS",
    "INTEGER_COLUMNS",
    "MISSING_TOKENS",
    "MONTH_FIRST_FORMATS",
    "TEXT_COLUMNS",
    "check_timezone",
    "date_time_formats",
    "describe_formats",
    "leading_number",
    "listed_values",
    "missing_as_na",
    "p_number",
    "parse_timestamps",
    "priority_from_text",
    "tier_from_level",
    "whole_numbers",
    "with_decimal_point",
]

# Compared after stripping and lower-casing. "NA" is not among them: it is a region code too.
MISSING_TOKENS = frozenset({"", "?", "null", "n/a"})
INTEGER_COLUMNS = ("impact", "urgency", "reassignment_count", "reopen_count")
TEXT_COLUMNS = tuple(
    column
    for column in INCIDENT_COLUMNS
    if column not in (*TIMESTAMP_COLUMNS, "priority", *INTEGER_COLUMNS)
)
UTC: Final = "datetime64[us, UTC]"
LINE_OFFSET = 2  # without a ``line`` index, data row 0 is line 2 of a file, after its header

# Tried in order when `parse_timestamps` is told the day comes first (or last) but given
# no format. ISO 8601 (year first) is always tried after these.
DAY_FIRST_FORMATS = (
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%d-%m-%Y %H:%M:%S",
    "%d-%m-%Y %H:%M",
    "%d-%m-%Y",
)
MONTH_FIRST_FORMATS = (
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y",
    "%m-%d-%Y %H:%M:%S",
    "%m-%d-%Y %H:%M",
    "%m-%d-%Y",
)
# The dates and times `date_time_formats` combines.
DAY_FIRST_DATES = ("%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y", "%Y/%m/%d")
MONTH_FIRST_DATES = ("%m/%d/%Y", "%m.%d.%Y", "%m-%d-%Y", "%Y/%m/%d")
CLOCK_TIMES = (" %H:%M:%S", " %H:%M", " %I:%M:%S %p", " %I:%M %p", "")

_LEADING_NUMBER = re.compile(r"^\s*(\d+)(?:\.0+)?(?=$|\s|\s*[-–—:)/])")
# ``strict``: the number alone, or followed by " - " and a label
_CHOICE_NUMBER = re.compile(r"^\s*(\d+)(?:\.0+)?(?:\s+-\s.*)?\s*$")
_P_NUMBER = re.compile(r"^\s*(?:P|SEV)\s*-?\s*(\d+)\s*$", re.IGNORECASE)
# An offset after a time (``09:00Z``, ``09:00:00.123+0100``); a date's ``-02`` is not one.
_HAS_OFFSET = re.compile(
    r"\d:\d\d(?::\d\d(?:[.,]\d+)?)?\s*(?:Z|[+-]\d\d(?::?\d\d)?)$", re.IGNORECASE
)
_LEVEL_TIERS = {1: "L1", 2: "L2"}
# A number with a decimal comma, a point grouping thousands: 2,5  1.234,5  -3  12
_DECIMAL_COMMA_NUMBER = re.compile(r"\s*[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d+)?\s*")


def missing_as_na(text: pd.Series) -> pd.Series:
    """Text stripped of surrounding whitespace, with the usual "no value" markers as NA.

    >>> missing_as_na(pd.Series([" web ", "", "  ", "?", "NULL", "n/a", None])).tolist()
    ['web', <NA>, <NA>, <NA>, <NA>, <NA>, <NA>]
    """
    stripped = text.astype("string").str.strip()
    return stripped.mask(stripped.str.lower().isin(MISSING_TOKENS))


def leading_number(text: pd.Series, *, strict: bool = False) -> pd.Series:
    """The whole number a value starts with, as ServiceNow and Remedy label choices.

    The number must stand alone (``2 - High``, ``1-Critical``, ``3``), so ``2.5``, ``12a``
    and ``High`` give NA. With ``strict=True`` it must be the whole value or be followed
    by `` - `` and a label, as ServiceNow writes its choices: ``1-Critical`` and ``2 a``
    give NA too. Numbers of 10**15 or more give NA (they are no choice or count).

    >>> leading_number(pd.Series(["2 - High", "1-Extensive/Widespread", "3", "4.0", "2.5", "High", None])).tolist()
    [2, 1, 3, 4, <NA>, <NA>, <NA>]
    >>> leading_number(pd.Series(["2 - High", "1-Critical", "3.0", "2 a"]), strict=True).tolist()
    [2, <NA>, 3, <NA>]
    """
    pattern = _CHOICE_NUMBER if strict else _LEADING_NUMBER
    # each distinct value once: an export repeats its few choices on every row
    codes, distinct = pd.factorize(text.astype("string"))
    digits = pd.Series(distinct, dtype="string").str.extract(pattern, expand=False)
    numbers = pd.to_numeric(digits, errors="coerce")
    numbers = numbers.where(numbers < 1e15).astype("Int64")
    return pd.Series(numbers.array.take(codes, allow_fill=True), index=text.index)


def with_decimal_point(text: pd.Series, decimal: str = ".") -> pd.Series:
    """Numbers written with a decimal comma as with a point; other text as it is.

    With ``decimal=","`` (as European exports write numbers) a value that is wholly a
    number, ``2,5`` or ``1.234,5`` (a point groups thousands), becomes ``2.5`` or
    ``1234.5``; labels such as ``2 - High`` are left alone. With ``"."`` nothing changes.

    >>> with_decimal_point(pd.Series(["2,0", "1.234,5", "3", "1.000", "2 - High", None]), ",").tolist()
    ['2.0', '1234.5', '3', '1000', '2 - High', <NA>]
    """
    if decimal == ".":
        return text
    text = text.astype("string")
    number = text.str.fullmatch(_DECIMAL_COMMA_NUMBER).fillna(False)
    if not number.any():
        return text
    converted = text[number].str.strip().str.replace(".", "", regex=False)
    return text.mask(number, converted.str.replace(",", ".", regex=False))


def p_number(text: pd.Series) -> pd.Series:
    """The number of a ``P1``-style priority or a ``SEV-1``-style severity, else NA.

    >>> p_number(pd.Series(["P1", "p 3", "SEV-2", "Sev1", "P1 - Critical", "High"])).tolist()
    [1, 3, 2, 1, <NA>, <NA>]
    """
    digits = text.astype("string").str.extract(_P_NUMBER, expand=False)
    return pd.to_numeric(digits, errors="coerce").astype("Int64")


def priority_from_text(
    text: pd.Series, names: Mapping[str, int] | None = None
) -> tuple[pd.Series, pd.Series]:
    """Priorities 1-5 from names (case-insensitive), ``P2``, or ``2 - High``.

    Returns the priorities (Int64, NA where there is none) and a mask of the values that
    are present but name no priority from 1 to 5.

    >>> priority, unknown = priority_from_text(
    ...     pd.Series(["High", "P1", "4 - Low", "Urgent", "P9", None]), {"high": 2})
    >>> priority.tolist(), unknown.tolist()
    ([2, 1, 4, <NA>, <NA>, <NA>], [False, False, False, True, True, False])
    """
    text = missing_as_na(text)
    lookup = {str(name).strip().casefold(): int(number) for name, number in (names or {}).items()}
    by_name = text.str.casefold().map(lookup, na_action="ignore")
    priority = pd.to_numeric(by_name, errors="coerce").astype("Int64")
    rest = priority.isna() & text.notna()
    if rest.any():  # usually every value is a name: the regexes run only on the rest
        numbered = p_number(text[rest]).fillna(leading_number(text[rest]))
        priority = priority.fillna(numbered.reindex(priority.index))
    priority = priority.where(priority.between(1, 5))
    unknown = (text.notna() & priority.isna()).to_numpy(dtype=bool)
    return priority.astype("Int64"), pd.Series(unknown, index=text.index)


def listed_values(text: pd.Series, listed: Mapping[str, object]) -> pd.Series:
    """The value `listed` gives each text (keys compared ignoring case and surrounding
    spaces), as text; NA where none is listed.

    >>> listed_values(pd.Series(["Closed ", "open", None]), {"closed": "resolved"}).tolist()
    ['resolved', <NA>, <NA>]
    """
    if not listed:
        return pd.Series(pd.NA, index=text.index, dtype="string")
    table = {str(key).strip().casefold(): str(value) for key, value in listed.items()}
    folded = text.astype("string").str.strip().str.casefold()
    return folded.map(table, na_action="ignore").astype("string")


def whole_numbers(text: pd.Series, *, low: int = 0) -> tuple[pd.Series, pd.Series]:
    """Whole numbers of at least `low` (``3``, ``3.0``), and a mask of present bad values.

    >>> numbers, bad = whole_numbers(pd.Series(["3", "0", "2.0", "-1", "two", None]))
    >>> numbers.tolist(), bad.tolist()
    ([3, 0, 2, <NA>, <NA>, <NA>], [False, False, False, True, True, False])
    """
    text = missing_as_na(text)
    numbers = pd.to_numeric(text, errors="coerce")
    whole = numbers.notna() & (numbers == numbers.round()) & (numbers >= low)
    bad = (text.notna() & ~whole).to_numpy(dtype=bool)
    return numbers.where(whole).astype("Int64"), pd.Series(bad, index=text.index)


def check_timezone(name: str) -> str:
    """`name` when it is an IANA time zone (``Europe/Berlin``, ``UTC``), else an error.

    The check is `impactlens.moments.time_zone`'s, so every surface says the same.

    >>> check_timezone("Europe/Berlin")
    'Europe/Berlin'
    >>> check_timezone("Mars/Olympus")
    Traceback (most recent call last):
    ...
    impactlens.errors.InvalidTimezoneError: time zone 'Mars/Olympus' is not an IANA zone name (for example Europe/Berlin or UTC)
    """
    time_zone(name)
    return name


def date_time_formats(*, day_first: bool) -> tuple[str, ...]:
    """Dates as a user may set them (``dd/MM/yyyy``, ``MM-dd-yyyy``, ``yyyy/MM/dd``), timed.

    Each of `DAY_FIRST_DATES` (or `MONTH_FIRST_DATES`) with each of `CLOCK_TIMES`: 24- or
    12-hour, with or without seconds, or no time; for `parse_timestamps`' `formats`.

    >>> date_time_formats(day_first=True)[:6]
    ('%d/%m/%Y %H:%M:%S', '%d/%m/%Y %H:%M', '%d/%m/%Y %I:%M:%S %p', '%d/%m/%Y %I:%M %p', '%d/%m/%Y', '%d.%m.%Y %H:%M:%S')
    """
    dates = DAY_FIRST_DATES if day_first else MONTH_FIRST_DATES
    return tuple(date + time for date in dates for time in CLOCK_TIMES)


def parse_timestamps(
    text: pd.Series,
    *,
    formats: Sequence[str] = (),
    day_first: bool | None = None,
    timezone: str = "UTC",
) -> tuple[pd.Series, pd.Series]:
    """Timestamps in UTC from text, and a mask of the present values that are unreadable.

    Each value is tried against `formats` (strptime, in order), then against ISO 8601.
    With no `formats`, ``day_first=True`` tries `DAY_FIRST_FORMATS` and ``day_first=False``
    `MONTH_FIRST_FORMATS` before ISO 8601; ``None`` tries ISO 8601 alone. A value with an
    offset (``Z``, ``+02:00``, or a ``%z`` format) is converted to UTC. A value without one
    is a wall-clock time in `timezone`: in the hour repeated when clocks go back it is
    taken as the first (summer-time) one; in the hour skipped when they go forward it is
    moved forward by the gap. Missing values (see `missing_as_na`) are NaT and not bad.

    >>> stamps, bad = parse_timestamps(
    ...     pd.Series(["12/Nov/26 9:41 AM", "2026-07-01T12:00:00+02:00", "2026-07-01 12:00",
    ...                "soon", ""]),
    ...     formats=["%d/%b/%y %I:%M %p"], timezone="Europe/Berlin")
    >>> [s.isoformat() if s is not pd.NaT else None for s in stamps], bad.tolist()
    (['2026-11-12T08:41:00+00:00', '2026-07-01T10:00:00+00:00', '2026-07-01T10:00:00+00:00', None, None], [False, False, False, True, False])
    """
    tz = check_timezone(timezone)
    # Each distinct value once (an event log repeats its times); code -1 (missing) reads
    # the NaT and False appended after the distinct values' results.
    codes, distinct = pd.factorize(missing_as_na(text))
    values_of = pd.Series(distinct, dtype="string")
    # UTC moments as naive datetime64: filling a numpy array is cheap, where a tz-aware
    # Series setitem goes through one Timestamp object per value.
    moments = np.full(len(values_of) + 1, np.datetime64("NaT"), dtype="datetime64[us]")
    todo = np.ones(len(values_of) + 1, dtype=bool)
    todo[-1] = False
    if day_first is None:
        tried: tuple[str, ...] = tuple(formats)
    else:
        tried = tuple(formats) + (DAY_FIRST_FORMATS if day_first else MONTH_FIRST_FORMATS)
    for fmt in (*tried, "ISO8601"):
        if not todo.any():
            break
        positions = np.flatnonzero(todo)
        values = values_of.iloc[positions]
        if fmt == "ISO8601":
            offset = values.str.contains(_HAS_OFFSET, regex=True).fillna(False).to_numpy(bool)
            parsed = np.full(len(values), np.datetime64("NaT"), dtype="datetime64[us]")
            if offset.any():
                parsed[offset] = _to_utc(values[offset], fmt, aware=True, tz=tz)
            if (~offset).any():
                parsed[~offset] = _to_utc(values[~offset], fmt, aware=False, tz=tz)
        else:
            parsed = _to_utc(values, fmt, aware="%z" in fmt or "%Z" in fmt, tz=tz)
        found = ~np.isnat(parsed)
        moments[positions[found]] = parsed[found]
        todo[positions[found]] = False
    stamps = pd.Series(moments[codes], index=text.index).dt.tz_localize("UTC").astype(UTC)
    return stamps, pd.Series(todo[codes], index=text.index)


def _to_utc(values: pd.Series, fmt: str, *, aware: bool, tz: str) -> np.ndarray:
    """UTC moments (naive datetime64[us], NaT where `fmt` does not match)."""
    if aware:
        stamps = pd.to_datetime(values, format=fmt, errors="coerce", utc=True)
    else:
        stamps = pd.to_datetime(values, format=fmt, errors="coerce")
        if not isinstance(stamps.dtype, pd.DatetimeTZDtype):  # else a format matched an offset
            stamps = stamps.dt.tz_localize(
                tz, ambiguous=np.ones(len(stamps), dtype=bool), nonexistent="shift_forward"
            )
    return stamps.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[us]")


def describe_formats(formats: Sequence[str] = (), day_first: bool | None = None) -> str:
    """The formats `parse_timestamps` accepts, for a reason text.

    >>> describe_formats(["%d/%b/%y %I:%M %p"])
    'expected %d/%b/%y %I:%M %p or ISO 8601'
    >>> describe_formats(day_first=True)
    'expected a day-first date such as 31/12/2026 14:30 or ISO 8601'
    """
    shown = list(formats)
    if day_first is True:
        shown.append("a day-first date such as 31/12/2026 14:30")
    elif day_first is False:
        shown.append("a month-first date such as 12/31/2026 14:30")
    return "expected " + " or ".join([*shown, "ISO 8601"])


def tier_from_level(level: pd.Series) -> pd.Series:
    """Support tier from an escalation level: 1 -> L1, 2 -> L2, 3 or more -> L3.

    >>> tier_from_level(pd.Series([1, 2, 3, 5, 0, None], dtype="Int64")).tolist()
    ['L1', 'L2', 'L3', 'L3', <NA>, <NA>]
    """
    level = pd.to_numeric(level, errors="coerce").astype("Int64")
    tiers = level.map(_LEVEL_TIERS, na_action="ignore").astype("string")
    return tiers.mask(level >= 3, "L3").where(level >= 1).astype("string")
