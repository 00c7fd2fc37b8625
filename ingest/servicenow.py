"""ServiceNow adapters: the incident table export and the incident event (audit) log.

Both are pure functions from raw rows (every field text, as `ingest.read.read_rows` gives
them) to an `IngestBatch`. They read ServiceNow's documented shapes:

- field names as the CSV export writes them by default, or the field labels it writes with
  ``sysparm_export_column_header_label=true`` (``Opened``, ``Assignment group``, ...);
- display values (``2 - High``, ``Resolved``, a group's name) or raw values (``2``, ``6``);
  a JSON export made with ``displayvalue=all`` also carries ``dv_<field>`` display values,
  which are preferred for text fields;
- date-times as ``YYYY-MM-DD HH:MM:SS`` (the system format), ISO 8601, or a user format
  such as ``dd/MM/yyyy HH:mm`` (``day_first=True``) or ``MM-dd-yyyy hh:mm:ss a``. Naive
  times are in `timezone` (display values are in the exporting user's zone);
- empty, blank, ``?`` (as in the UCI event log), ``NULL`` or ``N/A`` mean missing.
"""

from __future__ import annotations

import json
import re
import zoneinfo
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from engine.columns import require_columns
from impactlens.errors import ImpactlensError
from ingest.batch import HISTORY_COLUMNS, INCIDENT_COLUMNS, REJECTED_COLUMNS, IngestBatch

__all__ = ["parse_servicenow", "parse_servicenow_eventlog"]

LINE_OFFSET = 2  # without a ``line`` index, data row 0 is taken to be line 2 (after a header)
MISSING = ("", "?", "null", "n/a")  # compared in lower case
# Field labels of the CSV export with sysparm_export_column_header_label=true, where they
# are not the field name with spaces for underscores ("Assignment group").
LABELS = {
    "opened": "opened_at",
    "resolved": "resolved_at",
    "closed": "closed_at",
    "updated": "sys_updated_on",
    "configuration_item": "cmdb_ci",
    "problem": "problem_id",
    "caused_by_change": "caused_by",
}
FIELDS = (
    "number", "opened_at", "resolved_at", "closed_at", "sys_updated_on", "sys_updated_at",
    "incident_state", "state", "priority", "impact", "urgency", "cmdb_ci", "category",
    "subcategory", "assignment_group", "location", "reassignment_count", "reopen_count",
    "problem_id", "caused_by", "short_description", "support_tier", "sys_mod_count",
)  # fmt: skip
# canonical text column <- ServiceNow fields, first present and non-missing wins
TEXT_FIELDS = {
    "state": ("incident_state", "state"),
    "ci": ("cmdb_ci",),
    "category": ("category",),
    "subcategory": ("subcategory",),
    "assignment_group": ("assignment_group",),
    "location": ("location",),
    "support_tier": ("support_tier",),
    "problem_id": ("problem_id",),
    "caused_by_change": ("caused_by",),
    "short_description": ("short_description",),
}
# The incident table's state choices (raw values), as in an export of raw values.
STATES = {"1": "New", "2": "In Progress", "3": "On Hold", "6": "Resolved", "7": "Closed", "8": "Canceled"}  # fmt: skip
PRIORITY_LABELS = {"critical": 1, "high": 2, "moderate": 3, "low": 4, "planning": 5}
LEVEL_LABELS = {"high": 1, "medium": 2, "low": 3}  # impact and urgency
# "2 - High" -> 2, "3" -> 3, "3.0" -> 3; the label after " - " is ignored
LEADING_NUMBER = r"^(\d+)(?:\.0+)?(?:\s+-\s.*)?$"
AWARE = r"\d:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:Z|z|[+-]\d{2}(?::?\d{2})?)$"
TIMES = (" %H:%M:%S", " %H:%M", " %I:%M:%S %p", " %I:%M %p", "")
DAY_FIRST_DATES = ("%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y", "%Y/%m/%d")
MONTH_FIRST_DATES = ("%m/%d/%Y", "%m.%d.%Y", "%m-%d-%Y", "%Y/%m/%d")
UTC = "datetime64[us, UTC]"

