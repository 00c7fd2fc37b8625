"""PostgreSQL's first load without keys (`PostgresWriter.first_load`): the keys and indexes
come back exactly as the migrations made them, and a failure leaves them in place.

The stored rows themselves are checked on this path by every test marked ``write_paths``
(the ``postgresql-keyless`` store).
"""

from __future__ import annotations

import impactlens.store.bulk
import pandas as pd
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from impactlens.store import Store
from impactlens.store.schema import metadata
from sqlalchemy import text

from tests.store.conftest import build_batch

INDEXES = (
    "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
    "AND tablename IN ('incidents', 'assignment_history') ORDER BY indexname"
)


def _batch(count: int):
    incidents = [{"incident_id": f"INC{n}"} for n in range(count)]
    history = [
        {"incident_id": f"INC{n}", "at": f"2026-11-02T1{k}:00:00Z", "assignment_group": f"g{k}"}
        for n in range(count)
        for k in range(2)
    ]
    return build_batch(incidents, history)


def _schema(store: Store) -> tuple[list[tuple[str, str]], list[object]]:
    """The two tables' indexes as PostgreSQL defines them, and Alembic's drift from the code."""
    with store.engine.connect() as connection:
        indexes = [tuple(row) for row in connection.execute(text(INDEXES))]
        drift = compare_metadata(
            MigrationContext.configure(connection, opts={"compare_type": True}), metadata
        )
    return indexes, drift


@pytest.fixture
def postgres_store(fresh_store, monkeypatch) -> Store:
    store = fresh_store()
    if store.engine.dialect.name != "postgresql":
        pytest.skip("SQLite: loads keep their keys (only PostgreSQL builds them after)")
    monkeypatch.setattr(impactlens.store.bulk, "KEYLESS_LOAD_MIN_ROWS", 3)
    return store


def test_a_keyless_first_load_leaves_the_keys_and_indexes_of_the_migrations(postgres_store):
    as_migrated, drift = _schema(postgres_store)
    assert drift == []
    assert [name for name, _ in as_migrated] == [
        "ix_incidents_opened_at",
        "ix_incidents_resolved_at",
        "pk_assignment_history",
        "pk_incidents",
    ]

    postgres_store.save_batch(_batch(5), source_file="f.csv", format="canonical")

    assert _schema(postgres_store) == (as_migrated, [])
    assert len(postgres_store.load_incidents()) == 5
    # The keys work: the same batch again is all unchanged, a newer row is an update.
    again = postgres_store.save_batch(_batch(5), source_file="f.csv", format="canonical")
    assert (again.new, again.updated, again.unchanged) == (0, 0, 5)


def test_a_failed_keyless_load_leaves_no_rows_and_the_keys_in_place(postgres_store):
    as_migrated, _ = _schema(postgres_store)

    def fail(done: int, total: int) -> None:
        raise RuntimeError(f"stopped at {done} of {total}")

    with pytest.raises(RuntimeError, match="stopped at 5 of 5"):
        postgres_store.save_batch(
            _batch(5), source_file="f.csv", format="canonical", on_progress=fail
        )

    assert postgres_store.load_incidents().empty
    assert _schema(postgres_store) == (as_migrated, [])
    postgres_store.save_batch(_batch(5), source_file="f.csv", format="canonical")
    assert len(postgres_store.load_incidents()) == 5


def test_a_batch_below_the_threshold_or_into_stored_rows_keeps_the_keys(postgres_store):
    # Fewer than 3 new incidents: copied into the keyed tables. Then 4 new ones into
    # tables that hold rows: keyed too. Were the keys dropped with rows stored, the
    # upsert of the newer INC0 would fail (ON CONFLICT needs the primary key).
    postgres_store.save_batch(_batch(2), source_file="f.csv", format="canonical")
    newer = _batch(6)
    newer.incidents["updated_at"] = newer.incidents["updated_at"] + pd.Timedelta(hours=1)
    summary = postgres_store.save_batch(newer, source_file="g.csv", format="canonical")

    assert (summary.new, summary.updated) == (4, 2)
    assert len(postgres_store.load_incidents()) == 6
