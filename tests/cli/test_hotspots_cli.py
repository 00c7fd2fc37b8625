"""`impactlens hotspots` as a user runs it on the fixtures: a real process, real files, a real
SQLite store; planted truth from fixtures/planted.yaml."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from impactlens.engine.hotspots import HOTSPOT_COLUMNS

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures"
PLANTED = yaml.safe_load((FIXTURES / "planted.yaml").read_text())
AS_OF = "2026-11-23T00:00:00Z"  # W47 is the last complete week
MAP = ("--map", str(FIXTURES / "service_map.yaml"))
FROM_CSV = (
    *MAP,
    "--incidents",
    str(FIXTURES / "incidents.csv"),
    "--history",
    str(FIXTURES / "assignment_history.csv"),
    "--as-of",
    AS_OF,
)
CHRONIC = PLANTED["chronic_hotspot"]["service"]  # inventory-sync
EMERGING = PLANTED["emerging_hotspot"]["service"]  # shipping-labels


def run(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "impactlens.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The store (if any) is a fresh SQLite file under tmp_path/data."""
    environment = {k: v for k, v in os.environ.items() if k != "IMPACTLENS_DATABASE_URL"}
    return {**environment, "IMPACTLENS_DATA_DIR": str(tmp_path / "data")}


def hotspots(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    result = run("hotspots", *args, env=env, cwd=cwd)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result


def flagged(rows: pd.DataFrame) -> dict[str, str]:
    chosen = rows[rows["flag"].fillna("") != ""]
    return dict(zip(chosen["key"], chosen["flag"], strict=True))


def test_table_names_the_planted_hotspots_with_their_flags(tmp_path, env):
    result = hotspots(*FROM_CSV, env=env, cwd=tmp_path)
    lines = result.stdout.splitlines()
    # W47 has exactly the two planted hotspots (tests/engine/test_hotspots.py: precision 1)
    assert lines[0].startswith("Week 2026-W47 (UTC): ")
    assert lines[0].endswith(
        " keys with incidents, 2 flagged as hotspots; baseline 8 weeks before."
    )
    assert any(CHRONIC in line and "chronic" in line for line in lines)
    assert any(EMERGING in line and "emerging" in line for line in lines)
    records = [line for line in lines if line.startswith("   Raise a problem record for ")]
    assert len(records) == 2
    assert records[0].startswith(
        f"   Raise a problem record for {CHRONIC}: chronic L2/L3 escalations"
    )
    assert records[1].startswith(
        f"   Raise a problem record for {EMERGING}: emerging L2/L3 escalations"
    )
    # --top 10: the table's rows and then each key's reasons, ranks 1..10, no 11th
    rows = [line.split() for line in lines if re.match(r"^ +\d+ +\S", line)]
    assert [row[0] for row in rows] == [str(rank) for rank in range(1, 11)]
    assert rows[0][1:3] == [CHRONIC, "chronic"]
    reasons = [line for line in lines if re.match(r"^\d+\. ", line)]
    assert [line.split(".")[0] for line in reasons] == [str(rank) for rank in range(1, 11)]
    assert reasons[0].startswith(f"1. {CHRONIC} (chronic): 10 of 10 incidents reached L2 or L3")


def test_json_has_every_hotspot_column(tmp_path, env):
    result = hotspots(*FROM_CSV, "--format", "json", env=env, cwd=tmp_path)
    records = json.loads(result.stdout)
    assert len(records) == 10
    assert all(list(record) == list(HOTSPOT_COLUMNS) for record in records)
    rows = pd.DataFrame(records)
    assert flagged(rows) == {CHRONIC: "chronic", EMERGING: "emerging"}
    assert rows["rank"].tolist() == list(range(1, 11))
    by_key = rows.set_index("key")
    chronic_counts = PLANTED["chronic_hotspot"]["all_incidents_on_service_per_week"]
    emerging_counts = PLANTED["emerging_hotspot"]["all_incidents_on_service_per_week"]
    assert by_key.loc[CHRONIC, "incidents"] == chronic_counts["2026-W47"]  # 10
    assert by_key.loc[EMERGING, "incidents"] == emerging_counts["2026-W47"]  # 15
    assert set(by_key.loc[[CHRONIC, EMERGING], "rank"]) <= {1, 2, 3}
    assert by_key.loc[EMERGING, "problem_record"].startswith(
        f"Raise a problem record for {EMERGING}: emerging"
    )


def test_csv_parses_with_pandas(tmp_path, env):
    result = hotspots(*FROM_CSV, "--format", "csv", "--top", "5", env=env, cwd=tmp_path)
    rows = pd.read_csv(io.StringIO(result.stdout))
    assert tuple(rows.columns) == HOTSPOT_COLUMNS
    assert len(rows) == 5
    assert flagged(rows) == {CHRONIC: "chronic", EMERGING: "emerging"}
    assert rows["incidents"].dtype.kind == "i"


def valid_w47_incidents() -> pd.DataFrame:
    """The fixture incidents opened in 2026-W47 (UTC), read and checked here with pandas alone:
    a parsable opened_at, priority 1..5, not resolved before opened, first of a duplicate id."""
    rows = pd.read_csv(FIXTURES / "incidents.csv", dtype=str, keep_default_na=False)
    opened = pd.to_datetime(rows["opened_at"], utc=True, errors="coerce", format="ISO8601")
    resolved = pd.to_datetime(rows["resolved_at"].replace("", None), utc=True, format="ISO8601")
    priority = pd.to_numeric(rows["priority"], errors="coerce")
    valid = (
        opened.notna()
        & priority.between(1, 5)
        & ~(resolved < opened)
        & ~rows["incident_id"].duplicated()
    )
    in_week = (opened >= pd.Timestamp("2026-11-16", tz="UTC")) & (
        opened < pd.Timestamp("2026-11-23", tz="UTC")
    )
    return rows[valid & in_week]


def test_group_by_category_and_assignment_group(tmp_path, env):
    result = hotspots(
        *FROM_CSV,
        "--group-by",
        "category, assignment_group",
        "--format",
        "json",
        "--top",
        "1000",
        env=env,
        cwd=tmp_path,
    )
    got = pd.DataFrame(json.loads(result.stdout)).set_index("key")
    week = valid_w47_incidents()
    part = {
        name: week[name].str.strip().replace("", "(none)")
        for name in ("category", "assignment_group")
    }
    week = week.assign(
        key=part["category"] + " / " + part["assignment_group"],
        escalated=week["support_tier"].isin(["L2", "L3"]),
    )
    expected = week.groupby("key").agg(incidents=("key", "size"), escalated=("escalated", "sum"))
    assert sorted(got.index) == sorted(expected.index)
    assert got.loc[expected.index, "incidents"].tolist() == expected["incidents"].tolist()
    assert got.loc[expected.index, "escalated"].tolist() == expected["escalated"].tolist()
    assert got["incidents"].sum() == len(week)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--week", "2026-W60"), "error: week '2026-W60' does not exist: 2026 has no week 60"),
        (
            ("--group-by", "colour"),
            "error: --group-by: cannot group hotspots by 'colour': choose from service, ci, "
            "service_component, category, subcategory, assignment_group, location, "
            "support_tier, state, source, problem_id, caused_by_change",
        ),
        (("--format", "xml"), "error: --format 'xml' is not one of table, csv, json"),
        (
            ("--sort", "colour"),
            "error: cannot sort hotspots by 'colour': choose from rank, impact, repeat_impact, "
            "escalated, reached_l3, incidents, repeats, ping_pong, reopens, escalation_rate, ttr",
        ),
        (
            ("--week", "2026-W49"),
            "error: week 2026-W49 starts after as_of 2026-11-23T00:00:00+00:00: nothing to review yet",
        ),
    ],
)
def test_bad_options_are_one_line_and_exit_2(tmp_path, env, args, message):
    result = run("hotspots", *FROM_CSV, *args, env=env, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [message]
    # besides the error, at most the note about the 6 unreadable fixture rows
    others = [line for line in result.stderr.splitlines() if not line.startswith("error:")]
    assert all(line.startswith("note: 6 rows of ") for line in others), others
    assert result.stdout == ""


def test_from_the_store_as_from_the_csv(tmp_path, env):
    ingest = run(
        "ingest",
        str(FIXTURES / "incidents.csv"),
        "--format",
        "csv",
        "--history",
        str(FIXTURES / "assignment_history.csv"),
        *MAP,
        env=env,
        cwd=tmp_path,
    )
    assert ingest.returncode == 0, ingest.stderr
    assert (tmp_path / "data" / "impactlens.db").is_file()
    week = ("--week", "2026-W47", "--as-of", AS_OF, "--format", "json", "--top", "1000")
    from_store = hotspots(*MAP, *week, env=env, cwd=tmp_path)
    from_csv = hotspots(*FROM_CSV, *week, env=env, cwd=tmp_path)
    stored = pd.DataFrame(json.loads(from_store.stdout))
    read = pd.DataFrame(json.loads(from_csv.stdout))
    assert flagged(stored) == flagged(read) == {CHRONIC: "chronic", EMERGING: "emerging"}
    counts = [
        "key",
        "flag",
        "incidents",
        "escalated",
        "reached_l3",
        "repeats",
        "ping_pong",
        "reopens",
    ]
    pd.testing.assert_frame_equal(stored[counts], read[counts])
    pd.testing.assert_frame_equal(stored, read)  # and every other figure too
