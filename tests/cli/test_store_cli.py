"""`impactlens store ...` lists what the store holds, checked against the fixture files."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from impactlens.store import Store

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
PLANTED = yaml.safe_load((FIXTURES / "planted.yaml").read_text())


def run(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "impactlens.cli", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("store")
    env = {**os.environ, "IMPACTLENS_DATA_DIR": str(folder / "data")}
    env.pop("IMPACTLENS_DATABASE_URL", None)
    done = run(
        "ingest", str(FIXTURES / "incidents.csv"), "--format", "csv",
        "--history", str(FIXTURES / "assignment_history.csv"), env=env, cwd=folder,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return env, folder


def csv_of(done: subprocess.CompletedProcess[str]) -> pd.DataFrame:
    assert done.returncode == 0, done.stderr
    return pd.read_csv(io.StringIO(done.stdout))


def test_sources_count_what_the_file_holds(store):
    env, folder = store
    raw = pd.read_csv(FIXTURES / "incidents.csv")
    bad_lines = {row["line"] for row in PLANTED["bad_rows"]}
    good = raw[~(raw.index + 2).isin(bad_lines)]
    sources = csv_of(run("store", "sources", "--format", "csv", env=env, cwd=folder))
    assert sources[["source", "incidents", "open", "quarantined"]].values.tolist() == [
        ["csv", len(good), int(good["resolved_at"].isna().sum()), len(bad_lines)]
    ]
    assert sources.loc[0, "last_opened"] == good["opened_at"].max()  # ISO 8601 text, UTC


def test_quarantine_lists_the_planted_bad_rows_with_their_lines(store):
    env, folder = store
    rows = csv_of(run("store", "quarantine", "--format", "csv", env=env, cwd=folder))
    expected = {row["line"]: row["expected_reason"] for row in PLANTED["bad_rows"]}
    assert dict(zip(rows["line"], rows["reason"], strict=True)) == expected
    table = run("store", "quarantine", "--limit", "2", env=env, cwd=folder).stdout
    assert table.startswith("6 quarantined rows; the 2 newest:")


def test_incidents_newest_first_within_the_period(store):
    env, folder = store
    raw = pd.read_csv(FIXTURES / "incidents.csv")
    opened = pd.to_datetime(raw["opened_at"], utc=True, errors="coerce")
    in_week = raw[(opened >= "2026-11-16") & (opened < "2026-11-23")]
    rows = csv_of(
        run("store", "incidents", "--since", "2026-11-16", "--until", "2026-11-23",
            "--limit", "5", "--format", "csv", env=env, cwd=folder)
    )  # fmt: skip
    newest = in_week.assign(at=opened).sort_values("at", ascending=False).head(5)
    assert rows["incident_id"].tolist() == newest["incident_id"].tolist()
    table = run("store", "incidents", "--since", "2026-11-16", "--until", "2026-11-23",
                "--limit", "5", env=env, cwd=folder).stdout  # fmt: skip
    assert table.startswith(f"{len(in_week):,} incidents; the 5 opened last:")


def test_runs_say_what_each_ingest_did(store):
    env, folder = store
    runs = csv_of(run("store", "runs", "--format", "csv", env=env, cwd=folder))
    assert runs[
        ["id", "rows_read", "new", "updated", "unchanged", "quarantined"]
    ].values.tolist() == [[1, 4994, 4988, 0, 0, 6]]


# --- impactlens settle ---------------------------------------------------------------------


def test_settle_keeps_every_restored_incidents_impact_and_says_how_many(tmp_path):
    from impactlens.engine.impact import build_impact_model
    from impactlens.ingest.pipeline import ingest
    from impactlens.service_map.load import load_service_map

    repo = Path(__file__).resolve().parents[2]
    fixture_map = repo / "fixtures" / "service_map.yaml"
    data = tmp_path / "data"
    with Store.open(f"sqlite:///{data / 'impactlens.db'}") as store:
        ingest(repo / "fixtures" / "incidents.csv", store, format="csv",
               history=repo / "fixtures" / "assignment_history.csv")  # fmt: skip
        stored = store.load_incidents()
    restored = int((stored["resolved_at"].notna() | stored["closed_at"].notna()).sum())
    env = {**os.environ, "IMPACTLENS_DATA_DIR": str(data)}
    env.pop("IMPACTLENS_DATABASE_URL", None)
    env.pop("IMPACTLENS_SERVICE_MAP", None)

    def settle(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "impactlens.cli", "settle", *args],
                              env=env, cwd=tmp_path, capture_output=True, text=True,
                              timeout=300)  # fmt: skip

    first = settle("--map", str(fixture_map))
    again = settle("--map", str(fixture_map))
    no_map = settle()

    version = build_impact_model(load_service_map(fixture_map)).version
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith(
        f"Settled the impact of {restored:,} restored incidents under map version {version} in "
    )
    assert again.stdout.strip() == (
        f"Every restored incident's impact is settled under map version {version}."
    )
    with Store.open(f"sqlite:///{data / 'impactlens.db'}") as store:
        assert store.count_unsettled(version) == 0
    assert no_map.returncode == 2 and "give a service map: --map MAP" in no_map.stderr
    assert "Traceback" not in no_map.stderr
