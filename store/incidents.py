"""Saving ingest batches into the store (the SQL behind `Store.save_batch`).

`prepare_batch` checks and converts a batch before any transaction begins; then
`write_batch` writes it on the caller's connection, in the caller's one write
transaction: incidents are upserted by (source, incident_id) where the batch's
``updated_at`` is newer (an older or equal one never overwrites, and any ``updated_at``
beats a missing one), an incident's assignment history is replaced exactly when its row
is written, rejected rows go to ``quarantine`` with the run's id (a row the quarantine
holds already, with the same source, reason and raw text, is not stored again), and an
``ingest_runs`` row keeps the counts. Killed half-way, it leaves the store as it was.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from impactlens.ingest.batch import IngestBatch
from impactlens.store.bulk import BulkWriter, writer_for
from impactlens.store.errors import InvalidBatchError
from impactlens.store.frames import conform, rows_with_keys
from impactlens.store.quarantine import fingerprints, not_yet_quarantined
from impactlens.store.schema import (
    COUNT,
    HISTORY_DTYPES,
    INCIDENT_DTYPES,
    REJECTED_DTYPES,
    STORED_HISTORY_DTYPES,
    TEXT,
    TIMESTAMP,
    incidents,
    ingest_runs,
)
from sqlalchemy import exists, insert, select, update
from sqlalchemy.engine import Connection

__all__ = ["IngestSummary", "PreparedBatch", "Progress", "prepare_batch", "write_batch"]

Progress = Callable[[int, int], None]
# What the store's whole-number columns hold (schema: priority smallint, others integer).
_LIMITS = {
    name: np.iinfo(np.int16 if name == "priority" else np.int32)
    for name, dtype in INCIDENT_DTYPES.items()
    if dtype in ("int64", COUNT)
}


@dataclass(frozen=True)
class IngestSummary:
    """What one `save_batch` did; ``new + updated + unchanged`` is the batch's incidents.

    ``quarantined``: the batch's rejected rows this run put in the quarantine;
    ``already_quarantined``: those the quarantine held already (the same source, reason
    and raw text, as when a file is ingested again), not stored again. Together they are
    the batch's rejected rows.
    """

    run_id: int
    rows_read: int
    new: int
    updated: int
    unchanged: int
    quarantined: int
    already_quarantined: int = 0


# eq=False: the fields are frames, which neither compare to one truth value nor hash.
@dataclass(frozen=True, eq=False)
class PreparedBatch:
    """A batch in the store's dtypes, one row per incident (the newest), history numbered."""

    incidents: pd.DataFrame
    history: pd.DataFrame
    rejected: pd.DataFrame  # with each row's `store.quarantine.fingerprint`
    incident_rows: int  # the batch's incident rows before keeping the newest per key
    sources: list[str]


def prepare_batch(batch: IngestBatch) -> PreparedBatch:
    """`batch` checked and converted, ready for `write_batch` (no database needed).

    Raises `InvalidBatchError` for values that break the canonical model. Done before
    the write transaction begins, so that other writers wait only for the writing.
    """
    frame = conform(batch.incidents, INCIDENT_DTYPES, what="incidents")
    history = conform(batch.history, HISTORY_DTYPES, what="history")
    rejected = conform(batch.rejected, REJECTED_DTYPES, what="rejected")
    _require_keys(frame, "incidents")
    _require_keys(history, "history")
    frame, too_large = _storable(frame, batch.lines)
    rejected = pd.concat([rejected, too_large], ignore_index=True) if len(too_large) else rejected
    rejected["reason"] = rejected["reason"].fillna("(no reason given)")
    rejected["fingerprint"] = fingerprints(rejected)
    sources = sorted(
        set(frame["source"].unique().tolist()) | set(rejected["source"].dropna().unique().tolist())
    )
    return PreparedBatch(
        incidents=_newest_per_key(frame),
        history=_numbered(history),
        rejected=rejected,
        incident_rows=len(frame),
        sources=sources,
    )