Message = str | Callable[[np.ndarray], Sequence[str] | pd.Series]


def parse_servicenow(
    raw: pd.DataFrame,
    *,
    source: str = "servicenow",
    timezone: str = "UTC",
    day_first: bool = False,
) -> IngestBatch:
    """Incidents from a ServiceNow incident table export (CSV or JSON), one row each.

    ``number``, ``opened_at`` and ``priority`` are required. A row is rejected, with its
    line and reason, when its number, opened_at or priority is missing, a date or number
    cannot be read, its priority is not 1-5, it was resolved before it was opened, or its
    number repeats: then the row with the newest ``sys_updated_on`` is kept (the first of
    equals). ``updated_at`` is ``sys_updated_on``, else the latest of opened, resolved and
    closed. The history is one assignment per incident, at ``opened_at``.

    Examples
    --------
    >>> raw = pd.DataFrame({"number": ["INC1", "INC2"], "priority": ["2 - High", "9"],
    ...                     "opened_at": ["2016-02-29 01:16:00", "2016-02-29 01:20:00"],
    ...                     "assignment_group": ["Service Desk", None]})
    >>> batch = parse_servicenow(raw)
    >>> batch.incidents[["incident_id", "priority"]].values.tolist()
    [['INC1', 2]]
    >>> batch.rejected["reason"].tolist()
    ["priority '9' is not a priority from 1 to 5"]
    """
    _check_timezone(timezone)
    frame = _field_names(raw)
    if _no_data(frame):
        return _empty_batch()
    require_columns(frame, ("number", "opened_at", "priority"), where="ServiceNow incident export")
    lines, frame, original = _positional(raw, frame)
    verdicts = _Verdicts(len(frame))
    number = _text(frame["number"])
    verdicts.reject(number.isna(), "missing value", "missing number")
    moments = _moments_of(frame, verdicts, timezone=timezone, day_first=day_first)
    _check_times(moments, verdicts)
    fields = _incident_fields(frame, verdicts)
    last_moment = _latest(moments["opened_at"], moments["resolved_at"], moments["closed_at"])
    moments["updated_at"] = moments.get("updated_at", last_moment).fillna(last_moment)
    _reject_older_duplicates(number, moments["updated_at"], lines, verdicts, _updated_name(frame))

    incidents = _incident_frame(source, number, moments, fields, np.flatnonzero(~verdicts.bad))
    with_group = incidents["assignment_group"].notna().to_numpy()
    history = _history_frame(
        source,
        incidents["incident_id"][with_group],
        incidents["opened_at"][with_group],
        incidents["assignment_group"][with_group],
    )
    return IngestBatch(incidents, history, verdicts.rejected(source, lines, original))


