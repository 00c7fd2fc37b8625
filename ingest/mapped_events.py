"""Mapped CSVs with many rows per incident: an activity log, or a separate history file.

- `activity_log_batch`: the incidents file itself has a row per event (the mapping's
  ``activity_log``). Each incident is its latest event (by event time; of two at one
  moment, the later in the file): that row gives its state and every mapped field. What
  the columns do not give is read from the events: ``opened_at`` is the first event,
  ``updated_at`` the latest; with ``status``, ``state`` is the latest status, and with
  ``resolved_statuses`` ``resolved_at`` is when the incident last entered a resolved
  status (if it is still in one) and each step out of one is a reopen; with ``activity``
  and ``reopen_activities`` each such event is a reopen too (``reopen_count`` and the
  latest ``reopened_at``). The assignment history is one entry per change of ``group``,
  at the event's time; the incident's ``assignment_group`` and ``reassignment_count``,
  when not mapped, are its last group and its changes of group.
- `with_history_file`: the incidents file has a row per incident and a history file
  (``--history``, read through the mapping's ``history`` section) has the events: its
  changes of group become the assignment history, in the same way.

The rules of `ingest.events` are shared with the ServiceNow event log: a row that cannot
be placed (no incident, no readable time) is rejected on its own; an incident whose
latest event is rejected is rejected as a whole.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from impactlens.ingest.batch import REJECTED_COLUMNS, IngestBatch
from impactlens.ingest.events import (
    event_order,
    first_of_runs,
    group_changes,
    last_group_of,
    last_of_runs,
    reject_whole_incidents,
    time_key,
)
from impactlens.ingest.mapping import CsvMapping
from impactlens.ingest.rows import (
    RowProblems,
    assemble_batch,
    history_frame,
    reject_bad_text,
    row_lines,
    rows_as_json,
)
from impactlens.ingest.values import (
    UTC,
    describe_formats,
    listed_values,
    missing_as_na,
    parse_timestamps,
)

from impactlens.errors import MissingColumnsError, excerpt

__all__ = ["activity_log_batch", "with_history_file"]


def activity_log_batch(
    raw: pd.DataFrame,
    columns: Mapping[str, pd.Series],
    mapping: CsvMapping,
    problems: RowProblems,
    *,
    source: str,
    lines: np.ndarray,
    raw_json: Callable[[np.ndarray], list[str]],
    names: Mapping[str, str],
    as_of: pd.Timestamp | str | None = None,
) -> IngestBatch:
    """Incidents and assignment history from an activity log (see the module text).

    `columns` are the mapped columns, one value per row of `raw` (as `parse_mapped_csv`
    reads them, with the problems it found in `problems`); `names` maps canonical
    columns to the file's names, for reasons.
    """
    log = mapping.activity_log
    assert log is not None  # the caller checked
    frame = raw.reset_index(drop=True)
    ids = columns["incident_id"]
    problems.add(ids.isna(), "missing value", f"missing {names.get('incident_id')}")
    times = _event_times(frame[log.event_time], log.event_time, mapping, problems)

    codes, _ = pd.factorize(ids)  # -1 for a row without an incident
    count = int(codes.max(initial=-1)) + 1
    order = event_order(codes, [time_key(times)], usable=times.notna().to_numpy())
    latest = order[last_of_runs(codes[order])]
    events = order[problems.ok[order]]  # the usable events, in order
    groups = _text(frame, log.group, mapping.values.get("assignment_group", {}))
    changes, last_known = group_changes(order, codes, groups, usable=problems.ok)

    incident = {
        name: values.iloc[latest].reset_index(drop=True) for name, values in columns.items()
    }
    at = codes[latest]  # each incident's code, in the order of `latest`

    def fill(name: str, values: Any) -> None:
        """Give the incidents `values` for `name` unless a column is mapped to it."""
        if name not in columns:
            incident[name] = pd.Series(values).reset_index(drop=True)

    first_event = events[first_of_runs(codes[events])]
    fill("opened_at", _per_incident(times, codes, first_event, count).iloc[at])
    fill("updated_at", times.iloc[latest])
    if log.status is not None:
        status = missing_as_na(frame[log.status])
        state = listed_values(status, mapping.values.get("state", {})).fillna(status)
        fill("state", state.iloc[latest])
    resolved = _listed(frame, log.status, log.resolved_statuses)
    reopens = np.zeros(len(events), dtype=bool)
    if log.resolved_statuses:
        fill("resolved_at", _resolved_since(events, codes, resolved, times, count).iloc[at])
        same_incident = np.zeros(len(events), dtype=bool)
        same_incident[1:] = codes[events][1:] == codes[events][:-1]
        reopens[1:] = resolved[events][:-1] & ~resolved[events][1:]
        reopens &= same_incident
    if log.reopen_activities:
        reopens |= _listed(frame, log.activity, log.reopen_activities)[events]
    if log.resolved_statuses or log.reopen_activities:
        reopened = events[reopens]
        fill("reopen_count", np.bincount(codes[reopened], minlength=count)[at])
        fill("reopened_at", _per_incident(times, codes, reopened, count).iloc[at])
    entries = np.bincount(codes[changes], minlength=count)[at]
    reassignments = pd.Series(np.maximum(entries - 1, 0), dtype="Int64")
    fill("reassignment_count", reassignments.where(entries > 0))  # no group: not known
    last_group = last_group_of(latest, codes, last_known, groups).reset_index(drop=True)
    incident["assignment_group"] = incident.get("assignment_group", last_group).fillna(last_group)

    # The incident checks every adapter shares, on the latest events; then every event of
    # an incident whose latest event is rejected is rejected with it.
    checked = RowProblems(len(latest))
    checked.problem[:], checked.reason[:] = problems.problem[latest], problems.reason[latest]
    batch = assemble_batch(
        incident,
        problems=checked,
        raw_json=lambda rows: raw_json(latest[rows]),
        lines=lines[latest],
        source=source,
        names=names,
        as_of=as_of,
    )
    problems.problem[latest], problems.reason[latest] = checked.problem, checked.reason
    reject_whole_incidents(problems, ids, codes, latest, lines)
    accepted = np.zeros(count, dtype=bool)
    accepted[codes[latest[problems.ok[latest]]]] = True
    kept = changes[accepted[codes[changes]]]
    history = history_frame(ids.iloc[kept], times.iloc[kept], groups.iloc[kept], source=source)
    rejected = problems.rejected(source=source, lines=lines, raw_json=raw_json)
    return IngestBatch(batch.incidents, history, rejected)


def with_history_file(
    batch: IngestBatch,
    history: pd.DataFrame,
    mapping: CsvMapping,
    *,
    source: str,
    file_ids: Iterable[str],
) -> IngestBatch:
    """`batch` with the assignment history of a history file (the mapping's ``history``).

    Each incident's events are ordered by time (of two at one moment, the later in the
    file); each change of group is an entry at that time (an event without a group is
    skipped). An incident the file gives no group keeps the entry of its own
    ``assignment_group`` at ``opened_at``; one without an ``assignment_group`` takes its
    last group from the file, and one without a ``reassignment_count`` its changes of
    group. A history row is rejected, with ``history file:`` before its reason, when its
    incident or time is missing or unreadable, or its incident is not in the batch
    (`file_ids`: the incident ids of the incidents file, to tell a quarantined incident
    from an unknown one).
    """
    spec = mapping.history
    assert spec is not None  # the caller checked
    from impactlens.ingest.mapped_csv import clean_headers  # the one header rule

    raw = clean_headers(history)
    named = list(dict.fromkeys((spec.incident_id, spec.event_time, spec.group)))
    missing = [column for column in named if column not in raw.columns]
    if missing:
        raise MissingColumnsError(
            missing, where=f"history CSV for mapping {excerpt(mapping.source)}"
        )
    lines = row_lines(raw)
    frame = raw.reset_index(drop=True)
    problems = RowProblems(len(frame))
    ids = missing_as_na(frame[spec.incident_id])
    problems.add(ids.isna(), "missing value", f"history file: missing {spec.incident_id}")
    times = _event_times(
        frame[spec.event_time], f"history file: {spec.event_time}", mapping, problems
    )
    incidents = batch.incidents
    known = ids.isin(set(incidents["incident_id"].dropna())).to_numpy(dtype=bool)
    quarantined = ids.isin(set(file_ids)).to_numpy(dtype=bool) & ~known
    values = ids.to_numpy(dtype=object)
    problems.add(
        quarantined,
        "unknown incident",
        lambda rows: [
            f"history file: incident {excerpt(values[row])} has no accepted row in the "
            "incidents file (its rows there are quarantined)"
            for row in rows
        ],
    )
    problems.add(
        ids.notna().to_numpy(dtype=bool) & ~known,
        "unknown incident",
        lambda rows: [
            f"history file: incident {excerpt(values[row])} is not in the incidents file"
            for row in rows
        ],
    )
    groups = _text(frame, spec.group, mapping.values.get("assignment_group", {}))
    codes, _ = pd.factorize(ids.where(problems.ok))
    order = event_order(codes, [time_key(times)], usable=problems.ok)
    changes, last_known = group_changes(order, codes, groups, usable=problems.ok)
    from_file = history_frame(
        ids.iloc[changes], times.iloc[changes], groups.iloc[changes], source=source
    )

    # Incidents the file gives no group keep the entry of their own group.
    given = set(from_file["incident_id"])
    own = batch.history[~batch.history["incident_id"].isin(given)]
    combined = pd.concat([own, from_file], ignore_index=True)
    last = pd.Series(groups.iloc[last_known].to_numpy(), index=ids.iloc[last_known].to_numpy())
    entries = from_file["incident_id"].value_counts()
    incidents = incidents.assign(
        assignment_group=incidents["assignment_group"].fillna(
            incidents["incident_id"].map(last).astype("string")
        ),
        reassignment_count=incidents["reassignment_count"].fillna(
            (incidents["incident_id"].map(entries) - 1).astype("Int64")
        ),
    )
    rejected = problems.rejected(
        source=source, lines=lines, raw_json=lambda rows: rows_as_json(raw.iloc[rows])
    )
    return IngestBatch(
        incidents,
        combined.reset_index(drop=True),
        pd.concat([batch.rejected, rejected], ignore_index=True)[list(REJECTED_COLUMNS)],
    )


def _event_times(
    text: pd.Series, where: str, mapping: CsvMapping, problems: RowProblems
) -> pd.Series:
    """Each row's event time (UTC); rows without a readable one are rejected."""
    text = missing_as_na(text.reset_index(drop=True))
    times, bad = parse_timestamps(
        text, formats=mapping.date_formats, day_first=mapping.day_first, timezone=mapping.timezone
    )
    why = f"is not a date ({describe_formats(mapping.date_formats, mapping.day_first)})"
    reject_bad_text(problems, bad, problem="bad timestamp", where=where, text=text, why=why)
    problems.add(text.isna(), "missing value", f"missing {where}")
    return times


