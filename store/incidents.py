"""Saving ingest batches into the store, and reading incidents back.

`save_batch` writes one `IngestBatch` in one transaction: incidents are upserted by
(source, incident_id) where the batch's ``updated_at`` is newer (an older or equal one
never overwrites, and any ``updated_at`` beats a missing one), an incident's assignment
history is replaced exactly when its row is written, rejected rows go to ``quarantine``
with the run's id, and an ``ingest_runs`` row keeps the counts. Killed half-way, it
leaves the store as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import numpy as np
import pandas as pd
from impactlens.ingest.batch import IngestBatch
from impactlens.store.bulk import writer_for
from impactlens.store.database import connect, require_head
from impactlens.store.errors import InvalidBatchError
from impactlens.store.frames import conform, frame_from_columns, rows_with_keys
from impactlens.store.schema import (
    HISTORY_DTYPES,
    INCIDENT_DTYPES,
    REJECTED_DTYPES,
    TEXT,
    TIMESTAMP,
    assignment_history,
    incidents,
    ingest_runs,
    quarantine,
)
from sqlalchemy import (
    BigInteger,
    and_,
    cast,
    exists,
    func,
    insert,
    or_,
    select,
    true,
    type_coerce,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.elements import ColumnElement

from impactlens.moments import utc_moment

__all__ = [
    "QUARANTINE_DTYPES",
    "RUN_DTYPES",
    "IngestSummary",
    "load_history",
    "load_incidents",
    "load_quarantine",
    "load_runs",
    "save_batch",
]

Moment = str | datetime | pd.Timestamp
Progress = Callable[[int, int], None]
STORED_HISTORY_DTYPES = {**HISTORY_DTYPES, "seq": "int64"}
QUARANTINE_DTYPES = {
    "id": "int64",
    "run_id": "int64",
    **REJECTED_DTYPES,
    "received_at": TIMESTAMP,
}
RUN_DTYPES = {
    "id": "int64",
    "source": TEXT,
    "file": TEXT,
    "format": TEXT,
    "started_at": TIMESTAMP,
    "finished_at": TIMESTAMP,
    "rows_read": "int64",
    "new": "int64",
    "updated": "int64",
    "unchanged": "int64",
    "quarantined": "int64",
}


@dataclass(frozen=True)
class IngestSummary:
    """What one `save_batch` did; ``new + updated + unchanged`` is the batch's incidents."""

    run_id: int
    rows_read: int
    new: int
    updated: int
    unchanged: int
    quarantined: int


