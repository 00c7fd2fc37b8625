"""`impactlens ingest` as a user runs it: real files, a real SQLite store, exit codes."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from impactlens.service_map.load import load_service_map
from impactlens.service_map.version import map_version
from impactlens.store import Store

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures"
EVENT_LOG = REPO.parent / "shared" / "data" / "servicenow-uci" / "incident_event_log.csv.gz"

GOOD = """\
number,opened_at,priority,sys_updated_on,assignment_group,short_description
INC1,2026-11-02 09:00:00,2 - High,2026-11-02 10:00:00,Service Desk,Checkout fails
INC2,2026-11-03 08:00:00,3 - Moderate,2026-11-03 09:00:00,Network Ops,VPN slow
"""


@pytest.fixture
def store(tmp_path: Path) -> dict[str, str]:
    """Environment for a CLI run against a fresh SQLite file in tmp_path."""
    return {**os.environ, "IMPACTLENS_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}"}


def run(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "impactlens.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def stored(env: dict[str, str]) -> pd.DataFrame:
    with Store.open(env["IMPACTLENS_DATABASE_URL"]) as store:
        return store.load_incidents()


def test_fixtures_ingest_once_and_score_from_the_store_as_from_the_csv(tmp_path, store):
    args = (
        "ingest",
        str(FIXTURES / "incidents.csv"),
        "--format",
        "csv",
        "--history",
        str(FIXTURES / "assignment_history.csv"),
        "--map",
        str(FIXTURES / "service_map.yaml"),
    )
    first = run(*args, env=store, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith(
        "Read 4,994 rows: 4,988 new incidents, 0 updated, "
        "0 unchanged, 6 rows quarantined (ingest run 1)."
    )
    # fixtures/planted.yaml: 3789 by CI + 989 by match rules = 4778 of 4988
    version = map_version(load_service_map(FIXTURES / "service_map.yaml"))
    assert (
        f"Resolved to a service of the map (version {version}): 4,778 of 4,988 incidents (95.8%)."
        in first.stdout
    )
    again = run(*args, env=store, cwd=tmp_path)
    assert "0 new incidents, 0 updated, 4,988 unchanged" in again.stdout

    common = ("--map", str(FIXTURES / "service_map.yaml"), "--as-of", "2026-11-23T00:00:00Z")
    from_store = run("score", "--out", "a", *common, env=store, cwd=tmp_path)
    from_csv = run(
        "score",
        "--out",
        "b",
        "--incidents",
        str(FIXTURES / "incidents.csv"),
        *common,
        env=store,
        cwd=tmp_path,
    )
    assert from_store.returncode == 0 and from_csv.returncode == 0, from_store.stderr
    by_store = pd.read_csv(tmp_path / "a" / "incident_scores.csv").sort_values("incident_id")
    by_csv = pd.read_csv(tmp_path / "b" / "incident_scores.csv").sort_values("incident_id")
    pd.testing.assert_frame_equal(by_store.reset_index(drop=True), by_csv.reset_index(drop=True))


def test_a_newer_export_updates_and_an_older_one_never_overwrites(tmp_path, store):
    (tmp_path / "v1.csv").write_text(GOOD)
    (tmp_path / "v2.csv").write_text(
        GOOD.replace("2026-11-02 10:00:00,Service Desk", "2026-11-02 12:00:00,Payments Ops")
    )
    assert (
        run("ingest", "v1.csv", "--format", "servicenow", env=store, cwd=tmp_path).returncode == 0
    )
    newer = run("ingest", "v2.csv", "--format", "servicenow", env=store, cwd=tmp_path)
    assert "0 new incidents, 1 updated, 1 unchanged" in newer.stdout
    older = run("ingest", "v1.csv", "--format", "servicenow", env=store, cwd=tmp_path)
    assert "0 new incidents, 0 updated, 2 unchanged" in older.stdout
    groups = stored(store).set_index("incident_id")["assignment_group"]
    assert groups.to_dict() == {"INC1": "Payments Ops", "INC2": "Network Ops"}


BAD_FILES = {
    # name: (bytes, the message's start, or None when rows are quarantined instead)
    "truncated.csv": (
        GOOD.encode() + b'INC3,2026-11-04 08:00:00,2,2026-11-04 09:00:00,"Ser',
        "error: ",
    ),
    "semicolons.csv": (GOOD.replace(",", ";").encode(), "error: "),
    "garbage.csv": (bytes(range(256)) * 40, "error: "),
    "no_priority.csv": (b"number,opened_at\nINC9,2026-11-02 09:00:00\n", "error: "),
    "latin1.csv": (GOOD.replace("Checkout fails", "Caf\u00e9 down").encode("latin-1"), "error: "),
    "empty.csv": (b"", "error: "),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_an_unreadable_file_is_one_clear_line_and_the_store_is_untouched(tmp_path, store, name):
    (tmp_path / "good.csv").write_text(GOOD)
    assert (
        run("ingest", "good.csv", "--format", "servicenow", env=store, cwd=tmp_path).returncode == 0
    )
    before = stored(store)
    content, message = BAD_FILES[name]
    (tmp_path / name).write_bytes(content)
    result = run("ingest", name, "--format", "servicenow", env=store, cwd=tmp_path)
    assert result.returncode == 2, result.stdout
    assert result.stderr.startswith(message) and name in result.stderr
    assert "Traceback" not in result.stderr
    pd.testing.assert_frame_equal(stored(store), before)


def test_bad_rows_are_quarantined_with_reasons_and_good_rows_land(tmp_path, store):
    rows = [
        "number,opened_at,priority,sys_updated_on,assignment_group,short_description",
        "INC1,2026-11-02 09:00:00,2,2026-11-02 10:00:00,Service Desk,fine",
        "INC2,31/02/2026 09:00,2,2026-11-02 10:00:00,Service Desk,no such day",
        "INC3,2099-12-31 09:00:00,2,2099-12-31 10:00:00,Service Desk,far future",
        "INC4,2026-11-02 09:00:00,2,2026-11-02 11:00:00,Service Desk,dup older",
        "INC4,2026-11-02 09:00:00,1,2026-11-02 12:00:00,Network Ops,dup newer",
        "INC5,2026-11-02 09:00:00,2,2026-11-02 10:00:00,Service Desk," + "x" * 1_100_000,
    ]
    (tmp_path / "mixed.csv").write_text("\n".join(rows) + "\n")
    result = run("ingest", "mixed.csv", "--format", "servicenow", env=store, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "3 new incidents" in result.stdout and "3 rows quarantined" in result.stdout
    incidents = stored(store).set_index("incident_id")
    assert sorted(incidents.index) == ["INC1", "INC4", "INC5"]
    # the duplicate with the newer sys_updated_on wins
    assert incidents.loc["INC4", "assignment_group"] == "Network Ops"
    assert len(incidents.loc["INC5", "short_description"]) == 1_100_000

    with Store.open(store["IMPACTLENS_DATABASE_URL"]) as opened:
        quarantine = opened.quarantine()
    reasons = dict(zip(quarantine["line"], quarantine["reason"], strict=True))
    assert "31/02/2026 09:00" in reasons[3]
    assert "in the future" in next(r for r in quarantine["reason"] if "2099" in r)
    assert any("INC4" in raw and "dup older" in raw for raw in quarantine["raw"])


@pytest.mark.realdata
def test_the_real_servicenow_event_log_lands_once(tmp_path, store):
    if not EVENT_LOG.exists():
        pytest.skip(
            f"real ServiceNow data {EVENT_LOG} is absent (../shared/data not beside the clone)"
        )
    args = ("ingest", str(EVENT_LOG), "--format", "servicenow-eventlog")
    first = run(*args, env=store, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    with gzip.open(EVENT_LOG, "rt") as handle:
        raw = pd.read_csv(handle, dtype=str, keep_default_na=False)
    distinct = raw["number"].nunique()  # independent: 24,918 per the data's README
    assert distinct == 24_918
    assert first.stdout.startswith(
        f"Read {len(raw):,} rows: {distinct:,} new incidents, "
        "0 updated, 0 unchanged, 0 rows quarantined"
    )
    incidents = stored(store)
    assert len(incidents) == distinct
    assert set(incidents["priority"]) <= {1, 2, 3, 4}
    second = run(*args, env=store, cwd=tmp_path)
    assert f"0 new incidents, 0 updated, {distinct:,} unchanged" in second.stdout


def test_pagerduty_log_entries_give_explicit_tiers(tmp_path, store):
    samples = REPO / "tests" / "ingest" / "samples" / "pagerduty"
    result = run(
        "ingest",
        str(samples / "incidents.json"),
        "--format",
        "pagerduty",
        "--log-entries",
        str(samples / "log_entries.json"),
        env=store,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    # the samples' escalate_log_entry gives one incident an explicit tier; the incident
    # whose log entry has an unreadable date is quarantined with the other five bad rows
    assert "3 new incidents" in result.stdout and "6 rows quarantined" in result.stdout
    assert "bad log entry (1)" in result.stdout
    assert "Support tiers decided by: explicit 1; reassignment 2." in result.stdout
    wrong = run(
        "ingest",
        str(samples / "incidents.json"),
        "--format",
        "jira",
        "--log-entries",
        str(samples / "log_entries.json"),
        env=store,
        cwd=tmp_path,
    )
    assert wrong.returncode == 2
    assert wrong.stderr.strip() == "error: --log-entries applies to --format pagerduty only"
