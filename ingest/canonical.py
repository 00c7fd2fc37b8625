"""The canonical incident CSV: read it, then split its rows into incidents and rejects.

Columns: ``incident_id, opened_at, priority`` are required; ``resolved_at, closed_at,
updated_at, state, impact, urgency, ci, category, subcategory, assignment_group,
location, short_description, reassignment_count, reopen_count, support_tier,
reopened_at, service_component`` are optional. Timestamps are ISO 8601; naive means UTC
(a ``reopened_at`` is one reopen: ``reopen_count`` is at least 1 where it is given). A row that cannot be scored is
rejected with its reason and never sinks the batch.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from impactlens.engine.columns import require_columns
from impactlens.ingest.batch import REJECTED_COLUMNS, IngestBatch
from impactlens.ingest.canonical_file import (
    LINE_OFFSET,
    read_canonical_csv,
    read_canonical_records,
    record_start_lines,
)
from impactlens.ingest.rows import duplicate_reason, older_duplicates, reopens_counted

from impactlens.errors import excerpt
from impactlens.moments import utc_moment

__all__ = [
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "canonical_batch",
    "parse_canonical_incidents",
    "read_canonical_csv",
    "read_canonical_records",
    "record_start_lines",
]

REQUIRED_COLUMNS = ("incident_id", "opened_at", "priority")
OPTIONAL_COLUMNS = (
    "resolved_at",
    "closed_at",
    "updated_at",
    "state",
    "impact",
    "urgency",
    "ci",
    "category",
    "subcategory",
    "assignment_group",
    "location",
    "short_description",
    "reassignment_count",
    "reopen_count",
    "support_tier",
    "reopened_at",
    "service_component",
)
TEXT_COLUMNS = (
    "state",
    "ci",
    "category",
    "subcategory",
    "assignment_group",
    "location",
    "short_description",
    "support_tier",
    "service_component",
)

Message = str | Callable[[pd.Index], pd.Series]
Reject = Callable[[pd.Series | np.ndarray, str, Message], None]


def parse_canonical_incidents(
    raw: pd.DataFrame, *, as_of: pd.Timestamp | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split raw rows into typed incidents and rejected rows with a ``reason``.

    Incidents get ``opened_at``, ``resolved_at``, ``closed_at`` and ``updated_at`` as UTC
    timestamps (``updated_at`` defaults to the latest of the others), ``priority`` as
    int, ``impact``/``urgency`` as Int64, text columns as strings, and a ``line`` column
    (the row's line in the file). A row is rejected when: ``incident_id``, ``opened_at``
    or ``priority`` is missing; a timestamp is not ISO 8601; ``resolved_at`` or
    ``closed_at`` is before ``opened_at``; ``priority`` (or a given ``impact``,
    ``urgency``) is not a whole number 1-5; ``opened_at`` is after `as_of` (when given);
    or another row has its ``incident_id`` and a newer ``updated_at`` (the rule of every
    format, `ingest.rows.older_duplicates`: on a tie the first row is kept). Rejected
    rows keep every raw value as text, after ``line``, ``problem`` (a short kind, for
    counting) and ``reason``.

    Examples
    --------
    >>> raw = pd.DataFrame({"incident_id": ["A", "B", "A"],
    ...                     "opened_at": ["2026-11-02T09:00:00Z", "yesterday", "2026-11-02"],
    ...                     "priority": [2, 3, 9]})
    >>> incidents, rejected = parse_canonical_incidents(raw)
    >>> incidents["incident_id"].tolist(), rejected["reason"].tolist()
    (['A'], ["opened_at 'yesterday' is not an ISO 8601 timestamp", 'priority 9 is not a whole number from 1 to 5'])
    """
    require_columns(raw, REQUIRED_COLUMNS, where="incident CSV")
    if raw.index.name == "line":  # as `read_canonical_csv` numbers the rows
        lines = raw.index.to_numpy(dtype=np.int64)
    else:
        lines = np.arange(len(raw), dtype=np.int64) + LINE_OFFSET
    raw = raw.reset_index(drop=True)
    reasons = pd.Series(pd.NA, index=raw.index, dtype="string")
    problems = pd.Series(pd.NA, index=raw.index, dtype="string")

    def reject(mask: pd.Series | np.ndarray, problem: str, message: Message) -> None:
        """Give rows in `mask` that have no reason yet this problem and message.

        `message` is text, or a function from the affected row labels to one text per
        row, so that messages are only built for the (usually few) rejected rows.
        """
        fresh = np.asarray(mask, dtype=bool) & reasons.isna().to_numpy()
        if not fresh.any():
            return
        rows = raw.index[fresh]
        problems[rows] = problem
        reasons[rows] = message if isinstance(message, str) else message(rows).to_numpy()

    incident_id = _text(raw["incident_id"])
    reject(incident_id.isna(), "missing value", "missing incident_id")
    opened_at = _timestamps(raw["opened_at"], "opened_at", reject, required=True)
    later = {
        name: (
            _timestamps(raw[name], name, reject, required=False)
            if name in raw.columns
            else pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us, UTC]")
        )
        for name in ("resolved_at", "closed_at", "updated_at", "reopened_at")
    }
    resolved_at = later["resolved_at"]
    priority = _priority(raw["priority"], reject)
    levels = {
        name: _level(raw[name], name, reject) for name in ("impact", "urgency") if name in raw
    }
    for name, verb in (
        ("resolved_at", "resolved"),
        ("closed_at", "closed"),
        ("reopened_at", "reopened"),
    ):
        stamps = later[name]

        def before_opened(
            rows: pd.Index, stamps: pd.Series = stamps, name: str = name
        ) -> pd.Series:
            return f"{name} " + _iso(stamps[rows]) + " is before opened_at " + _iso(opened_at[rows])

        reject(stamps < opened_at, f"{verb} before opened", before_opened)
    if as_of is not None:
        as_of = utc_moment(as_of)
        reject(
            opened_at > as_of,
            "opened after as_of",
            lambda rows: (
                "opened_at "
                + _iso(opened_at[rows])
                + " is after as_of "
                + pd.Timestamp(as_of).isoformat()
            ),
        )
    usable = reasons.isna().to_numpy()
    # `updated_at`: the column's, else the latest moment the row knows of.
    updated_at = later["updated_at"].fillna(
        pd.concat([opened_at, resolved_at, later["closed_at"], later["reopened_at"]], axis=1).max(
            axis=1
        )
    )
    if _may_repeat(incident_id, usable):
        older, kept = older_duplicates(incident_id, updated_at, usable)
        reject(
            older,
            "duplicate incident_id",
            lambda rows: pd.Series(
                [
                    duplicate_reason(
                        incident_id[row], f"line {lines[kept[row]]}",
                        updated_at[kept[row]], updated_at[row],
                    )
                    for row in rows
                ],
                dtype="string",
            ),
        )  # fmt: skip

    good = reasons.isna().to_numpy()
    # Usually every row is good: then the columns are taken whole, not copied through a mask.
    keep = slice(None) if good.all() else good
    incidents = pd.DataFrame(
        {
            "line": lines[keep],
            "incident_id": incident_id[keep],
            "opened_at": opened_at[keep],
            "resolved_at": resolved_at[keep],
            "closed_at": later["closed_at"][keep],
            "updated_at": updated_at[keep],
            "reopened_at": later["reopened_at"][keep],
            "priority": priority[keep].astype(np.int64),
            **{name: values[keep] for name, values in levels.items()},
        }
    )
    for column in OPTIONAL_COLUMNS:
        if column in raw.columns and column not in incidents.columns:
            values = raw[column][keep]
            incidents[column] = _text(values) if column in TEXT_COLUMNS else values
    rejected = _as_text(raw[~good])
    rejected.insert(0, "reason", reasons[~good])
    rejected.insert(0, "problem", problems[~good])
    rejected.insert(0, "line", lines[~good])
    return incidents.reset_index(drop=True), rejected.reset_index(drop=True)