def parse_servicenow_eventlog(
    raw: pd.DataFrame,
    *,
    source: str = "servicenow",
    timezone: str = "UTC",
    day_first: bool = True,
) -> IngestBatch:
    """Incidents and assignment history from a ServiceNow incident event log.

    Each row is one update of an incident (as in the UCI "incident management process
    enriched event log"). An incident's state is its latest row: the greatest
    ``sys_mod_count``, then the latest ``sys_updated_at``, then the last in the file. Its
    history has one entry per change of ``assignment_group`` along its rows in that order
    (missing groups skipped), at that row's ``sys_updated_at``.

    A row is rejected when its number is missing, its ``sys_mod_count`` is not a whole
    number, a timestamp cannot be read or ``sys_updated_at`` is missing; the incident's
    other rows still count. An incident whose latest row is rejected, or lacks what an
    incident needs (opened_at, a priority 1-5, readable numbers, resolved after opened),
    is rejected as a whole: every one of its rows, each with the reason.

    Examples
    --------
    >>> raw = pd.DataFrame({"number": ["INC1"] * 3, "sys_mod_count": ["0", "1", "2"],
    ...     "opened_at": ["29/2/2016 01:16"] * 3, "priority": ["3 - Moderate"] * 3,
    ...     "sys_updated_at": ["29/2/2016 01:23", "29/2/2016 08:53", "1/3/2016 09:00"],
    ...     "assignment_group": ["Group 56", "?", "Group 70"]})
    >>> batch = parse_servicenow_eventlog(raw)
    >>> batch.incidents[["incident_id", "priority", "assignment_group"]].values.tolist()
    [['INC1', 3, 'Group 70']]
    >>> batch.history[["at", "assignment_group"]].astype(str).values.tolist()
    [['2016-02-29 01:23:00+00:00', 'Group 56'], ['2016-03-01 09:00:00+00:00', 'Group 70']]
    """
    _check_timezone(timezone)
    frame = _field_names(raw)
    if _no_data(frame):
        return _empty_batch()
    required = ["number", "opened_at", "priority", "sys_mod_count"]
    if "sys_updated_on" not in frame.columns:
        required.append("sys_updated_at")
    require_columns(frame, required, where="ServiceNow event log")
    lines, frame, original = _positional(raw, frame)
    verdicts = _Verdicts(len(frame))

    # Row checks: what every event needs to take its place in its incident's sequence.
    number = _text(frame["number"])
    verdicts.reject(number.isna(), "missing value", "missing number")
    mod_text = _text(frame["sys_mod_count"])
    mod_count = _numbers(mod_text)
    mod_bad = mod_count.isna().to_numpy()
    verdicts.reject(mod_text.isna(), "missing value", "missing sys_mod_count")
    verdicts.reject(
        mod_bad,
        "bad number",
        lambda rows: "sys_mod_count " + _quoted(mod_text, rows) + " is not a whole number",
    )
    moments = _moments_of(frame, verdicts, timezone=timezone, day_first=day_first)
    updated = moments["updated_at"]
    verdicts.reject(updated.isna(), "missing value", f"missing {_updated_name(frame)}")

    # Each incident's events in order; its latest event is the last of them.
    codes, uniques = pd.factorize(number)  # missing numbers get -1
    incident_count = max(len(uniques), 1)
    orderable = np.flatnonzero((codes >= 0) & ~mod_bad)
    order = orderable[
        np.lexsort(
            (
                orderable,
                _sort_key(updated)[orderable],
                mod_count.to_numpy(dtype=np.int64, na_value=-1)[orderable],
                codes[orderable],
            )
        )
    ]
    latest = order[_last_of_runs(codes[order])]

    # Incident checks, on latest events only: what an incident needs from its state.
    _check_times({name: values.iloc[latest] for name, values in moments.items()}, verdicts)
    fields = _incident_fields(frame.iloc[latest], verdicts)
    _reject_incidents_of_bad_latest(number, codes, latest, lines, verdicts, incident_count)
    accepted = latest[~verdicts.bad[latest]]
    incidents = _incident_frame(source, number, moments, fields, accepted)

    # History: usable events of accepted incidents, in order, where the group changes.
    groups = _preferred_text(frame, ("assignment_group",))
    group_codes, _ = pd.factorize(groups)
    accepted_incident = np.zeros(incident_count, dtype=bool)
    accepted_incident[codes[accepted]] = True
    usable = ~verdicts.bad & accepted_incident[np.maximum(codes, 0)] & (group_codes >= 0)
    events = order[usable[order]]
    changes = events[_first_of_runs(codes[events], group_codes[events])]
    history = _history_frame(
        source, number.iloc[changes], updated.iloc[changes], groups.iloc[changes]
    )
    return IngestBatch(incidents, history, verdicts.rejected(source, lines, original))


def _last_of_runs(keys: np.ndarray) -> np.ndarray:
    """True at the last element of each run of equal `keys`."""
    last = np.ones(len(keys), dtype=bool)
    last[:-1] = keys[1:] != keys[:-1]
    return last


