"""Value parsing shared by every ITSM adapter, and the last step they all take.

The helpers are pure and vectorised: a column of text in, a typed column (and, where a
value can be wrong, a mask of the bad ones) out, so a 1,000,000-row export costs a few
passes, not a Python loop per row.

- `missing_as_na`: what exports write for "no value" (empty, whitespace, ``?``, ``NULL``,
  ``N/A``) becomes NA.
- `leading_number`: ``2 - High``, ``1-Extensive/Widespread`` -> 2, 1.
- `p_number`: ``P2``, ``SEV-1`` -> 2, 1.
- `priority_from_text`: a name map, then ``P2``, then ``2 - High``, kept only within 1-5.
- `parse_timestamps`: given formats, then ISO 8601; naive values are local time in a
  named time zone (DST-aware), values with an offset are converted; all become UTC.
- `RowProblems` collects the first problem of each row; `assemble_batch` applies the
  checks every adapter shares (required values, order of timestamps, duplicates keep the
  newest ``updated_at``) and builds the `IngestBatch`.
"""

from __future__ import annotations

import json
import re
import zoneinfo
from collections.abc import Callable, Mapping, Sequence
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
    "describe_formats",
    "leading_number",
    "missing_as_na",
    "opening_history",
    "p_number",
    "parse_timestamps",
    "priority_from_text",
    "reject_bad_text",
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

_LEADING_NUMBER = re.compile(r"^\s*(\d+)(?:\.0+)?(?=$|\s|\s*[-–—:)/])")
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


def leading_number(text: pd.Series) -> pd.Series:
    """The whole number a value starts with, as ServiceNow and Remedy label choices.

    The number must stand alone (``2 - High``, ``1-Critical``, ``3``), so ``2.5``, ``12a``
    and ``High`` give NA.

    >>> leading_number(pd.Series(["2 - High", "1-Extensive/Widespread", "3", "4.0", "2.5", "High", None])).tolist()
    [2, 1, 3, 4, <NA>, <NA>, <NA>]
    """
    digits = text.astype("string").str.extract(_LEADING_NUMBER, expand=False)
    return pd.to_numeric(digits, errors="coerce").astype("Int64")


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
    text = missing_as_na(text)
    # UTC moments as naive datetime64: filling a numpy array is cheap, where a tz-aware
    # Series setitem goes through one Timestamp object per value.
    moments = np.full(len(text), np.datetime64("NaT"), dtype="datetime64[us]")
    todo = np.array(text.notna(), dtype=bool)  # a copy: it is written below
    if day_first is None:
        tried: tuple[str, ...] = tuple(formats)
    else:
        tried = tuple(formats) + (DAY_FIRST_FORMATS if day_first else MONTH_FIRST_FORMATS)
    for fmt in (*tried, "ISO8601"):
        if not todo.any():
            break
        positions = np.flatnonzero(todo)
        values = text.iloc[positions]
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
    stamps = pd.Series(moments, index=text.index).dt.tz_localize("UTC").astype(UTC)
    return stamps, pd.Series(todo, index=text.index)


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


