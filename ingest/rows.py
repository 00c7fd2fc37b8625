"""Rejecting rows and assembling the `IngestBatch`: the last step every adapter takes.

- `RowProblems` collects the first problem of each row and lists the rejected rows;
  `reject_before_opened` and `reject_older_duplicates` are the checks every adapter
  shares, `incident_frame` and `history_frame` type the output; `assemble_batch` applies
  them all (required values, order of timestamps, duplicates keep the newest
  ``updated_at``) and builds the `IngestBatch`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from impactlens.ingest.batch import (
    HISTORY_COLUMNS,
    INCIDENT_COLUMNS,
    REJECTED_COLUMNS,
    TIMESTAMP_COLUMNS,
    IngestBatch,
)
from impactlens.ingest.values import (
    INTEGER_COLUMNS,
    LINE_OFFSET,
    UTC,
)

from impactlens.errors import excerpt
from impactlens.moments import utc_moment

__all__ = [
    "KNOWN_MOMENTS",
    "RowProblems",
    "assemble_batch",
    "duplicate_reason",
    "history_frame",
    "incident_frame",
    "iso_moment",
    "older_duplicates",
    "opening_history",
    "reject_bad_text",
    "reject_before_opened",
    "reject_older_duplicates",
    "reopens_counted",
    "row_lines",
    "rows_as_json",
]

# What ``updated_at`` defaults to the latest of: every moment the row knows of.
KNOWN_MOMENTS = ("opened_at", "resolved_at", "closed_at", "reopened_at")


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
        # numpy's stubs take no None operand; on an object array it compares elementwise.
        return np.equal(self.problem, None)  # type: ignore[call-overload]

    def add(
        self,
        mask: pd.Series | np.ndarray | Sequence[bool],
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
    # A reason quotes the value, cut short: a 2 MB cell must not make a 2 MB reason.
    return [excerpt(str(value)) for value in np.asarray(values, dtype=object)[rows]]


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

        def before_opened(
            found: np.ndarray, stamps: pd.Series = stamps, column: str = column
        ) -> list[str]:
            return [
                f"{label[column]} {iso_moment(stamps.iloc[i])} is before {label['opened_at']} "
                f"{iso_moment(opened.iloc[i])}"
                for i in found
            ]

        problems.add(
            stamps.iloc[at].array < opened.iloc[at].array,
            f"{column.removesuffix('_at')} before opened",
            before_opened,
            rows=at,
        )


def older_duplicates(
    ids: pd.Series, updated: pd.Series, usable: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The one rule for an incident id seen twice: the row updated last wins.

    Of the `usable` rows that share an id, the one with the newest `updated` is kept; on
    a tie (NaT is oldest) the first. Returns a mask of the other rows, and for each row
    the position of the row kept for its id (-1 for rows not usable).

    >>> ids = pd.Series(["A", "B", "A", "A"])
    >>> updated = pd.Series(pd.to_datetime(["2026-11-01", "2026-11-01", "2026-11-03",
    ...                                     "2026-11-03"], utc=True))
    >>> older, kept = older_duplicates(ids, updated, np.ones(4, dtype=bool))
    >>> older.tolist(), kept.tolist()
    ([True, False, False, True], [2, 1, 2, 2])
    """
    usable = np.asarray(usable, dtype=bool) & ids.notna().to_numpy(dtype=bool)
    keeper = np.full(len(ids), -1, dtype=np.int64)
    rows = np.flatnonzero(usable)
    order = pd.DataFrame({"id": ids.to_numpy()[rows], "updated": updated.array[rows], "row": rows})
    newest_first = order.sort_values(["updated", "row"], ascending=[False, True], kind="stable")
    kept = newest_first.drop_duplicates("id", keep="first").set_index("id")["row"]
    keeper[rows] = kept.loc[order["id"]].to_numpy()
    return usable & (keeper != np.arange(len(ids))), keeper


def reject_older_duplicates(
    problems: RowProblems,
    ids: pd.Series,
    updated: pd.Series,
    *,
    problem: str,
    message: Callable[[int, int], str],
) -> None:
    """Of the rows without a problem that share an id, keep the one updated last
    (`older_duplicates`). The others get `problem` and the reason
    ``message(row, kept_row)``, both row positions."""
    usable = problems.ok & ids.notna().to_numpy(dtype=bool)
    if not ids[usable].duplicated().any():
        return
    older, keeper = older_duplicates(ids, updated, usable)
    problems.add(older, problem, lambda at: [message(i, int(keeper[i])) for i in at])


def duplicate_reason(incident_id: Any, kept: str, kept_updated: Any, updated: Any) -> str:
    """Why a row whose id another row has was not kept (the same words for every format)."""
    return (
        f"duplicate incident_id {excerpt(incident_id, quote=False)}: kept {kept} "
        f"(updated_at {iso_moment(kept_updated)}); this row's updated_at "
        f"{iso_moment(updated)} is not newer"
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
    ``resolved_at``, ``closed_at`` or ``reopened_at`` is before ``opened_at``, when opened
    after `as_of`, and when another usable row has the same ``incident_id`` and a newer
    ``updated_at`` (on a tie the first row is kept). ``updated_at`` defaults to the latest
    of `KNOWN_MOMENTS`; a ``reopened_at`` counts as a reopen (`reopens_counted`).
    """
    rows = len(lines)
    names = dict(names or {})
    label = {column: names.get(column, column) for column in INCIDENT_COLUMNS}
    data = {column: _typed(column, columns.get(column), rows) for column in INCIDENT_COLUMNS}
    data["service_id"] = pd.Series(pd.NA, index=range(rows), dtype="string")

    for column in ("incident_id", "opened_at", "priority"):
        problems.add(data[column].isna().to_numpy(), "missing value", f"missing {label[column]}")
    opened = data["opened_at"]
    later = {column: data[column] for column in ("resolved_at", "closed_at", "reopened_at")}
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

    data["reopen_count"] = reopens_counted(data["reopen_count"], data["reopened_at"])
    latest = pd.concat([data[c] for c in KNOWN_MOMENTS], axis=1)
    ids = data["incident_id"]
    updated = data["updated_at"] = data["updated_at"].fillna(latest.max(axis=1)).astype(UTC)
    reject_older_duplicates(
        problems,
        ids,
        updated,
        problem="duplicate incident_id",
        message=lambda row, kept: duplicate_reason(
            ids.iloc[row], place(int(lines[kept])), updated.iloc[kept], updated.iloc[row]
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
        lines=np.asarray(lines)[np.flatnonzero(good)],
    )


def reopens_counted(reopen_count: pd.Series, reopened_at: pd.Series) -> pd.Series:
    """``reopen_count`` with at least one reopen wherever ``reopened_at`` is known.

    A reopen time is one reopen, whether or not the source also counts them.

    >>> reopens_counted(pd.Series([pd.NA, 0, 2, pd.NA], dtype="Int64"),
    ...                 pd.Series(pd.to_datetime([None, "2026-11-02", "2026-11-03", "2026-11-04"],
    ...                                          utc=True))).tolist()
    [<NA>, 1, 2, 1]
    """
    counts = pd.Series(reopen_count).reset_index(drop=True).astype("Int64")
    reopened = pd.Series(reopened_at).reset_index(drop=True).notna().to_numpy(dtype=bool)
    if not reopened.any():
        return counts
    raised = counts.fillna(0).clip(lower=1)
    return counts.mask(pd.Series(reopened), raised).astype("Int64")


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

    def column(values: Any, dtype: Literal["string", "datetime64[us, UTC]"]) -> pd.Series:
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
