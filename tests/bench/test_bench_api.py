"""Smoke test of the API benchmark at tiny size: a real server, every kind of request,
and its cross-check against the library (no timing assertions)."""

from __future__ import annotations

from bench.api import main
from tests.bench.conftest import recorded


def test_the_benchmark_serves_every_kind_of_request_and_its_cross_check_passes(
    capsys, tmp_path, results_file
):
    argv = ["--incidents", "2000", "--requests", "10", "--batches", "1",
            "--cache-dir", str(tmp_path)]  # fmt: skip
    assert main(argv) == 0

    printed = capsys.readouterr().out
    assert "1,000 incidents posted" in printed
    assert "  ok: 20 incidents read through the API equal lookup.incident_impact's" in printed
    assert "target api incident p99 2k <= 50 ms: " in printed
    results = recorded(results_file)
    assert sorted(results) == ["api cached hotspots p99 2k", "api incident p99 2k"]
    assert results["api incident p99 2k"]["unit"] == "ms"
    assert results["api cached hotspots p99 2k"]["target"] == 100.0
