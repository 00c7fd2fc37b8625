"""A batch killed half-way leaves the store exactly as it was, and the store opens again.

The ingest runs in a child process that reports after its first chunk of incidents is
written (inside the batch's transaction) and then waits; the test SIGKILLs it there.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import impactlens.store.bulk
import pandas as pd
from impactlens.store import Store
from impactlens.store.database import connect
from sqlalchemy import make_url

REPO_ROOT = Path(__file__).resolve().parents[2]
ROWS = 120_000  # three chunks of 50,000: killed after the first

CHILD = """
import sys, time
import numpy as np, pandas as pd
from impactlens.ingest.batch import IngestBatch, INCIDENT_COLUMNS
from impactlens.store import Store

rows = int(sys.argv[2])
moments = pd.Series(pd.to_datetime(np.arange(rows), unit="s", utc=True)).dt.as_unit("us")
frame = pd.DataFrame({name: pd.Series([None] * rows, dtype="string") for name in INCIDENT_COLUMNS})
frame["source"] = pd.Series(["servicenow"] * rows, dtype="string")
frame["incident_id"] = ("BIG" + pd.Series(np.arange(rows)).astype("string").str.zfill(7)).astype("string")
for name in ("opened_at", "resolved_at", "closed_at", "updated_at"):
    frame[name] = moments
frame["priority"] = np.full(rows, 3, dtype=np.int64)
for name in ("impact", "urgency", "reassignment_count", "reopen_count"):
    frame[name] = pd.array([1] * rows, dtype="Int64")
history = pd.DataFrame({"source": frame["source"], "incident_id": frame["incident_id"],
                        "at": moments, "assignment_group": frame["state"], "support_tier": frame["state"]})
rejected = pd.DataFrame({"source": pd.Series(["servicenow"], dtype="string"), "line": [9],
                         "problem": ["p"], "reason": ["r"], "raw": ["{}"]})

def progress(done, total):
    print(f"written {done} of {total}", flush=True)
    time.sleep(300)  # killed here, with the transaction open

Store.open(sys.argv[1], create=False).save_batch(
    IngestBatch(frame, history, rejected), source_file="big.csv", format="servicenow",
    on_progress=progress)
print("finished", flush=True)
"""


def snapshot(store: Store) -> list[pd.DataFrame]:
    week = store.load_week(since="1970-01-01", until="2300-01-01")  # every incident
    return [week.incidents, week.history, store.ingest_runs(), store.quarantine()]


def test_a_batch_killed_mid_way_leaves_no_partial_rows(
    fresh_store, store_url, make_batch, tmp_path, monkeypatch
):
    # Scratch files (SQLite's staged writes) go to a folder the test watches, here and
    # in the child.
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    store = fresh_store()
    store.save_batch(
        make_batch(
            incidents=[{}, {"incident_id": "BIG0000001", "state": "stored before"}],
            history=[{"incident_id": "INC1", "assignment_group": "Desk"}],
            rejected=[{"line": 4, "problem": "p", "reason": "r", "raw": "{}"}],
        ),
        source_file="small.csv",
        format="servicenow",
    )
    before = snapshot(store)
    wal = Path(f"{make_url(store_url).database}-wal") if store_url.startswith("sqlite") else None
    wal_before = wal.stat().st_size if wal and wal.exists() else 0

    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, store_url, str(ROWS)],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "TMPDIR": str(scratch)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready, _, _ = select.select([child.stdout], [], [], 120)
        line = child.stdout.readline() if ready else ""
        if not line.startswith("written 50000 of"):  # the child failed: show why
            child.kill()
            raise AssertionError(f"child said {line!r}; stderr: {child.stderr.read()}")
        # BIG0000001 is stored already, with a newer updated_at: 1 row less to write.
        assert line.strip() == f"written 50000 of {ROWS - 1}"
        if wal is not None:  # the first chunk really reached the file, uncommitted
            assert wal.stat().st_size > wal_before + 1_000_000
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)
        child.stdout.close()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL

    after = snapshot(store)
    for was, now in zip(before, after, strict=True):
        pd.testing.assert_frame_equal(now, was)
    if wal is not None:
        with connect(store.engine) as connection:
            assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"

    # The killed SQLite writer's scratch files (its keys, its incidents) were left
    # behind: their clean-up never ran.
    left = [path.name for path in scratch.iterdir()]
    if wal is not None:
        assert len(left) == 2
        assert all(name.startswith(f"impactlens-stage-{child.pid}-") for name in left)
    else:
        assert left == []

    # The store opens and takes the next batch as if nothing had happened; a staged
    # write removes the scratch file of the writer that is gone.
    monkeypatch.setattr(impactlens.store.bulk, "SCRATCH_MIN_ROWS", 0)
    summary = store.save_batch(
        make_batch(incidents=[{"incident_id": "INC9"}]),
        source_file="next.csv",
        format="servicenow",
    )
    assert summary.new == 1
    assert list(scratch.iterdir()) == []
    assert store.ingest_runs()["file"].tolist() == ["small.csv", "next.csv"]
    assert store.load_incidents()["incident_id"].tolist() == ["BIG0000001", "INC1", "INC9"]
