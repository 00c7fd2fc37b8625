"""Value parsing shared by every ITSM adapter, and the last step they all take.

The helpers are pure and vectorised: a column of text in, a typed column (and, where a
value can be wrong, a mask of the bad ones) out, so a 1,000,000-row export costs a few
passes, not a Python loop per row.

- `missing_as_na`: what exports write for "no value" (empty, whitespace, ``?``, ``NULL``,
  ``N/A``) becomes NA.
- `leading_number`: ``2 - High``, ``1-Extensive/Widespread`` -> 2, 1 (``strict``: only
  ``2`` or ``2 - High``, as ServiceNow writes its choices).
- `p_number`: ``P2``, ``SEV-1`` -> 2, 1.
- `priority_from_text`: a name map, then ``P2``, then ``2 - High``, kept only within 1-5.
- `parse_timestamps`: given formats, then ISO 8601; naive values are local time in a
  named time zone (DST-aware), values with an offset are converted; all become UTC.
  `date_time_formats` lists the dates a user may set (``/``, ``.``, ``-``; day or month
  first) with 24- or 12-hour times.
- `RowProblems` collects the first problem of each row and lists the rejected rows;
  `reject_before_opened` and `reject_older_duplicates` are the checks every adapter
  shares, `incident_frame` and `history_frame` type the output; `assemble_batch` applies
  them all (required values, order of timestamps, duplicates keep the newest
  ``updated_at``) and builds the `IngestBatch`.
"""

from __future__ import annotations

import json
import re
import zoneinfo
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from impactlens.errors import ImpactlensError
from impactlens.moments import utc_moment
from ingest.batch import (
    HISTORY_COLUMNS,
    INCIDENT_COLUMNS,
    REJECTED_COLUMNS,
    TIMESTAMP_COLUMNS,
    IngestBatch,
)

__all__ = [
    "DAY_FIRST_FORMATS",
    "INTEGER_COLUMNS",
    "MISSING_TOKENS",
    "MONTH_FIRST_FORMATS",
    "TEXT_COLUMNS",
    "RowProblems",
    "assemble_batch",
    "check_timezone",
    "date_time_formats",
    "describe_formats",
    "history_frame",
    "incident_frame",
    "iso_moment",
    "leading_number",
    "missing_as_na",
    "opening_history",
    "p_number",
    "parse_timestamps",
    "priority_from_text",
    "reject_bad_text",
    "reject_before_opened",
    "reject_older_duplicates",
    "row_lines",
    "rows_as_json",
    "tier_from_level",
    "whole_numbers",
]