def save_batch(
    engine: Engine,
    batch: IngestBatch,
    *,
    source_file: str,
    format: str,
    rows_read: int | None = None,
    on_progress: Progress | None = None,
) -> IngestSummary:
    """Store `batch` in one transaction and record the run; what it did.

    Parameters
    ----------
    engine
        From `store.create_engine_for`; the database must be at the newest migration
        (else `DatabaseNotAtHeadError`, telling to run ``impactlens db upgrade``).
    batch
        Canonical incidents, history and rejected rows (`ingest.batch`). Two incidents
        with one (source, incident_id) are one incident seen twice: the newer is kept.
    source_file, format
        Recorded in ``ingest_runs`` (the file as the user named it, the adapter's name).
    rows_read
        Rows the adapter read from the file, when it knows (an event log has many per
        incident); default: the batch's incidents plus its rejected rows.
    on_progress
        Called with ``(incidents_written, incidents_to_write)`` after each chunk.
    """
    frame = conform(batch.incidents, INCIDENT_DTYPES, what="incidents")
    history = conform(batch.history, HISTORY_DTYPES, what="history")
    rejected = conform(batch.rejected, REJECTED_DTYPES, what="rejected")
    _require_keys(frame, "incidents")
    _require_keys(history, "history")
    incident_rows = len(frame)
    frame = _newest_per_key(frame)
    history = _numbered(history)
    rejected["reason"] = rejected["reason"].fillna("(no reason given)")
    sources = sorted(
        set(frame["source"].unique().tolist()) | set(rejected["source"].dropna().unique().tolist())
    )
    started = pd.Timestamp.now(tz="UTC").floor("us")
    with connect(engine, write=True) as connection:
        require_head(connection)
        writer = writer_for(connection)
        writer.prepare()
        run_id = connection.execute(
            insert(ingest_runs)
            .values(
                source=",".join(sources),
                file=source_file,
                format=format,
                started_at=started,
            )
            .returning(ingest_runs.c.id)
        ).scalar_one()
        constants = {"run_id": ("int64", run_id), "ingested_at": (TIMESTAMP, started)}
        new, updated = _changed_rows(connection, writer, frame, sources)
        written = len(new) + len(updated)

        def chunk_done(offset: int) -> Callable[[int], None] | None:
            if on_progress is None:
                return None
            return lambda rows: on_progress(offset + rows, written)

        writer.insert(
            "incidents", new, INCIDENT_DTYPES, constants=constants, on_chunk=chunk_done(0)
        )
        writer.upsert_incidents(
            updated, INCIDENT_DTYPES, constants=constants, on_chunk=chunk_done(len(new))
        )
        if len(updated):
            writer.delete_history(updated[["source", "incident_id"]])
        if len(history) and written:
            changed = pd.concat([new, updated], ignore_index=True) if len(updated) else new
            history = history[rows_with_keys(history, changed)]
            writer.insert("assignment_history", history, STORED_HISTORY_DTYPES)
        writer.insert(
            "quarantine",
            rejected,
            REJECTED_DTYPES,
            constants={"run_id": ("int64", run_id), "received_at": (TIMESTAMP, started)},
        )
        summary = IngestSummary(
            run_id=run_id,
            rows_read=incident_rows + len(rejected) if rows_read is None else rows_read,
            new=len(new),
            updated=len(updated),
            unchanged=incident_rows - written,
            quarantined=len(rejected),
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
    connection: Connection, writer: Any, frame: pd.DataFrame, sources: list[str]
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


def load_incidents(
    engine: Engine,
    *,
    source: str | None = None,
    since: Moment | None = None,
    until: Moment | None = None,
    by: Literal["opened", "active"] = "opened",
) -> pd.DataFrame:
    """Stored incidents in the canonical columns and dtypes, ordered by (source, id).

    `since`/`until` (naive means UTC) select by ``by``: ``"opened"``, incidents opened in
    ``[since, until)``; ``"active"``, incidents open at some moment of it (opened before
    `until`, and not resolved before `since`).
    """
    condition = _selection(source, since, until, by)
    with connect(engine) as connection:
        require_head(connection)
        statement = select(*_readable(connection, incidents, INCIDENT_DTYPES)).where(condition)
        rows = connection.execute(statement.order_by(incidents.c.source, incidents.c.incident_id))
        return _frame(rows.all(), INCIDENT_DTYPES)


def load_history(
    engine: Engine,
    *,
    source: str | None = None,
    since: Moment | None = None,
    until: Moment | None = None,
    by: Literal["opened", "active"] = "opened",
) -> pd.DataFrame:
    """The assignment history of the incidents `load_incidents` selects with these arguments.

    Canonical history columns, ordered by (source, incident_id) and then assignment order.
    """
    condition = _selection(source, since, until, by)
    history = assignment_history
    with connect(engine) as connection:
        require_head(connection)
        statement = (
            select(*_readable(connection, history, HISTORY_DTYPES))
            .select_from(
                history.join(
                    incidents,
                    and_(
                        incidents.c.source == history.c.source,
                        incidents.c.incident_id == history.c.incident_id,
                    ),
                )
            )
            .where(condition)
            .order_by(history.c.source, history.c.incident_id, history.c.seq)
        )
        return _frame(connection.execute(statement).all(), HISTORY_DTYPES)


def load_quarantine(engine: Engine, *, run_id: int | None = None) -> pd.DataFrame:
    """Quarantined rows (of one run, or all), oldest first, with their reasons and raw text."""
    with connect(engine) as connection:
        require_head(connection)
        statement = select(*_readable(connection, quarantine, QUARANTINE_DTYPES))
        if run_id is not None:
            statement = statement.where(quarantine.c.run_id == run_id)
        rows = connection.execute(statement.order_by(quarantine.c.id)).all()
        return _frame(rows, QUARANTINE_DTYPES)


def load_runs(engine: Engine) -> pd.DataFrame:
    """Every ingest run with its counts, oldest first."""
    with connect(engine) as connection:
        require_head(connection)
        rows = connection.execute(
            select(*_readable(connection, ingest_runs, RUN_DTYPES)).order_by(ingest_runs.c.id)
        ).all()
        return _frame(rows, RUN_DTYPES)


def _selection(
    source: str | None, since: Moment | None, until: Moment | None, by: str
) -> ColumnElement[bool]:
    if by not in ("opened", "active"):
        raise ValueError(f"by={by!r}: expected 'opened' or 'active'")
    conditions: list[ColumnElement[bool]] = []
    if source is not None:
        conditions.append(incidents.c.source == source)
    if until is not None:
        conditions.append(incidents.c.opened_at < utc_moment(until))
    if since is not None:
        start = utc_moment(since)
        if by == "opened":
            conditions.append(incidents.c.opened_at >= start)
        else:
            conditions.append(
                or_(incidents.c.resolved_at.is_(None), incidents.c.resolved_at >= start)
            )
    return and_(*conditions) if conditions else true()


def _readable(connection: Connection, table: Any, dtypes: dict[str, str]) -> list[Any]:
    """Columns to select; moments as integer epoch microseconds (converted in bulk later)."""
    postgres = connection.dialect.name == "postgresql"
    columns = []
    for name, dtype in dtypes.items():
        column = table.c[name]
        if dtype == TIMESTAMP:
            micros = (
                cast(func.extract("epoch", column) * 1_000_000, BigInteger)
                if postgres
                else type_coerce(column, BigInteger)
            )
            columns.append(micros.label(name))
        else:
            columns.append(column)
    return columns


def _frame(rows: list[Any], dtypes: dict[str, str]) -> pd.DataFrame:
    return frame_from_columns(list(zip(*rows, strict=True)) if rows else [], dtypes)
