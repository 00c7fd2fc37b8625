"""The benchmarks' results file: what a result holds, and how runs merge into the file."""

from __future__ import annotations

import json

from bench.results import Result, count_label, record_results, report


def test_a_result_holds_when_its_value_is_at_most_its_target():
    assert Result("scoring 1M", 2.0, "x", 2.0).holds
    assert not Result("scoring 1M", 2.01, "x", 2.0).holds
    assert Result("exposure giant cycle 10k services", 0.019, "x", 0.02).holds
    assert Result("api incident p99 1M", 62.0, "ms", 50.0).line() == (
        "target api incident p99 1M <= 50 ms: 62 ms FAIL"
    )
    assert Result("scoring 1M", 7.234, "x", 2.0).line() == "target scoring 1M <= 2x: 7.23x FAIL"
    assert Result("exposure giant cycle 10k services", 1 / 28, "x", 1 / 50).line() == (
        "target exposure giant cycle 10k services <= 0.02x: 0.0357x FAIL"
    )


def test_counts_are_labelled_short():
    assert [count_label(n) for n in (1_000_000, 10_000_000, 20_000, 2_500, 999)] == [
        "1M", "10M", "20k", "2.5k", "999",
    ]  # fmt: skip


def test_a_run_replaces_its_own_names_and_keeps_the_others(tmp_path, capsys):
    path = tmp_path / "deep" / "results.json"
    record_results([Result("a", 1.0, "x", 2.0), Result("b", 30.0, "ms", 50.0)], path)
    report([Result("b", 70.0, "ms", 50.0), Result("c", 0.5, "x", 1.0)], path)

    assert json.loads(path.read_text()) == [
        {"name": "a", "value": 1.0, "unit": "x", "target": 2.0},
        {"name": "b", "value": 70.0, "unit": "ms", "target": 50.0},
        {"name": "c", "value": 0.5, "unit": "x", "target": 1.0},
    ]
    assert capsys.readouterr().out.splitlines() == [
        "target b <= 50 ms: 70 ms FAIL",
        "target c <= 1x: 0.5x PASS",
    ]
    assert not path.with_name("results.json.partial").exists()


def test_a_file_cut_short_is_started_again(tmp_path):
    path = tmp_path / "results.json"
    path.write_text('[{"name": "a", "val')
    record_results([Result("b", 1.0, "x", 2.0)], path)
    assert json.loads(path.read_text()) == [{"name": "b", "value": 1.0, "unit": "x", "target": 2.0}]
