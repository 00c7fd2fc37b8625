"""Smoke test of the ingest benchmark at tiny size (no timing assertions)."""

from __future__ import annotations

from impactlens.store.frames import conform
from impactlens.store.schema import INCIDENT_DTYPES

from bench.ingest import generate_batch, main, next_batch
from tests.bench.conftest import recorded


def test_the_generated_batch_is_canonical_and_the_next_one_overlaps_it():
    batch = generate_batch(1_000, seed=3)
    later = next_batch(batch, seed=4)

    assert {name: str(dtype) for name, dtype in batch.incidents.dtypes.items()} == INCIDENT_DTYPES
    conform(batch.incidents, INCIDENT_DTYPES, what="incidents")  # nothing to convert or refuse
    assert batch.incidents["incident_id"].is_unique
    assert len(batch.history) > len(batch.incidents) and len(batch.rejected) == 1
    assert len(later.incidents) == 100 + 10
    assert later.incidents["incident_id"].isin(batch.incidents["incident_id"]).sum() == 100


def test_the_benchmark_runs_end_to_end(capsys, tmp_path, results_file):
    argv = ["--rows", "2000", "--repeats", "1", "--no-memory", "--no-postgres"]
    assert main([*argv, "--csv-dir", str(tmp_path)]) == 0

    printed = capsys.readouterr().out
    assert "sqlite: first load" in printed and "target ingest sqlite first load 2k <= 8x" in printed
    assert {name: entry["target"] for name, entry in recorded(results_file).items()} == {
        "ingest sqlite first load 2k": 8.0,
        "ingest sqlite unchanged 2k": 2.0,
        "ingest sqlite 10% updated 2k": 3.0,
        "store sqlite get_incident p99 2k": 50.0,
    }
