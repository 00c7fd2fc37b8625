"""Event logs: many rows per incident, each one event, put in order and read as one.

Shared by every adapter whose file has a row per change of an incident (the ServiceNow
event log, a mapped CSV's ``activity_log`` and ``history`` files). All work on row
positions and on each row's incident code (`pandas.factorize` of the incident ids; -1 for
a row without one), vectorised:

- `event_order`: the rows in the order the incident lived them (by incident, then the
  given keys, then file position, so that of two events at one moment the later row in
  the file is the later event);
- `last_of_runs` / `first_of_runs`: the latest event of each incident, the first event
  of each run of equal values (a change of group);
- `group_changes`: the assignment history, one entry where an incident's group changes;
- `reject_whole_incidents`: an incident whose latest event is unusable is rejected as a
  whole, every one of its rows, each saying why.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from impactlens.ingest.rows import RowProblems

from impactlens.errors import excerpt

__all__ = [
    "event_order",
    "first_of_runs",
    "group_changes",
    "last_group_of",
    "last_of_runs",
    "reject_whole_incidents",
    "time_key",
]


def time_key(moments: pd.Series) -> np.ndarray:
    """Microseconds since the epoch of UTC `moments`, NaT first (the smallest int64)."""
    return moments.to_numpy(dtype="datetime64[us]").view(np.int64)


def event_order(codes: np.ndarray, keys: Sequence[np.ndarray], *, usable: np.ndarray) -> np.ndarray:
    """Positions of the `usable` rows that have an incident, in the order events happened.

    Sorted by incident code, then by each of `keys` in turn (numbers: a modification
    count, `time_key` of a timestamp), then by position in the file.

    >>> event_order(np.array([1, 0, 1, -1, 0]), [np.array([5, 9, 5, 0, 3])],
    ...             usable=np.ones(5, dtype=bool)).tolist()
    [4, 1, 0, 2]
    """
    rows = np.flatnonzero(np.asarray(usable, dtype=bool) & (codes >= 0))
    sort_keys = (rows, *(np.asarray(key)[rows] for key in reversed(keys)), codes[rows])
    return rows[np.lexsort(sort_keys)]


def last_of_runs(keys: np.ndarray) -> np.ndarray:
    """True at the last element of each run of equal `keys`.

    >>> last_of_runs(np.array([0, 0, 1, 2, 2])).tolist()
    [False, True, True, False, True]
    """
    last = np.ones(len(keys), dtype=bool)
    last[:-1] = keys[1:] != keys[:-1]
    return last


def first_of_runs(*keys: np.ndarray) -> np.ndarray:
    """True at the first element of each run over which all of `keys` stay equal.

    >>> first_of_runs(np.array([0, 0, 0, 1]), np.array([7, 7, 8, 8])).tolist()
    [True, False, True, True]
    """
    first = np.ones(len(keys[0]), dtype=bool)
    if len(first) > 1:
        first[1:] = np.logical_or.reduce([key[1:] != key[:-1] for key in keys])
    return first


def group_changes(
    order: np.ndarray, codes: np.ndarray, groups: pd.Series, *, usable: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The assignment history of ordered events: where each incident's group changes.

    Of the events in `order` (see `event_order`) that are `usable` and name a group,
    returns the positions of the history entries (an incident's first group, then each
    change of group; an event without a group is skipped) and each incident's last such
    event (for `last_group_of`).

    >>> groups = pd.Series(["Desk", None, "Desk", "Apps", "Desk"], dtype="string")
    >>> changes, last = group_changes(np.arange(5), np.zeros(5, dtype=np.int64), groups,
    ...                               usable=np.ones(5, dtype=bool))
    >>> changes.tolist(), last.tolist()
    ([0, 3, 4], [4])
    """
    group_codes, _ = pd.factorize(groups)
    events = order[np.asarray(usable, dtype=bool)[order] & (group_codes[order] >= 0)]
    changes = events[first_of_runs(codes[events], group_codes[events])]
    last_known = events[last_of_runs(codes[events])]
    return changes, last_known


def last_group_of(
    rows: np.ndarray, codes: np.ndarray, last_known: np.ndarray, groups: pd.Series
) -> pd.Series:
    """For each row of `rows`, the group of its incident's last event that named one
    (`group_changes`' second result); NA where none did. Indexed by `rows`."""
    incidents = int(codes.max()) + 1 if len(codes) else 0
    last_group = np.full(max(incidents, 1), None, dtype=object)
    last_group[codes[last_known]] = groups.iloc[last_known].to_numpy(dtype=object)
    return pd.Series(last_group[codes[rows]], index=rows, dtype="string")


def reject_whole_incidents(
    problems: RowProblems,
    ids: pd.Series,
    codes: np.ndarray,
    latest: np.ndarray,
    lines: np.ndarray,
) -> None:
    """Reject every event of an incident whose latest event (`latest`) is rejected.

    The latest event's reason gets ``...; it is the latest event of X, so the incident is
    rejected as a whole``; the incident's other rows get the problem ``incident rejected``
    and a reason naming the latest event's line.
    """
    bad_latest = latest[~problems.ok[latest]]
    if not len(bad_latest):
        return
    for row in bad_latest:  # one per rejected incident: few
        problems.reason[row] = (
            f"{problems.reason[row]}; it is the latest event of "
            f"{excerpt(ids.iloc[row], quote=False)}, so the incident is rejected as a whole"
        )
    incidents = int(codes.max()) + 1
    latest_of = np.full(incidents, -1, dtype=np.int64)
    latest_of[codes[latest]] = latest
    rejected = np.zeros(incidents, dtype=bool)
    rejected[codes[bad_latest]] = True
    problems.add(
        (codes >= 0) & rejected[np.maximum(codes, 0)],
        "incident rejected",
        lambda rows: [
            f"{excerpt(ids.iloc[row], quote=False)} is rejected as a whole: its latest event "
            f"(line {lines[latest_of[codes[row]]]}) is unusable"
            for row in rows
        ],
    )
