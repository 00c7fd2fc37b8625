"""Reading the store: SQL that runs on the caller's `Connection`, in its transaction.

`Store` opens the connection (and, where several statements must agree, a snapshot
transaction) and calls these; none of them checks the schema revision (`Store.open`
did, once). Every frame comes back in the dtypes of `store.schema`. Moments are selected
as integer microseconds since the epoch and converted in bulk (`store.frames`): a
million rows of ``datetime`` objects would cost seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

import pandas as pd
from impactlens.store.frames import frame_from_columns
from impactlens.store.schema import (
    HISTORY_DTYPES,
    INCIDENT_DTYPES,
    QUARANTINE_DTYPES,
    RUN_DTYPES,
    SOURCE_DTYPES,
    TIMESTAMP,
    assignment_history,
    incidents,
    ingest_runs,
    quarantine,
)
from sqlalchemy import (
    BigInteger,
    Table,
    and_,
    case,
    cast,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from impactlens.moments import utc_moment

__all__ = [
    "Moment",
    "Selection",
    "moment_from_micros",
    "read_extent",
    "read_history",
    "read_incident",
    "read_incident_history",
    "read_incidents",
    "read_micros",
    "read_quarantine",
    "read_revision",
    "read_runs",
    "read_sources",
    "readable_columns",
    "typed_frame",
]

Moment = str | datetime | pd.Timestamp
Selection = Literal["opened", "active"]


def read_incidents(
    connection: Connection,
    *,
    source: str | None = None,
    since: Moment | None = None,
    until: Moment | None = None,
    by: Selection = "opened",
) -> pd.DataFrame:
    """Stored incidents in the canonical columns and dtypes, ordered by (source, id).

    `since`/`until` (naive means UTC) select by `by`: ``"opened"``, incidents opened in
    ``[since, until)``; ``"active"``, incidents open at some moment of it (opened before
    `until`, and not resolved before `since`).
    """
    condition = _selection(connection, source, since, until, by)
    statement = (
        select(*readable_columns(connection, incidents, INCIDENT_DTYPES))
        .where(condition)
        .order_by(incidents.c.source, incidents.c.incident_id)
    )
    return typed_frame(connection.execute(statement).all(), INCIDENT_DTYPES)


def read_history(
    connection: Connection,
    *,
    source: str | None = None,
    since: Moment | None = None,
    until: Moment | None = None,
    by: Selection = "opened",
) -> pd.DataFrame:
    """The assignment history of the incidents `read_incidents` selects with these arguments.

    Canonical history columns, ordered by (source, incident_id) and then assignment order.
    """
    condition = _selection(connection, source, since, until, by)
    history = assignment_history
    statement = (
        select(*readable_columns(connection, history, HISTORY_DTYPES))
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
    return typed_frame(connection.execute(statement).all(), HISTORY_DTYPES)


def read_incident(connection: Connection, source: str, incident_id: str) -> pd.DataFrame:
    """The one stored row of (`source`, `incident_id`), or no row (a primary-key lookup)."""
    statement = select(*readable_columns(connection, incidents, INCIDENT_DTYPES)).where(
        incidents.c.source == source, incidents.c.incident_id == incident_id
    )
    return typed_frame(connection.execute(statement).all(), INCIDENT_DTYPES)


def read_incident_history(connection: Connection, source: str, incident_id: str) -> pd.DataFrame:
    """The assignment history of one incident, in assignment order (a key-prefix scan)."""
    history = assignment_history
    statement = (
        select(*readable_columns(connection, history, HISTORY_DTYPES))
        .where(history.c.source == source, history.c.incident_id == incident_id)
        .order_by(history.c.seq)
    )
    return typed_frame(connection.execute(statement).all(), HISTORY_DTYPES)


def read_extent(
    connection: Connection, *, source: str | None = None
) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """The earliest and latest ``opened_at`` stored (of one source), or (None, None)."""

    def bound(extreme: Any) -> Any:
        # One aggregate per subquery: SQLite answers a lone min() or max() from the index
        # on opened_at, but scans the table for both in one SELECT.
        statement = select(read_micros(connection, extreme(incidents.c.opened_at)))
        if source is not None:
            statement = statement.where(incidents.c.source == source)
        return statement.scalar_subquery()

    first, last = connection.execute(select(bound(func.min), bound(func.max))).one()
    return moment_from_micros(first), moment_from_micros(last)


def read_sources(connection: Connection) -> pd.DataFrame:
    """One row per source (`SOURCE_DTYPES`), sorted by source; see `Store.sources`.

    A source is listed when it has incidents, quarantined rows or ingest runs.
    Quarantined rows without a source are counted under none.
    """
    still_open = and_(incidents.c.resolved_at.is_(None), incidents.c.closed_at.is_(None))
    counts = connection.execute(
        select(
            incidents.c.source,
            func.count(),
            func.sum(case((still_open, 1), else_=0)),
            read_micros(connection, func.min(incidents.c.opened_at)),
            read_micros(connection, func.max(incidents.c.opened_at)),
            read_micros(connection, func.max(incidents.c.updated_at)),
        ).group_by(incidents.c.source)
    ).all()
    quarantined: dict[str, int] = {
        str(name): int(count)
        for name, count in connection.execute(
            select(quarantine.c.source, func.count())
            .where(quarantine.c.source.is_not(None))
            .group_by(quarantine.c.source)
        )
    }
    last_ingest: dict[str, int | None] = {}
    runs = connection.execute(
        select(
            ingest_runs.c.source, read_micros(connection, func.max(ingest_runs.c.finished_at))
        ).group_by(ingest_runs.c.source)
    ).all()
    for listed, finished in runs:
        # A run's source column lists the batch's sources, joined with ",".
        for name in filter(None, str(listed).split(",")):
            known = last_ingest.get(name)
            if known is None or (finished is not None and finished > known):
                last_ingest[name] = finished
    per_source = {str(row[0]): row for row in counts}
    names = sorted(set(per_source) | set(quarantined) | set(last_ingest))
    rows = []
    for name in names:
        stored = per_source.get(name)
        incident_figures = (
            (int(stored[1]), int(stored[2] or 0), stored[3], stored[4], stored[5])
            if stored is not None
            else (0, 0, None, None, None)
        )
        rows.append((name, *incident_figures, last_ingest.get(name), int(quarantined.get(name, 0))))
    return typed_frame(rows, SOURCE_DTYPES)


def read_runs(connection: Connection, *, source: str | None = None) -> pd.DataFrame:
    """Ingest runs (that took rows of `source`, or all) with their counts, oldest first."""
    statement = select(*readable_columns(connection, ingest_runs, RUN_DTYPES))
    if source is not None:
        statement = statement.where(_lists_source(source))
    return typed_frame(connection.execute(statement.order_by(ingest_runs.c.id)).all(), RUN_DTYPES)


def read_revision(connection: Connection) -> int:
    """The newest ingest run's id; 0 when there is none."""
    newest = connection.execute(select(func.max(ingest_runs.c.id))).scalar_one()
    return 0 if newest is None else int(newest)