def write_batch(
    connection: Connection,
    batch: PreparedBatch,
    *,
    source_file: str,
    format: str,
    rows_read: int | None = None,
    on_progress: Progress | None = None,
) -> IngestSummary:
    """Store `batch` on `connection` (in its write transaction) and record the run.

    Parameters
    ----------
    connection
        In a transaction that holds the write lock (`store.database.connect` with
        ``write=True``); the schema must be at head (`Store.open` checked it).
    batch
        From `prepare_batch`.
    source_file, format
        Recorded in ``ingest_runs`` (the file as the user named it, the adapter's name).
    rows_read
        Rows the adapter read from the file, when it knows (an event log has many per
        incident); default: the batch's incidents plus its rejected rows.
    on_progress
        Called with ``(incidents_written, incidents_to_write)`` after each chunk.
    """
    frame, history, rejected = batch.incidents, batch.history, batch.rejected
    started = pd.Timestamp.now(tz="UTC").floor("us")
    writer = writer_for(connection)
    writer.prepare()
    run_id = connection.execute(
        insert(ingest_runs)
        .values(
            source=",".join(batch.sources),
            file=source_file,
            format=format,
            started_at=started,
        )
        .returning(ingest_runs.c.id)
    ).scalar_one()
    constants = {"run_id": ("int64", run_id), "ingested_at": (TIMESTAMP, started)}
    new, updated = _changed_rows(connection, writer, frame)
    written = len(new) + len(updated)

    def chunk_done(offset: int) -> Callable[[int], None] | None:
        if on_progress is None:
            return None
        report = on_progress
        return lambda rows: report(offset + rows, written)

    history_written = 0
    with writer.first_load(len(new)):
        writer.insert(
            "incidents", new, INCIDENT_DTYPES, constants=constants, on_chunk=chunk_done(0)
        )
        if len(updated):
            writer.upsert_incidents(
                updated, INCIDENT_DTYPES, constants=constants, on_chunk=chunk_done(len(new))
            )
            writer.delete_history(updated[["source", "incident_id"]])
        if len(history) and written:
            changed = pd.concat([new, updated], ignore_index=True) if len(updated) else new
            history = history[rows_with_keys(history, changed)]
            writer.insert("assignment_history", history, STORED_HISTORY_DTYPES)
            history_written = len(history)
    writer.refresh_statistics({"incidents": written, "assignment_history": history_written})
    fresh = not_yet_quarantined(connection, rejected, batch.sources)
    writer.insert(
        "quarantine",
        rejected[fresh] if not fresh.all() else rejected,
        {**REJECTED_DTYPES, "fingerprint": TEXT},
        constants={"run_id": ("int64", run_id), "received_at": (TIMESTAMP, started)},
    )
    summary = IngestSummary(
        run_id=run_id,
        rows_read=batch.incident_rows + len(rejected) if rows_read is None else rows_read,
        new=len(new),
        updated=len(updated),
        unchanged=batch.incident_rows - written,
        quarantined=int(fresh.sum()),
        already_quarantined=int((~fresh).sum()),
    )
    connection.execute(
        update(ingest_runs)
        .where(ingest_runs.c.id == run_id)
        .values(
            finished_at=pd.Timestamp.now(tz="UTC").floor("us"),
            rows_read=summary.rows_read,
            new=summary.new,
            updated=summary.updated,
            unchanged=summary.unchanged,
            quarantined=summary.quarantined,
        )
    )
    return summary


