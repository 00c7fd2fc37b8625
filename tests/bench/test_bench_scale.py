"""The scale benchmark: its generated years, and a run end to end at tiny size on PostgreSQL."""

from __future__ import annotations

import pandas as pd
import pytest

from bench.mapgen import generate_map_records
from bench.scale import YEAR, main, schema_name, year_batch
from bench.weekly import generate_weekly_batch
from tests.bench.conftest import recorded
from tests.store.conftest import postgres_base_url

RECORDS = generate_map_records(services=300, processes=30, edges=900, seed=0)


def test_an_older_year_is_the_same_year_shifted_back_and_restored():
    this_year = generate_weekly_batch(3_000, RECORDS, seed=2).incidents
    older = year_batch(RECORDS, 2, 3_000, seed=0).incidents  # seed + year: the same draw

    assert (older["incident_id"] == "Y2-" + this_year["incident_id"]).all()
    assert (older["opened_at"] == this_year["opened_at"] - 2 * YEAR).all()
    assert (older["opened_at"].dt.day_of_week == this_year["opened_at"].dt.day_of_week).all()
    was_open = this_year["resolved_at"].isna()
    assert was_open.any()  # the generated year has open incidents; an older one has none
    assert older["resolved_at"].notna().all()
    assert (
        older.loc[was_open, "resolved_at"]
        == older.loc[was_open, "opened_at"] + pd.Timedelta(hours=4)
    ).all()
    assert (
        older.loc[~was_open, "resolved_at"] == this_year.loc[~was_open, "resolved_at"] - 2 * YEAR
    ).all()
    assert (older.loc[was_open, "state"] == "Closed").all()
    assert (
        year_batch(RECORDS, 0, 3_000, seed=2).incidents["resolved_at"].isna().sum()
        == was_open.sum()
    )


def test_the_benchmark_runs_end_to_end_on_postgresql(capsys, results_file):
    if postgres_base_url()[0] is None:
        pytest.skip(postgres_base_url()[1])
    argv = ["--years", "2", "--per-year", "3000", "--repeats", "1", "--seed", "7", "--drop"]
    assert main([*argv, "--rebuild"]) == 0

    printed = capsys.readouterr().out
    assert "cross-check: both stores give the same" in printed
    results = recorded(results_file)
    assert {name: entry["target"] for name, entry in results.items()} == {
        "scale monday job 6k": 60.0,
        "scale monday job 6k peak memory": 8192,
        "scale memory 2 years / 1 year": 1.1,
    }
    assert 0 < results["scale monday job 6k"]["value"] < 60
    # --drop: nothing is left in the database
    from sqlalchemy import create_engine, text

    engine = create_engine(postgres_base_url()[0])
    with engine.connect() as connection:
        left = connection.execute(
            text("SELECT count(*) FROM information_schema.schemata WHERE schema_name IN (:a, :b)"),
            {"a": schema_name(1, 3000, 7), "b": schema_name(2, 3000, 7)},
        ).scalar_one()
    engine.dispose()
    assert left == 0