def _first_of_runs(*keys: np.ndarray) -> np.ndarray:
    """True at the first element of each run over which all of `keys` stay equal."""
    first = np.ones(len(keys[0]), dtype=bool)
    if len(first) > 1:
        first[1:] = np.logical_or.reduce([key[1:] != key[:-1] for key in keys])
    return first


# --- rejections -----------------------------------------------------------------------


class _Verdicts:
    """The first problem and reason found for each row, by position."""

    def __init__(self, size: int) -> None:
        self.bad = np.zeros(size, dtype=bool)
        self.problems = np.full(size, None, dtype=object)
        self.reasons = np.full(size, None, dtype=object)

    def reject(self, mask: pd.Series | np.ndarray, problem: str, message: Message) -> None:
        """Give rows in `mask` that have no reason yet this problem and message.

        A Series mask is labelled by row position (it may cover only some rows); `message`
        is text, or a function from the rows' positions to one text per row, so messages
        are built only for the (usually few) rejected rows.
        """
        if isinstance(mask, pd.Series):
            rows = mask.index.to_numpy()[mask.to_numpy(dtype=bool, na_value=False)]
        else:
            rows = np.flatnonzero(mask)
        rows = rows[~self.bad[rows]]
        if not len(rows):
            return
        self.bad[rows] = True
        self.problems[rows] = problem
        self.reasons[rows] = message if isinstance(message, str) else list(message(rows))

    def rejected(self, source: str, lines: np.ndarray, original: pd.DataFrame) -> pd.DataFrame:
        """The rejected rows with their line, problem, reason and raw fields as JSON text."""
        rows = np.flatnonzero(self.bad)
        subset = original.iloc[rows]
        records = subset.astype(object).where(subset.notna(), None).to_dict("records")
        frame = pd.DataFrame(
            {
                "source": source,
                "line": lines[rows],
                "problem": self.problems[rows],
                "reason": self.reasons[rows],
                "raw": [json.dumps(r, ensure_ascii=False, default=str) for r in records],
            },
            index=pd.RangeIndex(len(rows)),
            columns=list(REJECTED_COLUMNS),
        )
        return frame.astype(REJECTED_DTYPES)


def _reject_older_duplicates(
    number: pd.Series, updated: pd.Series, lines: np.ndarray, verdicts: _Verdicts, name: str
) -> None:
    """Of usable rows sharing a number, keep the newest `updated` (the first of equals)."""
    usable = np.flatnonzero(~verdicts.bad)
    codes, uniques = pd.factorize(number.iloc[usable])
    if not len(codes) or np.bincount(codes).max() < 2:
        return
    newest_first = -np.maximum(_sort_key(updated)[usable], np.iinfo(np.int64).min + 1)
    order = np.lexsort((usable, newest_first, codes))
    ordered = codes[order]
    first = _first_of_runs(ordered)
    kept_of_code = np.empty(len(uniques), dtype=np.int64)
    kept_of_code[ordered[first]] = usable[order[first]]
    older = usable[order[~first]]
    kept = pd.Series(kept_of_code[ordered[~first]], index=older)
    mask = np.zeros(len(verdicts.bad), dtype=bool)
    mask[older] = True
    verdicts.reject(
        mask,
        "duplicate number",
        lambda rows: [
            f"duplicate number {number.iloc[row]}: line {lines[kept[row]]} is kept "
            f"({name} {_iso(updated.iloc[kept[row]])}; this row {_iso(updated.iloc[row])})"
            for row in rows
        ],
    )


def _reject_incidents_of_bad_latest(
    number: pd.Series,
    codes: np.ndarray,
    latest: np.ndarray,
    lines: np.ndarray,
    verdicts: _Verdicts,
    incident_count: int,
) -> None:
    """Reject every event of an incident whose latest event is rejected, saying why."""
    bad_latest = latest[verdicts.bad[latest]]
    if not len(bad_latest):
        return
    for row in bad_latest:  # one per rejected incident: few
        verdicts.reasons[row] = (
            f"{verdicts.reasons[row]}; it is the latest event of {number.iloc[row]}, "
            "so the incident is rejected as a whole"
        )
    latest_of = np.full(incident_count, -1, dtype=np.int64)
    latest_of[codes[latest]] = latest
    rejected = np.zeros(incident_count, dtype=bool)
    rejected[codes[bad_latest]] = True
    verdicts.reject(
        (codes >= 0) & rejected[np.maximum(codes, 0)],
        "incident rejected",
        lambda rows: [
            f"{number.iloc[row]} is rejected as a whole: its latest event "
            f"(line {lines[latest_of[codes[row]]]}) is unusable"
            for row in rows
        ],
    )


