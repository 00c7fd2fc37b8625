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

In the event log an incident is its latest event, except that when that event has no
``assignment_group`` (``?``) the incident keeps the last group its earlier events knew:
the group of its last entry in the history. The history itself is left as it is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import pandas as pd
from impactlens.engine.columns import require_columns
from impactlens.ingest.batch import IngestBatch
from impactlens.ingest.events import (
    event_order,
    group_changes,
    last_group_of,
    last_of_runs,
    reject_whole_incidents,
    time_key,
)
from impactlens.ingest.rows import (
    RowProblems,
    assemble_batch,
    history_frame,
    incident_frame,
    iso_moment,
    reject_before_opened,
    reject_older_duplicates,
    row_lines,
    rows_as_json,
)
from impactlens.ingest.values import (
    check_timezone,
    date_time_formats,
    leading_number,
    missing_as_na,
    parse_timestamps,
)

from impactlens.errors import excerpt

__all__ = ["parse_servicenow", "parse_servicenow_eventlog"]

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
UTC: Final = "datetime64[us, UTC]"


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
    check_timezone(timezone)
    frame = _field_names(raw)
    if _no_data(frame):
        return _empty_batch(source)
    require_columns(frame, ("number", "opened_at", "priority"), where="ServiceNow incident export")
    frame, lines = frame.reset_index(drop=True), row_lines(raw)
    problems = RowProblems(len(frame))
    number = missing_as_na(frame["number"])
    problems.add(number.isna(), "missing value", "missing number")
    moments = _moments_of(frame, problems, timezone=timezone, day_first=day_first)
    _check_times(moments, problems)
    fields = _incident_fields(frame, problems)
    last_moment = pd.concat(
        [moments["opened_at"], moments["resolved_at"], moments["closed_at"]], axis=1
    ).max(axis=1)
    updated = moments["updated_at"] = moments.get("updated_at", last_moment).fillna(last_moment)
    name = _updated_name(frame)
    reject_older_duplicates(
        problems,
        number,
        updated,
        problem="duplicate number",
        message=lambda row, kept: (
            f"duplicate number {excerpt(number.iloc[row], quote=False)}: line {lines[kept]} is kept ({name} "
            f"{iso_moment(updated.iloc[kept])}; this row {iso_moment(updated.iloc[row])})"
        ),
    )

    kept = np.flatnonzero(problems.ok)
    incidents = _incident_frame(source, number, moments, fields, kept)
    with_group = incidents["assignment_group"].notna().to_numpy()
    history = history_frame(
        incidents["incident_id"][with_group],
        incidents["opened_at"][with_group],
        incidents["assignment_group"][with_group],
        source=source,
    )
    rejected = _rejected(problems, source, lines, raw)
    return IngestBatch(incidents, history, rejected, lines=np.asarray(lines)[kept])


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
    (missing groups skipped), at that row's ``sys_updated_at``. When its latest row has no
    group, its ``assignment_group`` is the last group of its history.

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
    check_timezone(timezone)
    frame = _field_names(raw)
    if _no_data(frame):
        return _empty_batch(source)
    required = ["number", "opened_at", "priority", "sys_mod_count"]
    if "sys_updated_on" not in frame.columns:
        required.append("sys_updated_at")
    require_columns(frame, required, where="ServiceNow event log")
    frame, lines = frame.reset_index(drop=True), row_lines(raw)
    problems = RowProblems(len(frame))

    # Row checks: what every event needs to take its place in its incident's sequence.
    number = missing_as_na(frame["number"])
    problems.add(number.isna(), "missing value", "missing number")
    mod_text = missing_as_na(frame["sys_mod_count"])
    mod_count = leading_number(mod_text, strict=True)
    mod_bad = mod_count.isna().to_numpy()
    problems.add(mod_text.isna(), "missing value", "missing sys_mod_count")
    problems.add(
        mod_bad,
        "bad number",
        lambda rows: "sys_mod_count " + _quoted(mod_text, rows) + " is not a whole number",
    )
    moments = _moments_of(frame, problems, timezone=timezone, day_first=day_first)
    updated = moments["updated_at"]
    problems.add(updated.isna(), "missing value", f"missing {_updated_name(frame)}")

    # Each incident's events in order; its latest event is the last of them.
    codes, _ = pd.factorize(number)  # missing numbers get -1
    order = event_order(
        codes,
        [mod_count.to_numpy(dtype=np.int64, na_value=-1), time_key(updated)],
        usable=~mod_bad,
    )
    latest = order[last_of_runs(codes[order])]

    # Incident checks, on latest events only: what an incident needs from its state.
    _check_times(moments, problems, rows=latest)
    fields = _incident_fields(frame.iloc[latest], problems)
    reject_whole_incidents(problems, number, codes, latest, lines)
    accepted = latest[problems.ok[latest]]

    # History: usable events of accepted incidents, in order, where the group changes.
    groups = _preferred_text(frame, ("assignment_group",))
    accepted_incident = np.zeros(int(codes.max(initial=-1)) + 1, dtype=bool)
    accepted_incident[codes[accepted]] = True
    usable = problems.ok & (codes >= 0) & accepted_incident[np.maximum(codes, 0)]
    changes, last_known = group_changes(order, codes, groups, usable=usable)
    history = history_frame(
        number.iloc[changes], updated.iloc[changes], groups.iloc[changes], source=source
    )

    # An incident whose latest event has no group keeps its last known one: the last of
    # its history (usable events only, as the history).
    fields["assignment_group"] = fields["assignment_group"].fillna(
        last_group_of(latest, codes, last_known, groups)
    )
    incidents = _incident_frame(source, number, moments, fields, accepted)
    rejected = _rejected(problems, source, lines, raw)
    # an incident's line: that of its latest event, which gave its state
    return IngestBatch(incidents, history, rejected, lines=np.asarray(lines)[accepted])


