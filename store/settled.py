"""Settled impacts: the SQL behind `Store.unsettled_incidents`, `Store.save_settled`,
`Store.settled_impact` and `Store.count_unsettled`.

A restored incident's impact under one map version no longer changes with time: it is
derived once (`impactlens.settled`) and kept as the JSON the API answers, keyed by
(source, incident_id, map_version). A row is valid only while its ``run_id`` is the
incident row's own: a re-ingest that changes the incident makes it stale, and it is
neither read nor counted as settled until derived again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from impactlens.store.queries import (
    moment_from_micros,
    read_micros,
    readable_columns,
    typed_frame,
)
from impactlens.store.schema import (
    HISTORY_DTYPES,
    INCIDENT_DTYPES,
    assignment_history,
    incidents,
    settled_impacts,
)
from sqlalchemy import and_, delete, func, or_, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from impactlens.moments import utc_moment

__all__ = [
    "SettledImpact",
    "SettledRow",
    "Window",
    "count_unsettled",
    "read_settled",
    "read_unsettled",
    "write_settled",
]

Window = tuple[pd.Timestamp, pd.Timestamp] | None  # [since, until) of opened_at; None: all


@dataclass(frozen=True)
class SettledImpact:
    """A stored settled impact: valid for any moment from ``settled_at`` on."""

    settled_at: pd.Timestamp
    impact: str  # JSON


@dataclass(frozen=True)
class SettledRow:
    """One settled impact to store."""

    source: str
    incident_id: str
    run_id: int
    settled_at: pd.Timestamp
    impact: str  # JSON


def _settled_join(map_version: str) -> Any:
    return incidents.outerjoin(
        settled_impacts,
        and_(
            settled_impacts.c.source == incidents.c.source,
            settled_impacts.c.incident_id == incidents.c.incident_id,
            settled_impacts.c.map_version == map_version,
        ),
    )


def _unsettled(opened: Window) -> ColumnElement[bool]:
    """Restored incidents without a valid settled impact (of the joined map version),
    opened in ``[since, until)`` of `opened` (None: any time)."""
    restored = or_(incidents.c.resolved_at.is_not(None), incidents.c.closed_at.is_not(None))
    stale = or_(settled_impacts.c.run_id.is_(None), settled_impacts.c.run_id != incidents.c.run_id)
    conditions = [restored, stale]
    if opened is not None:
        since, until = opened
        conditions += [incidents.c.opened_at >= utc_moment(since),
                       incidents.c.opened_at < utc_moment(until)]  # fmt: skip
    return and_(*conditions)


def count_unsettled(connection: Connection, map_version: str, *, opened: Window = None) -> int:
    """How many restored incidents (opened in `opened`) have no valid settled impact
    under `map_version`."""
    statement = (
        select(func.count()).select_from(_settled_join(map_version)).where(_unsettled(opened))
    )
    return int(connection.execute(statement).scalar_one())


def read_unsettled(
    connection: Connection, map_version: str, *, limit: int, opened: Window = None
) -> tuple[pd.DataFrame, pd.DataFrame, list[int]]:
    """Up to `limit` restored incidents (opened in `opened`) without a valid settled impact
    under `map_version` (in key order), their assignment history, and each one's
    ``run_id``."""
    statement = (
        select(*readable_columns(connection, incidents, INCIDENT_DTYPES), incidents.c.run_id)
        .select_from(_settled_join(map_version))
        .where(_unsettled(opened))
        .order_by(incidents.c.source, incidents.c.incident_id)
        .limit(limit)
    )
    rows = connection.execute(statement).all()
    run_ids = [int(row[-1]) for row in rows]
    found = typed_frame([row[:-1] for row in rows], INCIDENT_DTYPES)
    if found.empty:
        return found, typed_frame([], HISTORY_DTYPES), run_ids
    history = assignment_history
    first = (found["source"].iloc[0], found["incident_id"].iloc[0])
    last = (found["source"].iloc[-1], found["incident_id"].iloc[-1])
    key = tuple_(history.c.source, history.c.incident_id)
    statement = (
        select(*readable_columns(connection, history, HISTORY_DTYPES))
        .where(key >= tuple_(*first), key <= tuple_(*last))
        .order_by(history.c.source, history.c.incident_id, history.c.seq)
    )
    in_range = typed_frame(connection.execute(statement).all(), HISTORY_DTYPES)
    wanted = pd.MultiIndex.from_frame(found[["source", "incident_id"]])
    mine = pd.MultiIndex.from_frame(in_range[["source", "incident_id"]]).isin(wanted)
    return found, in_range[mine].reset_index(drop=True), run_ids


def write_settled(connection: Connection, map_version: str, rows: Sequence[SettledRow]) -> None:
    """Store `rows` as the settled impacts under `map_version` (replacing those of the same
    incidents: one upsert), and drop the settled impacts of every other map version."""
    connection.execute(delete(settled_impacts).where(settled_impacts.c.map_version != map_version))
    if not rows:
        return
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(settled_impacts)
    upsert = statement.on_conflict_do_update(
        index_elements=["source", "incident_id", "map_version"],
        set_={name: statement.excluded[name] for name in ("run_id", "settled_at", "impact")},
    )
    connection.execute(
        upsert,
        [
            {
                "source": row.source,
                "incident_id": row.incident_id,
                "map_version": map_version,
                "run_id": row.run_id,
                "settled_at": row.settled_at.to_pydatetime(),
                "impact": row.impact,
            }
            for row in rows
        ],
    )


def read_settled(
    connection: Connection, source: str, incident_id: str, map_version: str
) -> SettledImpact | None:
    """The valid settled impact of one incident under `map_version`, or None (two
    primary-key lookups in one statement)."""
    statement = (
        select(read_micros(connection, settled_impacts.c.settled_at), settled_impacts.c.impact)
        .select_from(
            settled_impacts.join(
                incidents,
                and_(
                    incidents.c.source == settled_impacts.c.source,
                    incidents.c.incident_id == settled_impacts.c.incident_id,
                    incidents.c.run_id == settled_impacts.c.run_id,
                ),
            )
        )
        .where(
            settled_impacts.c.source == source,
            settled_impacts.c.incident_id == incident_id,
            settled_impacts.c.map_version == map_version,
        )
    )
    found = connection.execute(statement).first()
    if found is None:
        return None
    settled_at = moment_from_micros(found[0])
    assert settled_at is not None  # the column is NOT NULL
    return SettledImpact(settled_at, str(found[1]))