# --- fields ---------------------------------------------------------------------------


def _check_timezone(timezone: str) -> None:
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        raise ImpactlensError(
            f"unknown time zone {timezone!r} (expected an IANA name such as 'Europe/Paris')"
        ) from None


def _field_names(raw: pd.DataFrame) -> pd.DataFrame:
    """`raw` with field labels (``Assignment group``, ``Opened``) renamed to field names."""
    renames: dict[Any, str] = {}
    for column in raw.columns:
        if not isinstance(column, str) or column in FIELDS:
            continue
        key = column.strip().lower().replace(" ", "_")
        name = key if key in FIELDS else LABELS.get(key)
        if name and name not in raw.columns and name not in renames.values():
            renames[column] = name
    return raw.rename(columns=renames) if renames else raw


def _no_data(frame: pd.DataFrame) -> bool:
    """No rows and no columns: an empty JSON list, or nothing at all."""
    return len(frame) == 0 and len(frame.columns) == 0


def _positional(
    raw: pd.DataFrame, frame: pd.DataFrame
) -> tuple[np.ndarray, pd.DataFrame, pd.DataFrame]:
    """File lines, and the frames indexed by row position."""
    if raw.index.name == "line":  # as `ingest.read.read_rows` numbers the rows
        lines = raw.index.to_numpy(dtype=np.int64)
    else:
        lines = np.arange(len(raw), dtype=np.int64) + LINE_OFFSET
    return lines, frame.reset_index(drop=True), raw.reset_index(drop=True)


def _text(values: pd.Series) -> pd.Series:
    """Text with surrounding blanks stripped; empty, ``?``, ``NULL`` and ``N/A`` are missing."""
    text = values.astype("string").str.strip()
    return text.mask(text.str.lower().isin(MISSING))


def _preferred_text(frame: pd.DataFrame, fields: Sequence[str]) -> pd.Series:
    """The first present, non-missing text of `fields`, display values (``dv_``) first."""
    result: pd.Series | None = None
    for field in fields:
        for name in (f"dv_{field}", field):
            if name in frame.columns:
                text = _text(frame[name])
                result = text if result is None else result.fillna(text)
    if result is None:
        return pd.Series(pd.NA, index=frame.index, dtype="string")
    return result


def _quoted(text: pd.Series, rows: np.ndarray) -> pd.Series:
    return "'" + text.loc[rows].fillna("") + "'"


def _numbers(text: pd.Series, labels: dict[str, int] | None = None) -> pd.Series:
    """Whole numbers from text like ``2``, ``2.0`` or ``2 - High`` (or a label); else NA."""
    codes, uniques = pd.factorize(text)
    distinct = pd.Series(uniques, dtype="string")
    numbers = pd.to_numeric(distinct.str.extract(LEADING_NUMBER, expand=False), errors="coerce")
    if labels:
        numbers = numbers.fillna(distinct.str.lower().map(labels).astype("Float64"))
    numbers = numbers.where(numbers < 1e15).astype("Int64")
    return pd.Series(numbers.array.take(codes, allow_fill=True), index=text.index)


