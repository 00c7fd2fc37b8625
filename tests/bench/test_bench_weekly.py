"""Smoke test of the weekly-job benchmark at tiny size (no timing assertions)."""

from __future__ import annotations

from impactlens.engine.resolution import resolve_services
from impactlens.engine.tiers import support_tiers
from impactlens.service_map.build import build_service_map
from impactlens.store.frames import conform
from impactlens.store.schema import HISTORY_DTYPES, INCIDENT_DTYPES

from bench.mapgen import generate_map_records
from bench.weekly import generate_weekly_batch, main
from tests.bench.conftest import recorded


def test_the_generated_incidents_resolve_on_the_map_and_get_their_tiers_from_it():
    records = generate_map_records(services=200, processes=20, edges=600, seed=1)
    service_map = build_service_map(records)
    batch = generate_weekly_batch(2_000, records, seed=1)

    for frame, dtypes in ((batch.incidents, INCIDENT_DTYPES), (batch.history, HISTORY_DTYPES)):
        assert {name: str(dtype) for name, dtype in frame.dtypes.items()} == dtypes
        conform(frame, dtypes, what="batch")  # nothing to convert or refuse
    # as the store keeps them: what the source said, no derived tier or service
    assert batch.incidents["support_tier"].isna().all()
    assert batch.incidents["service_id"].isna().all()
    derived = support_tiers(batch.incidents, batch.history, service_map=service_map)
    assert set(derived.incident_rule) == {"service map"}  # every group is in support_tiers
    tiers = derived.incident_tier.value_counts(normalize=True)
    assert 0.2 < tiers["L1"] < 0.8 and tiers["L3"] > 0.02
    mapped = resolve_services(batch.incidents, service_map)["mapped"].mean()
    assert 0.9 < mapped < 0.99  # 5% name a CI the map does not know


def test_the_benchmark_runs_end_to_end_and_its_cross_check_passes(capsys, tmp_path, results_file):
    argv = ["--quick", "--repeats", "1", "--no-memory", "--cache-dir", str(tmp_path)]
    assert main(argv) == 0

    printed = capsys.readouterr().out
    assert "review_week" in printed and "full year" in printed
    assert printed.count("  ok: ") == 4
    ((name, result),) = recorded(results_file).items()
    assert name.startswith("weekly job ") and result["unit"] == "x" and result["target"] == 1.0
    assert f"target {name} <= 1x: " in printed
    assert len(list(tmp_path.glob("weekly-*"))) == 4  # two CSVs, two Parquet files