def _text(frame: pd.DataFrame, column: str | None, listed: Mapping[str, Any]) -> pd.Series:
    """A column's text through a value map (NA throughout when there is no column)."""
    if column is None:
        return pd.Series(pd.NA, index=frame.index, dtype="string")
    text = missing_as_na(frame[column])
    return listed_values(text, listed).fillna(text).astype("string")


def _listed(frame: pd.DataFrame, column: str | None, values: tuple[str, ...]) -> np.ndarray:
    """True for each row whose `column` is one of `values` (ignoring case and spaces)."""
    if column is None or not values:
        return np.zeros(len(frame), dtype=bool)
    folded = missing_as_na(frame[column]).str.casefold()
    return folded.isin({value.strip().casefold() for value in values}).to_numpy(dtype=bool)


def _per_incident(times: pd.Series, codes: np.ndarray, rows: np.ndarray, count: int) -> pd.Series:
    """Per incident code (the position), the time of its event among `rows` (the last,
    if several; NaT for an incident with none), in UTC."""
    moments = np.full(count, np.datetime64("NaT"), dtype="datetime64[us]")
    moments[codes[rows]] = times.iloc[rows].to_numpy(dtype="datetime64[us]")
    return pd.Series(moments).dt.tz_localize("UTC").astype(UTC)


def _resolved_since(
    events: np.ndarray, codes: np.ndarray, resolved: np.ndarray, times: pd.Series, count: int
) -> pd.Series:
    """Per incident code, when its last run of resolved statuses began, if its latest
    event is in one (NaT otherwise): when the service was last restored."""
    run_start = first_of_runs(codes[events], resolved[events])
    start_of = np.maximum.accumulate(np.where(run_start, np.arange(len(events)), 0))
    last = np.flatnonzero(last_of_runs(codes[events]))
    last = last[resolved[events[last]]]
    return _per_incident(times, codes, events[start_of[last]], count)