def _incident_fields(frame: pd.DataFrame, verdicts: _Verdicts) -> dict[str, pd.Series]:
    """Typed text and number fields of `frame`'s rows, rejecting unreadable values."""
    fields: dict[str, pd.Series] = {
        name: _preferred_text(frame, sources) for name, sources in TEXT_FIELDS.items()
    }
    fields["state"] = fields["state"].replace(STATES)
    priority_text = _text(frame["priority"])
    priority = _numbers(priority_text, PRIORITY_LABELS)
    verdicts.reject(priority_text.isna(), "missing value", "missing priority")
    verdicts.reject(
        ~priority.between(1, 5).fillna(False),
        "bad priority",
        lambda rows: "priority " + _quoted(priority_text, rows) + " is not a priority from 1 to 5",
    )
    fields["priority"] = priority
    for field, labels in (
        ("impact", LEVEL_LABELS),
        ("urgency", LEVEL_LABELS),
        ("reassignment_count", None),
        ("reopen_count", None),
    ):
        if field not in frame.columns:
            fields[field] = pd.Series(pd.NA, index=frame.index, dtype="Int64")
            continue
        text = _text(frame[field])
        values = _numbers(text, labels)
        what = "a number (or High, Medium, Low)" if labels else "a whole number"
        verdicts.reject(
            text.notna() & values.isna(),
            "bad number",
            lambda rows, field=field, text=text, what=what: (
                f"{field} " + _quoted(text, rows) + f" is not {what}"
            ),
        )
        fields[field] = values
    return fields


# --- moments --------------------------------------------------------------------------


def _updated_name(frame: pd.DataFrame) -> str:
    return next((n for n in ("sys_updated_on", "sys_updated_at") if n in frame.columns), "updated")


def _moments_of(
    frame: pd.DataFrame,
    verdicts: _Verdicts,
    *,
    timezone: str,
    day_first: bool,
) -> dict[str, pd.Series]:
    """UTC timestamps of every row; rows with an unreadable one are rejected.

    ``updated_at`` is present only when the frame has ``sys_updated_on``/``_at``.
    """
    moments: dict[str, pd.Series] = {}
    order = "day-first" if day_first else "month-first"
    for name, field in (
        ("opened_at", "opened_at"),
        ("resolved_at", "resolved_at"),
        ("closed_at", "closed_at"),
        ("updated_at", _updated_name(frame)),
    ):
        if field not in frame.columns:
            if name != "updated_at":
                moments[name] = pd.Series(pd.NaT, index=frame.index, dtype=UTC)
            continue
        text = _text(frame[field])
        moments[name] = parsed = _moments(text, timezone=timezone, day_first=day_first)
        verdicts.reject(
            text.notna() & parsed.isna(),
            "bad timestamp",
            lambda rows, field=field, text=text: [
                f"{field} '{value}' is not a date"
                + ("" if re.match(r"\d{4}-", value) else f" ({order})")
                for value in text.loc[rows]
            ],
        )
    return moments


def _check_times(moments: dict[str, pd.Series], verdicts: _Verdicts) -> None:
    """Reject rows without opened_at, or resolved before they were opened."""
    opened, resolved = moments["opened_at"], moments["resolved_at"]
    verdicts.reject(opened.isna(), "missing value", "missing opened_at")
    verdicts.reject(
        resolved < opened,
        "resolved before opened",
        lambda rows: [
            f"resolved_at {_iso(resolved.loc[row])} is before opened_at {_iso(opened.loc[row])}"
            for row in rows
        ],
    )


def _moments(text: pd.Series, *, timezone: str, day_first: bool) -> pd.Series:
    """Timestamps from text, in UTC; NaT where missing or unreadable.

    Each distinct text is parsed once: an event log repeats its timestamps many times.
    """
    codes, uniques = pd.factorize(text)
    parsed = _parse_moments(
        pd.Series(uniques, dtype="string"), timezone=timezone, day_first=day_first
    )
    return pd.Series(parsed.array.take(codes, allow_fill=True), index=text.index)