# --- fields ---------------------------------------------------------------------------


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


def _preferred_text(frame: pd.DataFrame, fields: Sequence[str]) -> pd.Series:
    """The first present, non-missing text of `fields`, display values (``dv_``) first."""
    result: pd.Series | None = None
    for field in fields:
        for name in (f"dv_{field}", field):
            if name in frame.columns:
                text = missing_as_na(frame[name])
                result = text if result is None else result.fillna(text)
    if result is None:
        return pd.Series(pd.NA, index=frame.index, dtype="string")
    return result


def _quoted(text: pd.Series, rows: np.ndarray) -> pd.Series:
    # Cut short: a 2 MB cell must not make a 2 MB reason.
    return text.loc[rows].fillna("").map(excerpt).astype("string")


def _numbers(text: pd.Series, labels: dict[str, int] | None = None) -> pd.Series:
    """Whole numbers from text like ``2``, ``2.0`` or ``2 - High`` (or a label); else NA."""
    numbers = leading_number(text, strict=True)
    if labels:
        numbers = numbers.fillna(text.str.lower().map(labels).astype("Int64"))
    return numbers


def _incident_fields(frame: pd.DataFrame, problems: RowProblems) -> dict[str, pd.Series]:
    """Typed text and number fields of `frame`'s rows (indexed by position), checked."""
    rows = frame.index.to_numpy()
    fields: dict[str, pd.Series] = {
        name: _preferred_text(frame, sources) for name, sources in TEXT_FIELDS.items()
    }
    fields["state"] = fields["state"].replace(STATES)
    priority_text = missing_as_na(frame["priority"])
    priority = _numbers(priority_text, PRIORITY_LABELS)
    problems.add(priority_text.isna(), "missing value", "missing priority", rows=rows)
    problems.add(
        ~priority.between(1, 5).fillna(False),
        "bad priority",
        lambda at: "priority " + _quoted(priority_text, at) + " is not a priority from 1 to 5",
        rows=rows,
    )
    fields["priority"] = priority
    for field, labels in (
        ("impact", LEVEL_LABELS),
        ("urgency", LEVEL_LABELS),
        ("reassignment_count", None),
        ("reopen_count", None),
    ):
        if field not in frame.columns:
            continue  # NA
        text = missing_as_na(frame[field])
        values = _numbers(text, labels)
        what = "a number (or High, Medium, Low)" if labels else "a whole number"

        def not_a_number(
            at: np.ndarray, field: str = field, text: pd.Series = text, what: str = what
        ) -> pd.Series:
            return f"{field} " + _quoted(text, at) + f" is not {what}"

        problems.add(text.notna() & values.isna(), "bad number", not_a_number, rows=rows)
        fields[field] = values
    return fields


# --- moments --------------------------------------------------------------------------


def _updated_name(frame: pd.DataFrame) -> str:
    return next((n for n in ("sys_updated_on", "sys_updated_at") if n in frame.columns), "updated")


def _moments_of(
    frame: pd.DataFrame, problems: RowProblems, *, timezone: str, day_first: bool
) -> dict[str, pd.Series]:
    """UTC timestamps of every row; rows with an unreadable one are rejected.

    ``updated_at`` is present only when the frame has ``sys_updated_on``/``_at``.
    """
    moments: dict[str, pd.Series] = {}
    formats = date_time_formats(day_first=day_first)
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
        text = frame[field]
        moments[name], bad = parse_timestamps(text, formats=formats, timezone=timezone)

        def not_a_date(rows: np.ndarray, field: str = field, text: pd.Series = text) -> list[str]:
            return [
                f"{field} {excerpt(value)} is not a date"
                + ("" if re.match(r"\d{4}-", value) else f" ({order})")
                for value in missing_as_na(text.iloc[rows])
            ]

        problems.add(bad, "bad timestamp", not_a_date)
    return moments


def _check_times(
    moments: dict[str, pd.Series], problems: RowProblems, *, rows: np.ndarray | None = None
) -> None:
    """Reject rows (of `rows`) without opened_at, or resolved before they were opened."""
    opened = moments["opened_at"]
    at = np.arange(len(opened)) if rows is None else rows
    problems.add(opened.isna().to_numpy()[at], "missing value", "missing opened_at", rows=at)
    reject_before_opened(problems, opened, {"resolved_at": moments["resolved_at"]}, rows=at)


# --- output frames --------------------------------------------------------------------


def _incident_frame(
    source: str,
    number: pd.Series,
    moments: dict[str, pd.Series],
    fields: dict[str, pd.Series],
    rows: np.ndarray,
) -> pd.DataFrame:
    """Canonical incidents from the rows at positions `rows`."""
    columns = {name: series.loc[rows] for name, series in (fields | moments).items()}
    return incident_frame(columns | {"incident_id": number.loc[rows]}, source=source)


def _rejected(
    problems: RowProblems, source: str, lines: np.ndarray, raw: pd.DataFrame
) -> pd.DataFrame:
    return problems.rejected(
        source=source, lines=lines, raw_json=lambda rows: rows_as_json(raw.iloc[rows])
    )


def _empty_batch(source: str) -> IngestBatch:
    """The batch of an export with no records: no rows, every column typed."""
    lines = np.empty(0, dtype=np.int64)
    return assemble_batch({}, problems=RowProblems(0), raw_json=list, lines=lines, source=source)
