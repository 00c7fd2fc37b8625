"""SQLite's staged write path (`store.bulk.SqliteWriter`) against its row-by-row one.

Batches of `SCRATCH_MIN_ROWS` rows or more are staged by ADBC in a scratch file; smaller
ones are bound with ``executemany``. Both must store exactly the same rows, and the
scratch files must be gone when the transaction ends, whether it commits or not.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import impactlens.store.bulk
import numpy as np
import pandas as pd
import pytest
from impactlens.ingest.batch import IngestBatch
from impactlens.store import Store

from tests.store.conftest import build_batch

ROWS = 2_400  # above SCRATCH_MIN_ROWS, and more than one chunk of 1,000 (set below)


@pytest.fixture
def scratch_dir(tmp_path, monkeypatch):
    """Where scratch files are made, watched by the test."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _batch(rows: int, *, updated: str, offset: int = 0) -> IngestBatch:
    """`rows` incidents with every kind of value (missing ones too) and two history rows each."""
    incidents = [
        {
            "incident_id": f"INC{offset + n:06d}",
            "updated_at": updated if n % 7 else None,
            "resolved_at": None if n % 3 else "2026-11-03T09:30:00.123456Z",
            "impact": None if n % 5 == 0 else n % 3 + 1,
            "reassignment_count": n % 4,
            "ci": None if n % 11 == 0 else f"ci-{n % 50}",
            "short_description": f"Row {n}: ünïcode, 'quotes', \"double\", comma, new\nline",
        }
        for n in range(rows)
    ]
    history = [
        {
            "incident_id": f"INC{offset + n:06d}",
            "at": f"2026-11-02T1{k}:00:00Z",
            "assignment_group": f"group-{k}",
        }
        for n in range(rows)
        for k in range(2)
    ]
    rejected = [{"line": n, "problem": "bad", "reason": "why", "raw": f"raw {n}"} for n in range(3)]
    return build_batch(incidents, history, rejected)


def _stored(store: Store) -> tuple[pd.DataFrame, pd.DataFrame]:
    stored = store.load_week(since="2000-01-01", until="2100-01-01")
    return stored.incidents.reset_index(drop=True), stored.history.reset_index(drop=True)


def _ingest_three_times(url: str) -> Store:
    store = Store.open(url)
    store.save_batch(
        _batch(ROWS, updated="2026-11-02T11:00:00Z"), source_file="a", format="canonical"
    )
    # The same again (unchanged), then half of them newer plus new ones.
    store.save_batch(
        _batch(ROWS, updated="2026-11-02T11:00:00Z"), source_file="a", format="canonical"
    )
    newer = _batch(ROWS, updated="2026-11-05T08:00:00Z", offset=ROWS // 2)
    store.save_batch(newer, source_file="b", format="canonical")
    return store


def test_staged_and_row_by_row_writes_store_the_same_rows(tmp_path, scratch_dir, monkeypatch):
    monkeypatch.setattr(impactlens.store.bulk, "CHUNK_ROWS", 1_000)
    stage = impactlens.store.bulk.SqliteWriter._stage
    staged_tables: list[str] = []

    def counted(self, frame, dtypes):
        staged_tables.append(stage(self, frame, dtypes))
        return staged_tables[-1]

    monkeypatch.setattr(impactlens.store.bulk.SqliteWriter, "_stage", counted)
    staged = _ingest_three_times(f"sqlite:///{tmp_path / 'staged.db'}")
    # First load: incidents and history; again: the keys; then keys, new incidents,
    # updated ones, their keys (history deleted) and history.
    assert len(staged_tables) == 2 + 1 + 5
    monkeypatch.setattr(impactlens.store.bulk, "SCRATCH_MIN_ROWS", 10**9)
    row_by_row = _ingest_three_times(f"sqlite:///{tmp_path / 'rows.db'}")
    assert len(staged_tables) == 8

    staged_incidents, staged_history = _stored(staged)
    rows_incidents, rows_history = _stored(row_by_row)
    pd.testing.assert_frame_equal(staged_incidents, rows_incidents)
    pd.testing.assert_frame_equal(staged_history, rows_history)
    # What the three batches leave, worked out by hand: 2,400 + 1,200 new incidents;
    # those from INC001200 on were written by the third batch, except the seventh ones
    # (no updated_at there), which a row without one never overwrites.
    assert len(staged_incidents) == ROWS + ROWS // 2
    updated = staged_incidents["updated_at"] == pd.Timestamp("2026-11-05T08:00:00Z")
    number = staged_incidents["incident_id"].str[3:].astype(int)
    expected = (number >= ROWS // 2) & ((number - ROWS // 2) % 7 != 0)
    assert np.array_equal(updated.to_numpy(), expected.to_numpy())
    assert len(staged_history) == 2 * len(staged_incidents)
    assert staged.ingest_runs()["new"].tolist() == [ROWS, 0, ROWS // 2]
    assert list(scratch_dir.iterdir()) == []
    staged.close()
    row_by_row.close()


def test_a_failed_staged_write_leaves_the_store_and_no_scratch_file(tmp_path, scratch_dir):
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")

    def fail(done: int, total: int) -> None:
        raise RuntimeError(f"stopped at {done} of {total}")

    with pytest.raises(RuntimeError, match="stopped at"):
        store.save_batch(
            _batch(ROWS, updated="2026-11-02T11:00:00Z"),
            source_file="a",
            format="canonical",
            on_progress=fail,
        )

    assert len(store.load_incidents()) == 0
    assert list(scratch_dir.iterdir()) == []
    # And the connection is usable: the next batch is staged and stored.
    store.save_batch(
        _batch(ROWS, updated="2026-11-02T11:00:00Z"), source_file="a", format="canonical"
    )
    assert len(store.load_incidents()) == ROWS
    assert list(scratch_dir.iterdir()) == []
    store.close()


def test_a_staged_write_removes_only_the_scratch_files_of_writers_that_are_gone(
    tmp_path, scratch_dir
):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # its pid now names no process (reused only after many more)
    alive = os.getppid()  # the process that started the tests
    for pid in (gone.pid, alive):
        (scratch_dir / f"impactlens-stage-{pid}-abc123.db").write_bytes(b"x")
    (scratch_dir / "someone-elses.db").write_bytes(b"x")

    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    store.save_batch(
        _batch(ROWS, updated="2026-11-02T11:00:00Z"), source_file="a", format="canonical"
    )
    store.close()

    assert sorted(path.name for path in scratch_dir.iterdir()) == [
        f"impactlens-stage-{alive}-abc123.db",
        "someone-elses.db",
    ]