def read_quarantine(
    connection: Connection,
    *,
    run_id: int | None = None,
    source: str | None = None,
    since: Moment | None = None,
) -> pd.DataFrame:
    """Quarantined rows, oldest first, with their reasons and raw text.

    Only those of run `run_id`, of `source`, and received at or after `since`, when given.
    """
    statement = select(*readable_columns(connection, quarantine, QUARANTINE_DTYPES))
    if run_id is not None:
        statement = statement.where(quarantine.c.run_id == run_id)
    if source is not None:
        statement = statement.where(quarantine.c.source == source)
    if since is not None:
        statement = statement.where(quarantine.c.received_at >= utc_moment(since))
    rows = connection.execute(statement.order_by(quarantine.c.id)).all()
    return typed_frame(rows, QUARANTINE_DTYPES)


def _selection(
    connection: Connection,
    source: str | None,
    since: Moment | None,
    until: Moment | None,
    by: str,
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
            still_open: ColumnElement[bool] = incidents.c.resolved_at.is_(None)
            resolved_since: ColumnElement[bool] = incidents.c.resolved_at >= start
            if connection.dialect.name == "sqlite":
                # Without range statistics SQLite scans every incident in key order; told
                # both are rare it reads the two ranges of the resolved_at index. On one
                # year of 1,000,000 incidents, 25% of them in a week's window: incidents
                # 0.79 -> 1.05 s, their history 1.05 -> 0.78 s; on more years it still
                # reads only the window's. (PostgreSQL keeps statistics: see
                # `BulkWriter.refresh_statistics`.)
                still_open, resolved_since = _rare(still_open), _rare(resolved_since)
            conditions.append(or_(still_open, resolved_since))
    return and_(*conditions) if conditions else true()


def _rare(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    """SQLite's ``likelihood(condition, 0.01)``: a hint that `condition` is seldom true."""
    # Untyped: typed Boolean, SQLAlchemy would write "likelihood(...) = 1", which hides
    # the hint from SQLite's planner.
    hinted: ColumnElement[bool] = func.likelihood(condition, literal_column("0.01"))
    return hinted


def _lists_source(source: str) -> ColumnElement[bool]:
    """Whether a run's comma-joined source list names `source`."""
    escaped = source.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    listed = literal(",") + ingest_runs.c.source + literal(",")
    return listed.like(f"%,{escaped},%", escape="\\")


def read_micros(connection: Connection, moment: ColumnElement[Any]) -> ColumnElement[int]:
    """A moment as integer microseconds since the epoch (how SQLite stores it already)."""
    if connection.dialect.name == "postgresql":
        return cast(func.extract("epoch", moment) * 1_000_000, BigInteger)
    return type_coerce(moment, BigInteger)


def readable_columns(connection: Connection, table: Table, dtypes: dict[str, str]) -> list[Any]:
    """Columns to select; moments as integer epoch microseconds (converted in bulk later)."""
    columns: list[Any] = []
    for name, dtype in dtypes.items():
        column = table.c[name]
        columns.append(
            read_micros(connection, column).label(name) if dtype == TIMESTAMP else column
        )
    return columns


def moment_from_micros(micros: int | None) -> pd.Timestamp | None:
    """A moment `read_micros` selected, as a UTC timestamp (None stays None)."""
    return None if micros is None else pd.Timestamp(int(micros), unit="us", tz="UTC")


def typed_frame(rows: Sequence[Sequence[Any]], dtypes: dict[str, str]) -> pd.DataFrame:
    return frame_from_columns(list(zip(*rows, strict=True)) if rows else [], dtypes)