def _storable(
    frame: pd.DataFrame, lines: npt.NDArray[np.int64] | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The incidents whose whole numbers fit the store's columns, and the others as
    rejected rows (`REJECTED_DTYPES`, the file line when the adapter gave `lines`).

    ``priority`` is a smallint, the counts and levels integers: a reassignment count
    of 99,999,999,999 (a column mapped wrong) is quarantined, not the whole batch lost.
    """
    reasons = pd.Series(pd.NA, index=frame.index, dtype=TEXT)
    for name, limits in _LIMITS.items():
        values = frame[name].astype("Int64")
        outside = ((values < limits.min) | (values > limits.max)).fillna(False).to_numpy(bool)
        for row in np.flatnonzero(outside & reasons.isna().to_numpy()).tolist():
            reasons.iloc[row] = (
                f"{name} {values.iloc[row]} is out of range "
                f"(the store holds {limits.min:,} to {limits.max:,})"
            )
    bad = reasons.notna().to_numpy()
    if not bad.any():
        return frame, frame.iloc[:0]
    rows = frame[bad]
    rejected = pd.DataFrame(
        {
            "source": rows["source"].to_numpy(),
            "line": pd.array(lines[bad] if lines is not None else [pd.NA] * len(rows), dtype=COUNT),
            "problem": "out of range",
            "reason": reasons[bad].to_numpy(),
            "raw": [
                json.dumps({k: str(v) for k, v in record.items() if not pd.isna(v)})
                for record in rows.to_dict("records")
            ],
        }
    )
    return frame[~bad].reset_index(drop=True), conform(rejected, REJECTED_DTYPES, what="rejected")


def _require_keys(frame: pd.DataFrame, what: str) -> None:
    for column in ("source", "incident_id"):
        missing = int(frame[column].isna().sum())
        if missing:
            raise InvalidBatchError(f"{what}.{column}: {missing} rows have no value")


def _newest_per_key(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (source, incident_id): the newest, the first of equals; sorted by key.

    Sorted, because SQLite inserts rows in key order several times faster than shuffled.
    """
    if _sorted_unique(frame):
        return frame
    order = frame.assign(_pos=np.arange(len(frame)))
    order = order.sort_values(
        ["source", "incident_id", "updated_at", "_pos"],
        ascending=[True, True, False, True],
        na_position="last",
        kind="stable",
    )
    order = order.drop_duplicates(["source", "incident_id"], keep="first")
    return order.drop(columns="_pos").reset_index(drop=True)


def _sorted_unique(frame: pd.DataFrame) -> bool:
    """Whether keys strictly rise row to row (no sort needed, and no duplicates)."""
    if len(frame) < 2:
        return True
    source = frame["source"].to_numpy(dtype=object)
    incident_id = frame["incident_id"].to_numpy(dtype=object)
    same_source = source[1:] == source[:-1]
    rising = (source[1:] > source[:-1]) | (same_source & (incident_id[1:] > incident_id[:-1]))
    return bool(rising.all())


def _numbered(history: pd.DataFrame) -> pd.DataFrame:
    """History rows with ``seq``: 0, 1, 2, ... per incident, in the batch's order."""
    seq = history.groupby(["source", "incident_id"], sort=False).cumcount()
    return history.assign(seq=seq.to_numpy(dtype=np.int64))


def _changed_rows(
    connection: Connection, writer: BulkWriter, frame: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The batch's rows that are new to the store, and those newer than the stored row."""
    stored_sources = [
        source
        for source in frame["source"].unique().tolist()
        if connection.execute(select(exists().where(incidents.c.source == source))).scalar_one()
    ]
    if not stored_sources:  # the usual first load: nothing to compare with
        return frame, frame.iloc[:0]
    keys = frame[["source", "incident_id", "updated_at"]].assign(pos=np.arange(len(frame)))
    table = writer.stage_keys(keys[["pos", "source", "incident_id", "updated_at"]])
    rows = connection.exec_driver_sql(
        f"SELECT k.pos, CASE WHEN i.incident_id IS NULL THEN 1 ELSE 0 END "
        f"FROM {table} AS k LEFT JOIN incidents AS i "
        "ON i.source = k.source AND i.incident_id = k.incident_id "
        "WHERE i.incident_id IS NULL OR (k.updated_at IS NOT NULL "
        "AND (i.updated_at IS NULL OR k.updated_at > i.updated_at)) "
        "ORDER BY k.pos"
    ).all()
    connection.exec_driver_sql(f"DROP TABLE {table}")
    if not rows:
        return frame.iloc[:0], frame.iloc[:0]
    positions, is_new = (np.asarray(column, dtype=np.int64) for column in zip(*rows, strict=True))
    new = frame.iloc[positions[is_new == 1]].reset_index(drop=True)
    updated = frame.iloc[positions[is_new == 0]].reset_index(drop=True)
    return new, updated