def _parse_moments(values: pd.Series, *, timezone: str, day_first: bool) -> pd.Series:
    """Parse ISO 8601 (with or without an offset) and the day- or month-first formats."""
    result = pd.Series(pd.NaT, index=values.index, dtype=UTC)
    if values.empty:
        return result
    aware = values.str.contains(AWARE, regex=True).to_numpy(dtype=bool, na_value=False)
    if aware.any():
        result[aware] = pd.to_datetime(
            values[aware], format="ISO8601", utc=True, errors="coerce"
        ).astype(UTC)
    naive = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us]")
    dates = DAY_FIRST_DATES if day_first else MONTH_FIRST_DATES
    for form in ("ISO8601", *(date + time for date in dates for time in TIMES)):
        todo = ~aware & naive.isna().to_numpy()
        if not todo.any():
            break
        naive[todo] = pd.to_datetime(values[todo], format=form, errors="coerce").astype(
            "datetime64[us]"
        )
    local = ~aware & naive.notna().to_numpy()
    if local.any():
        if timezone == "UTC":
            result[local] = naive[local].dt.tz_localize("UTC")
        else:
            # A time in the autumn repeat is taken in summer time (the first of the two);
            # one in the spring gap is moved forward: both are real times, not bad data.
            result[local] = (
                naive[local]
                .dt.tz_localize(
                    timezone,
                    ambiguous=np.ones(int(local.sum()), dtype=bool),
                    nonexistent="shift_forward",
                )
                .dt.tz_convert("UTC")
            )
    return result


def _latest(*moments: pd.Series) -> pd.Series:
    return pd.concat(moments, axis=1).max(axis=1).astype(UTC)


def _sort_key(moments: pd.Series) -> np.ndarray:
    """Microseconds since the epoch, NaT first (the smallest int64)."""
    return moments.to_numpy(dtype="datetime64[us]").view(np.int64)


def _iso(moment: Any) -> str:
    return "missing" if pd.isna(moment) else pd.Timestamp(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- output frames --------------------------------------------------------------------

INCIDENT_DTYPES: dict[str, Any] = {name: "string" for name in INCIDENT_COLUMNS} | {
    "opened_at": UTC,
    "resolved_at": UTC,
    "closed_at": UTC,
    "updated_at": UTC,
    "priority": "int64",
    "impact": "Int64",
    "urgency": "Int64",
    "reassignment_count": "Int64",
    "reopen_count": "Int64",
}
HISTORY_DTYPES = {"source": "string", "incident_id": "string", "at": UTC, "assignment_group": "string", "support_tier": "string"}  # fmt: skip
REJECTED_DTYPES = {"source": "string", "line": "int64", "problem": "string", "reason": "string", "raw": "string"}  # fmt: skip


def _incident_frame(
    source: str,
    number: pd.Series,
    moments: dict[str, pd.Series],
    fields: dict[str, pd.Series],
    rows: np.ndarray,
) -> pd.DataFrame:
    """Canonical incidents from the rows at positions `rows`."""
    index = pd.RangeIndex(len(rows))
    data: dict[str, Any] = {name: pd.NA for name in INCIDENT_COLUMNS}
    for name, series in (fields | moments).items():
        data[name] = series.loc[rows].reset_index(drop=True)
    data["source"] = source
    data["incident_id"] = number.loc[rows].reset_index(drop=True)
    data["priority"] = data["priority"].to_numpy(dtype=np.int64, na_value=0)
    frame = pd.DataFrame(data, index=index, columns=list(INCIDENT_COLUMNS))
    return frame.astype(INCIDENT_DTYPES)


def _history_frame(
    source: str, incident_id: pd.Series, at: pd.Series, group: pd.Series
) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "source": source,
            "incident_id": incident_id.reset_index(drop=True),
            "at": at.reset_index(drop=True),
            "assignment_group": group.reset_index(drop=True),
            "support_tier": pd.NA,
        },
        index=pd.RangeIndex(len(incident_id)),
        columns=list(HISTORY_COLUMNS),
    )
    return frame.astype(HISTORY_DTYPES)


def _empty_batch() -> IngestBatch:
    def empty(dtypes: dict[str, Any]) -> pd.DataFrame:
        return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in dtypes.items()})

    return IngestBatch(empty(INCIDENT_DTYPES), empty(HISTORY_DTYPES), empty(REJECTED_DTYPES))