def _as_text(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows as text close to how the file wrote them (the reader may have typed them)."""
    text = {}
    for column, values in rows.items():
        if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(
            values.dtype
        ):
            text[column] = values.dt.strftime("%Y-%m-%dT%H:%M:%SZ").astype("string")
        elif pd.api.types.is_float_dtype(values.dtype) and _whole(values.dropna()):
            text[column] = values.astype("Int64").astype("string")
        else:
            text[column] = values.astype("string")
    return pd.DataFrame(text, index=rows.index)


def _whole(values: pd.Series) -> bool:
    """Whole numbers a float column holds exactly (up to 2**53): written as integers."""
    return bool(((values % 1 == 0) & (values.abs() <= 2**53)).all())


def _text(values: pd.Series) -> pd.Series:
    # A byte order mark inside a value (files pasted together) is no part of the value.
    text = values.astype("string").str.replace("\ufeff", "", regex=False).str.strip()
    return text.mask(text == "")


def _timestamps(values: pd.Series, name: str, reject: Reject, *, required: bool) -> pd.Series:
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        parsed = values.dt.tz_convert("UTC")
    elif pd.api.types.is_datetime64_dtype(values.dtype):
        parsed = values.dt.tz_localize("UTC")
    else:
        text = _text(values)
        parsed = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
        unreadable = text.notna() & parsed.isna()
        reject(
            unreadable,
            "bad timestamp",
            lambda rows: f"{name} '" + text[rows] + "' is not an ISO 8601 timestamp",
        )
    if required:
        reject(parsed.isna(), "missing value", f"missing {name}")
    return parsed


def _priority(values: pd.Series, reject: Reject) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce")
    missing = values.isna()
    if not pd.api.types.is_numeric_dtype(values.dtype):
        missing |= _text(values).isna()
    reject(missing, "missing value", "missing priority")
    whole = numbers.notna() & (numbers == numbers.round()) & numbers.between(1, 5)
    reject(
        ~whole,
        "bad priority",
        lambda rows: (
            "priority "
            + _as_text(values[rows].to_frame())[values.name]
            + " is not a whole number from 1 to 5"
        ),
    )
    return numbers.where(whole, 0)


def _level(values: pd.Series, name: str, reject: Reject) -> pd.Series:
    """An optional level (``impact``, ``urgency``): a whole number 1-5, or missing."""
    numbers = pd.to_numeric(values, errors="coerce")
    given = values.notna()
    if not pd.api.types.is_numeric_dtype(values.dtype):
        given &= _text(values).notna()
    whole = numbers.notna() & (numbers == numbers.round()) & numbers.between(1, 5)
    reject(
        given & ~whole,
        f"bad {name}",
        lambda rows: (
            f"{name} "
            + _as_text(values[rows].to_frame())[values.name].fillna("").map(_short)
            + " is not a whole number from 1 to 5"
        ),
    )
    return numbers.where(whole).astype("Int64")


def _may_repeat(incident_id: pd.Series, usable: np.ndarray) -> bool:
    """Whether some usable rows may share an id (cheap checks first).

    Exports usually come sorted by number (or by time, newest first): ids that strictly
    rise or strictly fall from row to row cannot repeat, and checking that is one pass
    of neighbour compares (~3 ms for 1,000,000 ids). Otherwise the ids are hashed
    (~120 ms).
    """
    ids = incident_id if usable.all() else incident_id[usable]
    if _strictly_monotonic(ids):
        return False
    return bool(ids.duplicated().any())


def _strictly_monotonic(text: pd.Series) -> bool:
    """True when no value is missing and each value is above, or each below, the last."""
    values = pa.array(text.array)  # cheap for the Arrow-backed strings of `_text`
    if values.null_count:
        return False
    if len(values) < 2:
        return True
    earlier, later = values[:-1], values[1:]
    return bool(
        pc.all(pc.less(earlier, later)).as_py() or pc.all(pc.greater(earlier, later)).as_py()
    )


def _iso(stamps: pd.Series) -> pd.Series:
    return stamps.dt.strftime("%Y-%m-%dT%H:%M:%SZ").astype("string").fillna("")


def canonical_batch(
    raw: pd.DataFrame,
    *,
    source: str = "csv",
    history: pd.DataFrame | None = None,
    as_of: pd.Timestamp | None = None,
) -> IngestBatch:
    """The canonical CSV (and optionally its assignment history) as an `IngestBatch`.

    `history` has ``incident_id, at, assignment_group`` (as in
    ``fixtures/assignment_history.csv``), in order within an incident; without it, each
    incident gets one assignment, its ``assignment_group`` at ``opened_at``. History rows
    that name no incident of the batch, or whose ``at`` is not ISO 8601, are rejected.
    ``updated_at`` is the column when the file has one, else the latest of ``opened_at``,
    ``resolved_at`` and ``closed_at``; ``state``, when the file has none, is ``open`` or
    ``resolved``.
    """
    incidents, rejected = parse_canonical_incidents(raw, as_of=as_of)
    count = len(incidents)

    def column(
        name: str, dtype: Literal["Int64", "string"]
    ) -> pd.Series | pd.api.extensions.ExtensionArray:
        if name in incidents.columns:
            return incidents[name].astype(dtype).array
        return pd.array([pd.NA] * count, dtype=dtype)

    def moments(name: str) -> pd.api.extensions.ExtensionArray:
        return incidents[name].astype("datetime64[us, UTC]").array

    resolved = incidents["resolved_at"]
    restored = resolved.notna() | incidents["closed_at"].notna()
    state: pd.api.extensions.ExtensionArray = pd.array(
        np.where(restored, "resolved", "open"), dtype="string"
    )
    if "state" in incidents.columns:
        state = incidents["state"].astype("string").fillna(pd.Series(state)).array
    frame = pd.DataFrame(
        {
            "source": pd.array([source] * count, dtype="string"),
            "incident_id": incidents["incident_id"].astype("string").array,
            "opened_at": moments("opened_at"),
            "resolved_at": moments("resolved_at"),
            "closed_at": moments("closed_at"),
            "updated_at": moments("updated_at"),
            "state": state,
            "priority": incidents["priority"].astype(np.int64).array,
            "impact": column("impact", "Int64"),
            "urgency": column("urgency", "Int64"),
            "ci": column("ci", "string"),
            "service_id": pd.array([pd.NA] * count, dtype="string"),
            "category": column("category", "string"),
            "subcategory": column("subcategory", "string"),
            "assignment_group": column("assignment_group", "string"),
            "location": column("location", "string"),
            "support_tier": column("support_tier", "string"),
            "reassignment_count": _counts(incidents, "reassignment_count"),
            "reopen_count": reopens_counted(
                pd.Series(_counts(incidents, "reopen_count")), incidents["reopened_at"]
            ).array,
            "problem_id": pd.array([pd.NA] * count, dtype="string"),
            "caused_by_change": pd.array([pd.NA] * count, dtype="string"),
            "short_description": column("short_description", "string"),
            "reopened_at": moments("reopened_at"),
            "service_component": column("service_component", "string"),
        }
    )
    assignments, bad_history = _canonical_history(frame, history, source)
    quarantined = pd.concat([_rejected_rows(rejected, source), bad_history], ignore_index=True)
    lines = incidents["line"].to_numpy(dtype=np.int64)
    return IngestBatch(frame, assignments, quarantined[list(REJECTED_COLUMNS)], lines=lines)


def _counts(incidents: pd.DataFrame, name: str) -> pd.api.extensions.ExtensionArray:
    if name not in incidents.columns:
        return pd.array([pd.NA] * len(incidents), dtype="Int64")
    return pd.to_numeric(incidents[name], errors="coerce").round().astype("Int64").array


def _rejected_rows(rejected: pd.DataFrame, source: str) -> pd.DataFrame:
    fields = rejected.drop(columns=["line", "problem", "reason"])
    return pd.DataFrame(
        {
            "source": source,
            "line": rejected["line"].astype("Int64"),
            "problem": rejected["problem"].astype("string"),
            "reason": rejected["reason"].astype("string"),
            "raw": pd.array(
                [
                    json.dumps({k: v for k, v in row.items() if pd.notna(v)})
                    for row in fields.to_dict("records")
                ],
                dtype="string",
            ),
        }
    )


def _canonical_history(
    incidents: pd.DataFrame, history: pd.DataFrame | None, source: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Assignment history rows for the batch's incidents, and the history rows rejected."""
    empty_rejects = pd.DataFrame({c: [] for c in REJECTED_COLUMNS})
    if history is None:
        assigned = incidents[incidents["assignment_group"].notna()]
        return pd.DataFrame(
            {
                "source": assigned["source"],
                "incident_id": assigned["incident_id"],
                "at": assigned["opened_at"],
                "assignment_group": assigned["assignment_group"],
                "support_tier": pd.array([pd.NA] * len(assigned), dtype="string"),
            }
        ).reset_index(drop=True), empty_rejects
    require_columns(history, ["incident_id", "at", "assignment_group"], where="history CSV")
    lines = (
        history.index.to_numpy(dtype=np.int64)
        if history.index.name == "line"
        else np.arange(len(history), dtype=np.int64) + LINE_OFFSET
    )
    incident_id = _text(history["incident_id"])
    at = pd.to_datetime(_text(history["at"]), utc=True, format="ISO8601", errors="coerce")
    known = incident_id.isin(set(incidents["incident_id"].dropna()))
    good = (known & at.notna()).to_numpy()
    problems = np.where(~known.to_numpy(), "unknown incident", "bad timestamp")[~good]
    reasons = [
        f"history row for incident {i!r}, which is not in the batch"
        if problem == "unknown incident"
        else f"at {a!r} is not an ISO 8601 timestamp"
        for i, a, problem in zip(
            incident_id[~good].fillna(""), history["at"][~good].astype(str), problems, strict=True
        )
    ]
    bad = pd.DataFrame(
        {
            "source": source,
            "line": pd.array(lines[~good], dtype="Int64"),
            "problem": pd.array(problems, dtype="string"),
            "reason": pd.array(reasons, dtype="string"),
            "raw": pd.array(
                [
                    json.dumps({k: str(v) for k, v in row.items() if pd.notna(v)})
                    for row in history[~good].to_dict("records")
                ],
                dtype="string",
            ),
        }
    )
    return pd.DataFrame(
        {
            "source": pd.array([source] * int(good.sum()), dtype="string"),
            "incident_id": incident_id[good].array,
            "at": at[good].astype("datetime64[us, UTC]").array,
            "assignment_group": _text(history["assignment_group"])[good].array,
            "support_tier": pd.array([pd.NA] * int(good.sum()), dtype="string"),
        }
    ), bad


def _short(value: str) -> str:
    return excerpt(value, quote=False)
