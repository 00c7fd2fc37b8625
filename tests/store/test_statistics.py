"""PostgreSQL's planner statistics after a batch (`BulkWriter.refresh_statistics`).

A table is analyzed in the batch's transaction when it was never analyzed, or when the
batch wrote more than 10% of the rows it had (autovacuum's rule, which this project's
test server does not run). On tables this small ``ANALYZE`` reads every row, so
``pg_class.reltuples`` is the exact row count it saw.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.store.conftest import build_batch


def _incidents(first: int, count: int) -> list[dict[str, str]]:
    return [{"incident_id": f"INC{n}"} for n in range(first, first + count)]


def _history(first: int, count: int) -> list[dict[str, str]]:
    return [
        {"incident_id": f"INC{n}", "at": f"2026-11-02T1{k}:00:00Z", "assignment_group": f"g{k}"}
        for n in range(first, first + count)
        for k in range(2)
    ]


def test_a_batch_that_writes_over_a_tenth_of_a_table_refreshes_its_statistics(fresh_store):
    store = fresh_store()
    if store.engine.dialect.name != "postgresql":
        pytest.skip("SQLite: its planner has no range statistics to refresh (no STAT4)")

    def known_rows() -> dict[str, float]:
        with store.engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT relname, reltuples FROM pg_class WHERE oid IN "
                    "('incidents'::regclass, 'assignment_history'::regclass)"
                )
            )
            return {name: tuples for name, tuples in rows}

    def save(first: int, count: int) -> None:
        batch = build_batch(_incidents(first, count), _history(first, count))
        store.save_batch(batch, source_file="f.csv", format="canonical")

    assert known_rows() == {"incidents": -1, "assignment_history": -1}  # never analyzed
    save(0, 20)
    assert known_rows() == {"incidents": 20, "assignment_history": 40}
    save(20, 2)  # 2 of 20 and 4 of 40: not over a tenth, left to autovacuum
    assert known_rows() == {"incidents": 20, "assignment_history": 40}
    save(22, 3)  # 3 of 20 rows known: analyzed again, and sees all 25
    assert known_rows() == {"incidents": 25, "assignment_history": 50}