Message = str | Callable[[np.ndarray], Sequence[str]]


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

    def add(self, mask: pd.Series | np.ndarray, problem: str, message: Message) -> None:
        """Give the rows in `mask` that have no problem yet this `problem` and message."""
        fresh = np.asarray(mask, dtype=bool) & self.ok
        if not fresh.any():
            return
        rows = np.flatnonzero(fresh)
        self.problem[rows] = problem
        self.reason[rows] = message if isinstance(message, str) else list(message(rows))


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
    data["source"] = pd.Series([source] * rows, dtype="string")
    data["service_id"] = pd.Series(pd.NA, index=range(rows), dtype="string")

    for column in ("incident_id", "opened_at", "priority"):
        problems.add(data[column].isna().to_numpy(), "missing value", f"missing {label[column]}")
    opened = data["opened_at"]
    for column in ("resolved_at", "closed_at"):
        stamps = data[column]
        problems.add(
            (stamps < opened).to_numpy(dtype=bool),
            f"{column.removesuffix('_at')} before opened",
            lambda at, stamps=stamps, column=column: [
                f"{label[column]} {_iso(stamps.iloc[i])} is before {label['opened_at']} "
                f"{_iso(opened.iloc[i])}"
                for i in at
            ],
        )
    if as_of is not None:
        moment = utc_moment(as_of)
        problems.add(
            (opened > moment).to_numpy(dtype=bool),
            "opened after as_of",
            lambda at: [
                f"{label['opened_at']} {_iso(opened.iloc[i])} is after as_of {_iso(moment)}"
                for i in at
            ],
        )

    latest = pd.concat([data[c] for c in ("opened_at", "resolved_at", "closed_at")], axis=1)
    data["updated_at"] = data["updated_at"].fillna(latest.max(axis=1)).astype(UTC)
    _reject_older_duplicates(data, problems, lines, place)

    good = problems.ok
    keep = np.flatnonzero(good)
    incidents = pd.DataFrame(
        {c: data[c].iloc[keep].reset_index(drop=True) for c in INCIDENT_COLUMNS}
    )
    incidents["priority"] = incidents["priority"].astype(np.int64)
    bad = np.flatnonzero(~good)
    rejected = pd.DataFrame(
        {
            "source": pd.Series([source] * len(bad), dtype="string"),
            "line": pd.Series(lines[bad], dtype=np.int64),
            "problem": pd.Series(problems.problem[bad], dtype="string"),
            "reason": pd.Series(problems.reason[bad], dtype="string"),
            "raw": pd.Series(raw_json(bad) if len(bad) else [], dtype="string"),
        },
        columns=list(REJECTED_COLUMNS),
    )
    return IngestBatch(
        incidents=incidents,
        history=_history(history, data["incident_id"], good, source),
        rejected=rejected,
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


def _reject_older_duplicates(
    data: dict[str, pd.Series],
    problems: RowProblems,
    lines: np.ndarray,
    place: Callable[[int], str],
) -> None:
    usable = problems.ok
    ids = data["incident_id"]
    if not ids[usable].duplicated().any():
        return
    order = pd.DataFrame(
        {"id": ids[usable].to_numpy(), "updated": data["updated_at"][usable].array,
         "row": np.flatnonzero(usable)}
    )  # fmt: skip
    newest_first = order.sort_values(["updated", "row"], ascending=[False, True], kind="stable")
    kept = newest_first.drop_duplicates("id", keep="first").set_index("id")["row"]
    older = order[order["row"].to_numpy() != kept.loc[order["id"]].to_numpy()]
    if older.empty:
        return
    mask = np.zeros(len(usable), dtype=bool)
    mask[older["row"].to_numpy()] = True
    updated = data["updated_at"]

    def message(at: np.ndarray) -> list[str]:
        out = []
        for i in at:
            keeper = int(kept.loc[ids.iloc[i]])
            out.append(
                f"duplicate incident_id {ids.iloc[i]}: kept {place(int(lines[keeper]))} "
                f"(updated_at {_iso(updated.iloc[keeper])}); this row's updated_at "
                f"{_iso(updated.iloc[i])} is not newer"
            )
        return out

    problems.add(mask, "duplicate incident_id", message)


def _history(
    history: pd.DataFrame | None, incident_id: pd.Series, good: np.ndarray, source: str
) -> pd.DataFrame:
    if history is None or history.empty:
        return pd.DataFrame(
            {
                "source": pd.Series(dtype="string"),
                "incident_id": pd.Series(dtype="string"),
                "at": pd.Series(dtype=UTC),
                "assignment_group": pd.Series(dtype="string"),
                "support_tier": pd.Series(dtype="string"),
            }
        )
    rows = history["row"].to_numpy(dtype=np.int64)
    kept = history[good[rows]].copy()
    kept["_order"] = np.arange(len(kept))
    kept = kept.sort_values(["row", "at", "_order"], kind="stable")
    out = pd.DataFrame(
        {
            "source": pd.Series([source] * len(kept), dtype="string"),
            "incident_id": incident_id.iloc[kept["row"].to_numpy()].to_numpy(),
            "at": kept["at"].astype(UTC).array,
            "assignment_group": kept["assignment_group"].astype("string").to_numpy(),
            "support_tier": kept["support_tier"].astype("string").to_numpy(),
        }
    )
    out["incident_id"] = out["incident_id"].astype("string")
    out["at"] = out["at"].astype(UTC)
    for column in ("assignment_group", "support_tier"):
        out[column] = out[column].astype("string")
    return out[list(HISTORY_COLUMNS)]


def _iso(stamp: Any) -> str:
    if stamp is None or stamp is pd.NaT or pd.isna(stamp):
        return "(none)"
    return pd.Timestamp(stamp).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
