"""load_week and get_incident under a concurrent ingest: incidents and history always agree.

A child process keeps re-writing the same incidents, each batch a new version ``v``: every
incident's ``short_description`` is ``v{v}`` and its history is ``1 + v % 4`` rows whose
groups are ``G{v}-0``, ``G{v}-1``, .... Meanwhile the test reads the week again and again;
a read whose history belongs to another version than its incidents (what reading them in
two transactions gives when a batch commits in between) fails.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

REPO_ROOT = Path(__file__).resolve().parents[2]
INCIDENTS = 200
MIN_READS = 50
MIN_SECONDS = 2.0
MAX_SECONDS = 20.0
WEEK = {"since": "2026-11-02", "until": "2026-11-09"}

# argv: url, incidents. Saves versions 1, 2, ... until its stdin closes; says each one.
WRITER = """
import select, sys
import numpy as np, pandas as pd
from impactlens.ingest.batch import INCIDENT_COLUMNS, IngestBatch
from impactlens.store import Store

url, count = sys.argv[1], int(sys.argv[2])
ids = pd.Series([f"RACE{n:04d}" for n in range(count)], dtype="string")
base = pd.Timestamp("2026-11-03T09:00:00Z").as_unit("us")
store = Store.open(url, create=False)
version = 0
while not select.select([sys.stdin], [], [], 0)[0]:  # readable: the test closed it
    version += 1
    frame = pd.DataFrame({name: pd.Series([None] * count, dtype="string") for name in INCIDENT_COLUMNS})
    frame["source"] = pd.Series(["race"] * count, dtype="string")
    frame["incident_id"] = ids
    frame["opened_at"] = pd.Series([base] * count)
    frame["resolved_at"] = pd.Series([pd.NaT] * count, dtype="datetime64[us, UTC]")
    frame["closed_at"] = frame["resolved_at"]
    frame["updated_at"] = pd.Series([base + pd.Timedelta(seconds=version)] * count)
    frame["priority"] = np.full(count, 3, dtype=np.int64)
    for name in ("impact", "urgency", "reassignment_count", "reopen_count"):
        frame[name] = pd.array([None] * count, dtype="Int64")
    frame["short_description"] = pd.Series([f"v{version}"] * count, dtype="string")
    steps = 1 + version % 4
    owner = np.repeat(np.arange(count), steps)
    history = pd.DataFrame({
        "source": frame["source"].iloc[owner].reset_index(drop=True),
        "incident_id": ids.iloc[owner].reset_index(drop=True),
        "at": pd.Series([base] * len(owner)),
        "assignment_group": pd.Series(
            [f"G{version}-{j}" for j in np.tile(np.arange(steps), count)], dtype="string"),
        "support_tier": pd.Series([None] * len(owner), dtype="string"),
    })
    rejected = pd.DataFrame({"source": pd.Series([], dtype="string"), "line": [],
                             "problem": [], "reason": [], "raw": []})
    store.save_batch(IngestBatch(frame, history, rejected), source_file="race", format="test")
    print(version, flush=True)
store.close()
"""


def check_agrees(incidents: pd.DataFrame, history: pd.DataFrame) -> int:
    """The version every incident of one read is at; fails unless its history agrees."""
    assert len(incidents) == INCIDENTS
    versions = set(incidents["short_description"])
    assert len(versions) == 1, f"one read holds several batches: {sorted(versions)}"
    version = int(versions.pop().removeprefix("v"))
    steps = 1 + version % 4
    expected = [f"G{version}-{j}" for j in range(steps)] * INCIDENTS
    groups = history["assignment_group"].tolist()
    assert groups == expected, (
        f"incidents at v{version} ({steps} history rows each), but history has "
        f"{len(groups)} rows: {sorted(set(groups))[:4]}"
    )
    assert history["incident_id"].tolist() == [
        incident for incident in incidents["incident_id"] for _ in range(steps)
    ]
    return version


def test_a_week_read_during_an_ingest_holds_each_incident_with_its_own_history(fresh_store):
    store = fresh_store()
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, store.url, str(INCIDENTS)],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: list[int] = []
    try:
        ready, _, _ = select.select([writer.stdout], [], [], 60)
        first = writer.stdout.readline() if ready else ""
        if first.strip() != "1":  # the writer failed: show why
            writer.kill()
            raise AssertionError(f"writer said {first!r}; stderr: {writer.stderr.read()}")
        start = time.monotonic()
        while time.monotonic() - start < MAX_SECONDS:
            week = store.load_week(**WEEK)
            seen.append(check_agrees(week.incidents, week.history))
            one = store.get_incident("race", "RACE0007")
            assert one is not None
            check_one = int(one.incident.loc[0, "short_description"].removeprefix("v"))
            assert one.history["assignment_group"].tolist() == [
                f"G{check_one}-{j}" for j in range(1 + check_one % 4)
            ]
            enough = len(seen) >= MIN_READS and time.monotonic() - start >= MIN_SECONDS
            if enough and len(set(seen)) >= 5:
                break
    finally:
        writer.stdin.close()  # the writer finishes its batch and stops
        try:
            writer.wait(timeout=60)
        finally:
            writer.kill()
            writer.stdout.close()
            writer.stderr.close()
    assert writer.returncode == 0
    # The reads really ran while batches landed: they saw many versions, in order.
    assert len(set(seen)) >= 5, f"only versions {sorted(set(seen))} seen in {len(seen)} reads"
    assert seen == sorted(seen)