# Compared after stripping and lower-casing. "NA" is not among them: it is a region code too.
MISSING_TOKENS = frozenset({"", "?", "null", "n/a"})
INTEGER_COLUMNS = ("impact", "urgency", "reassignment_count", "reopen_count")
TEXT_COLUMNS = tuple(
    column
    for column in INCIDENT_COLUMNS
    if column not in (*TIMESTAMP_COLUMNS, "priority", *INTEGER_COLUMNS)
)
UTC = "datetime64[us, UTC]"
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

    >>> check_timezone("Europe/Berlin")
    'Europe/Berlin'
    >>> check_timezone("Mars/Olympus")
    Traceback (most recent call last):
    ...
    impactlens.errors.ImpactlensError: unknown time zone 'Mars/Olympus' (expected an IANA name such as Europe/Berlin or UTC)
    """
    try:
        zoneinfo.ZoneInfo(str(name))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        raise ImpactlensError(
            f"unknown time zone {name!r} (expected an IANA name such as Europe/Berlin or UTC)"
        ) from None
    return str(name)


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


def row_lines(raw: pd.DataFrame) -> np.ndarray:
    """The file line of each row: the ``line`` index when the reader set one, else 2, 3, ..."""
    if raw.index.name == "line":
        return raw.index.to_numpy(dtype=np.int64)
    return np.arange(len(raw), dtype=np.int64) + LINE_OFFSET


def rows_as_json(rows: pd.DataFrame) -> list[str]:
    """Each row as a JSON object of its fields (NA as null), for ``rejected.raw``.

    >>> rows_as_json(pd.DataFrame({"Issue key": ["JSM-1"], "Resolved": [pd.NA]}))
    ['{"Issue key": "JSM-1", "Resolved": null}']
    """
    columns = [str(column) for column in rows.columns]
    return [
        json.dumps(
            {c: (None if _is_missing(v) else v) for c, v in zip(columns, values, strict=True)},
            ensure_ascii=False,
            default=str,
        )
        for values in rows.itertuples(index=False, name=None)
    ]


def _is_missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # lists and dicts are values, not missing
        return False


Message = str | Callable[[np.ndarray], Iterable[str]]


class RowProblems:
    """The first problem found with each row: a short kind (for counting) and a reason.

    `add` takes a mask and either one message or a function from the affected row
    positions to one message each, so messages are only built for the (usually few)
    rows that need them. A row keeps its first problem.
    """

    def __init__(self, rows: int) -> None:
        self.problem = np.full(rows, None, dtype=object)
        self.reason = np.full(rows, None, dtype=object)

    @property
    def ok(self) -> np.ndarray:
        """True for each row with no problem so far."""
        return np.equal(self.problem, None)

    def add(
        self,
        mask: pd.Series | np.ndarray,
        problem: str,
        message: Message,
        *,
        rows: np.ndarray | None = None,
    ) -> None:
        """Give the rows in `mask` that have no problem yet this `problem` and message.

        NA in `mask` is False. With `rows` (row positions), `mask` speaks of those rows
        only, in that order (a check of some rows, such as each incident's latest event).
        """
        if isinstance(mask, pd.Series):
            flags = mask.to_numpy(dtype=bool, na_value=False)
        else:
            flags = np.asarray(mask, dtype=bool)
        if rows is not None:
            flags, picked = np.zeros(len(self.problem), dtype=bool), np.asarray(rows)[flags]
            flags[picked] = True
        fresh = flags & self.ok
        if not fresh.any():
            return
        at = np.flatnonzero(fresh)
        self.problem[at] = problem
        self.reason[at] = message if isinstance(message, str) else list(message(at))

    def rejected(
        self, *, source: str, lines: np.ndarray, raw_json: Callable[[np.ndarray], list[str]]
    ) -> pd.DataFrame:
        """The rows with a problem as ``IngestBatch.rejected``; `raw_json` as in `assemble_batch`."""
        bad = np.flatnonzero(~self.ok)
        return pd.DataFrame(
            {
                "source": pd.Series([source] * len(bad), dtype="string"),
                "line": pd.Series(lines[bad], dtype=np.int64),
                "problem": pd.Series(self.problem[bad], dtype="string"),
                "reason": pd.Series(self.reason[bad], dtype="string"),
                "raw": pd.Series(raw_json(bad) if len(bad) else [], dtype="string"),
            },
            columns=list(REJECTED_COLUMNS),
        )


def _quoted(values: pd.Series | np.ndarray, rows: np.ndarray) -> list[str]:
    return [repr(str(value)) for value in np.asarray(values, dtype=object)[rows]]


def reject_bad_text(
    problems: RowProblems,
    bad: pd.Series | np.ndarray,
    *,
    problem: str,
    where: str,
    text: pd.Series,
    why: str,
) -> None:
    """Reject rows whose `text` in column `where` is bad: ``Created 'soon' is not ...``."""
    values = text.to_numpy(dtype=object)
    problems.add(
        bad,
        problem,
        lambda rows: [f"{where} {value} {why}" for value in _quoted(values, rows)],
    )


def reject_before_opened(
    problems: RowProblems,
    opened: pd.Series,
    later: Mapping[str, pd.Series],
    *,
    names: Mapping[str, str] | None = None,
    rows: np.ndarray | None = None,
) -> None:
    """Reject rows with a `later` timestamp (column -> UTC values) before `opened`.

    The problem is ``resolved before opened`` (for ``resolved_at``); reasons name the
    columns as `names` (canonical -> the source's name) does. With `rows` (positions),
    only those rows are checked.
    """
    label = {column: (names or {}).get(column, column) for column in ("opened_at", *later)}
    at = np.arange(len(opened)) if rows is None else np.asarray(rows)
    for column, stamps in later.items():
        problems.add(
            stamps.iloc[at].array < opened.iloc[at].array,
            f"{column.removesuffix('_at')} before opened",
            lambda found, stamps=stamps, column=column: [
                f"{label[column]} {iso_moment(stamps.iloc[i])} is before {label['opened_at']} "
                f"{iso_moment(opened.iloc[i])}"
                for i in found
            ],
            rows=at,
        )


def reject_older_duplicates(
    problems: RowProblems,
    ids: pd.Series,
    updated: pd.Series,
    *,
    problem: str,
    message: Callable[[int, int], str],
) -> None:
    """Of the rows without a problem that share an id, keep the one updated last.

    On a tie of `updated` (NaT is oldest) the first row is kept. The others get `problem`
    and the reason ``message(row, kept_row)``, both row positions.
    """
    usable = problems.ok & ids.notna().to_numpy(dtype=bool)
    if not ids[usable].duplicated().any():
        return
    order = pd.DataFrame(
        {"id": ids[usable].to_numpy(), "updated": updated[usable].array,
         "row": np.flatnonzero(usable)}
    )  # fmt: skip
    newest_first = order.sort_values(["updated", "row"], ascending=[False, True], kind="stable")
    kept = newest_first.drop_duplicates("id", keep="first").set_index("id")["row"]
    rows, keepers = order["row"].to_numpy(), kept.loc[order["id"]].to_numpy()
    older = rows != keepers
    keeper_of = dict(zip(rows[older].tolist(), keepers[older].tolist(), strict=True))
    problems.add(older, problem, lambda at: [message(i, keeper_of[i]) for i in at], rows=rows)


def assemble_batch(
    columns: Mapping[str, pd.Series],
    *,
    problems: RowProblems,
    raw_json: Callable[[np.ndarray], list[str]],
    lines: np.ndarray,
    source: str,
    names: Mapping[str, str] | None = None,
    history: pd.DataFrame | None = None,
    as_of: pd.Timestamp | str | None = None,
    place: Callable[[int], str] = "line {}".format,
) -> IngestBatch:
    """Apply the checks every adapter shares and build the `IngestBatch`.

    Parameters
    ----------
    columns
        Canonical column -> values, one per raw row in order: timestamps already UTC,
        ``priority`` and `INTEGER_COLUMNS` as Int64, the rest text. Absent columns are NA.
    problems
        The problems the adapter found already; the checks here add to them.
    raw_json
        Row positions -> the JSON text of those rows, for ``rejected.raw``.
    lines
        The line (or, for JSON, the position) of each row.
    names
        Canonical column -> the source's name for it, so reasons speak the source's words
        (``missing Issue key``).
    history
        Assignment history with a ``row`` column (the raw row position) and ``at``,
        ``assignment_group``, ``support_tier``; rows of rejected incidents are dropped.
    as_of
        When given, rows opened after it are rejected.
    place
        How reasons name another row, from its line: ``line 7`` or, for JSON,
        ``incidents[7]``.

    Rows are rejected when ``incident_id``, ``opened_at`` or ``priority`` is missing, when
    ``resolved_at`` or ``closed_at`` is before ``opened_at``, when opened after `as_of`,
    and when another usable row has the same ``incident_id`` and a newer ``updated_at``
    (on a tie the first row is kept). ``updated_at`` defaults to the latest of
    ``opened_at``, ``resolved_at`` and ``closed_at``.
    """
    rows = len(lines)
    names = dict(names or {})
    label = {column: names.get(column, column) for column in INCIDENT_COLUMNS}
    data = {column: _typed(column, columns.get(column), rows) for column in INCIDENT_COLUMNS}
    data["service_id"] = pd.Series(pd.NA, index=range(rows), dtype="string")

    for column in ("incident_id", "opened_at", "priority"):
        problems.add(data[column].isna().to_numpy(), "missing value", f"missing {label[column]}")
    opened = data["opened_at"]
    later = {column: data[column] for column in ("resolved_at", "closed_at")}
    reject_before_opened(problems, opened, later, names=label)
    if as_of is not None:
        moment = utc_moment(as_of)
        problems.add(
            (opened > moment).to_numpy(dtype=bool),
            "opened after as_of",
            lambda at: [
                f"{label['opened_at']} {iso_moment(opened.iloc[i])} is after as_of "
                f"{iso_moment(moment)}"
                for i in at
            ],
        )

    latest = pd.concat([data[c] for c in ("opened_at", "resolved_at", "closed_at")], axis=1)
    ids = data["incident_id"]
    updated = data["updated_at"] = data["updated_at"].fillna(latest.max(axis=1)).astype(UTC)
    reject_older_duplicates(
        problems,
        ids,
        updated,
        problem="duplicate incident_id",
        message=lambda row, kept: (
            f"duplicate incident_id {ids.iloc[row]}: kept {place(int(lines[kept]))} "
            f"(updated_at {iso_moment(updated.iloc[kept])}); this row's updated_at "
            f"{iso_moment(updated.iloc[row])} is not newer"
        ),
    )

    good = problems.ok
    return IngestBatch(
        incidents=incident_frame(
            {column: data[column].iloc[np.flatnonzero(good)] for column in INCIDENT_COLUMNS},
            source=source,
        ),
        history=_history(history, ids, good, source),
        rejected=problems.rejected(source=source, lines=lines, raw_json=raw_json),
    )


def incident_frame(columns: Mapping[str, pd.Series], *, source: str) -> pd.DataFrame:
    """``IngestBatch.incidents`` from one value per incident of each canonical column.

    `columns` holds ``incident_id`` and any others (absent ones are NA); ``priority``
    must be known. Timestamps become UTC, numbers Int64 (``priority`` int64), the rest text.
    """
    rows = len(columns["incident_id"])
    data = {column: _typed(column, columns.get(column), rows) for column in INCIDENT_COLUMNS}
    data["source"] = pd.Series([source] * rows, dtype="string")
    frame = pd.DataFrame(data, columns=list(INCIDENT_COLUMNS))
    frame["priority"] = frame["priority"].astype(np.int64)
    return frame


def history_frame(
    incident_id: Any, at: Any, assignment_group: Any, *, source: str, support_tier: Any = None
) -> pd.DataFrame:
    """``IngestBatch.history`` from one value per assignment of each column (Series, arrays).

    ``at`` must be UTC; without `support_tier` it is NA.
    """
    rows = len(incident_id)

    def column(values: Any, dtype: str) -> pd.Series:
        if values is None:
            return pd.Series(pd.NA, index=range(rows), dtype=dtype)
        return pd.Series(values).reset_index(drop=True).astype(dtype)

    return pd.DataFrame(
        {
            "source": pd.Series([source] * rows, dtype="string"),
            "incident_id": column(incident_id, "string"),
            "at": column(at, UTC),
            "assignment_group": column(assignment_group, "string"),
            "support_tier": column(support_tier, "string"),
        },
        columns=list(HISTORY_COLUMNS),
    )


def opening_history(columns: Mapping[str, pd.Series]) -> pd.DataFrame:
    """One assignment per row with a known group: its ``assignment_group`` at ``opened_at``.

    For sources that only know an incident's current group (as the canonical CSV without
    a history file): the group is all there is to place the incident's tier by.

    >>> opening_history({"opened_at": pd.to_datetime(["2026-11-02 09:00"] * 2, utc=True),
    ...                  "assignment_group": pd.Series(["Service Desk", None])})["row"].tolist()
    [0]
    """
    group = pd.Series(columns["assignment_group"]).reset_index(drop=True).astype("string")
    opened = pd.Series(columns["opened_at"]).reset_index(drop=True).astype(UTC)
    known = (group.notna() & opened.notna()).to_numpy(dtype=bool)
    return pd.DataFrame(
        {
            "row": np.flatnonzero(known).astype(np.int64),
            "at": opened[known].array,
            "assignment_group": group[known].to_numpy(),
            "support_tier": pd.Series(pd.NA, index=range(int(known.sum())), dtype="string"),
        }
    )


def _typed(column: str, values: pd.Series | None, rows: int) -> pd.Series:
    if values is None:
        if column in TIMESTAMP_COLUMNS:
            return pd.Series(pd.NaT, index=range(rows), dtype=UTC)
        dtype = "Int64" if column == "priority" or column in INTEGER_COLUMNS else "string"
        return pd.Series(pd.NA, index=range(rows), dtype=dtype)
    values = values.reset_index(drop=True)
    if column in TIMESTAMP_COLUMNS:
        return values.astype(UTC)
    if column == "priority" or column in INTEGER_COLUMNS:
        return values.astype("Int64")
    return values.astype("string")


def _history(
    history: pd.DataFrame | None, incident_id: pd.Series, good: np.ndarray, source: str
) -> pd.DataFrame:
    if history is None or history.empty:
        return history_frame([], [], [], source=source)
    kept = history[good[history["row"].to_numpy(dtype=np.int64)]].copy()
    kept["_order"] = np.arange(len(kept))
    kept = kept.sort_values(["row", "at", "_order"], kind="stable")
    return history_frame(
        incident_id.iloc[kept["row"].to_numpy()],
        kept["at"],
        kept["assignment_group"],
        source=source,
        support_tier=kept["support_tier"],
    )


def iso_moment(stamp: Any) -> str:
    """A UTC moment as reasons write it, ``2026-11-02T09:00:00Z``; ``(none)`` for none.

    >>> iso_moment(pd.Timestamp("2026-11-02 10:00", tz="Europe/Paris")), iso_moment(pd.NaT)
    ('2026-11-02T09:00:00Z', '(none)')
    """
    if stamp is None or stamp is pd.NaT or pd.isna(stamp):
        return "(none)"
    return pd.Timestamp(stamp).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
