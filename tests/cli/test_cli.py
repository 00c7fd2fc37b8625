"""The CLI as a user runs it: a real process, real files, exit codes and messages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

MAP = """\
version: 1
business_processes:
  - {id: order-to-cash, criticality: 1, value_per_hour: 6000, hours: 24x7}
  - {id: payroll, criticality: 3, value_per_hour: 600, hours: "mon-fri 09:00-17:00",
     timezone: Europe/Berlin}
services:
  - {id: web}
  - {id: pay-api, aliases: [PAYAPI01], match: {category: [Payments]}}
  - {id: hr-app}
  - {id: db-a}
  - {id: db-b}
  - {id: db, kind: redundancy_group, members: [db-a, db-b], min_up: 1}
dependencies:
  - {from: web, to: pay-api}
  - {from: hr-app, to: pay-api, weight: 0.4}
  - {from: pay-api, to: db}
supports:
  - {service: web, process: order-to-cash}
  - {service: hr-app, process: payroll, weight: 0.5}
"""

INCIDENTS = """\
incident_id,opened_at,resolved_at,priority,ci,category
INC1,2026-11-16T10:00:00Z,2026-11-16T12:00:00Z,2,payapi01,
INC2,2026-11-16T10:00:00Z,,1,,payments
INC3,2026-11-16T10:00:00Z,2026-11-16T11:00:00Z,1,db-a,
INC4,2026-11-16T10:00:00Z,2026-11-16T11:00:00Z,3,FAX,
INC5,not-a-date,,3,web,
INC1,2026-11-16T10:00:00Z,2026-11-16T12:00:00Z,2,payapi01,
"""


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "impactlens.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "map.yaml").write_text(MAP)
    (tmp_path / "incidents.csv").write_text(INCIDENTS)
    return tmp_path


def test_score_writes_the_three_files_with_hand_computed_values(workdir):
    result = run(
        "score",
        "--map",
        "map.yaml",
        "--incidents",
        "incidents.csv",
        "--out",
        "out",
        "--as-of",
        "2026-11-16T13:00:00Z",
        cwd=workdir,
    )
    assert result.returncode == 0, result.stderr
    assert "Read 6 rows; scored 4 incidents" in result.stdout
    assert "3 mapped to a service (75.0%); 2 rejected" in result.stdout
    # INC1: P2 (0.6), Mon 10:00-12:00 UTC = 120 min. order-to-cash 24x7, exposure 1:
    #   0.6 x 1 x 120 = 72 min, 72/60 x 6000 = 7200. payroll: Berlin 11:00-13:00 inside
    #   09-17, exposure 0.4 x 0.5 = 0.2: 0.6 x 0.2 x 120 = 14.4 min, 14.4/60 x 600 = 144.
    #   score = 1.0 x 72 + 0.2 (tier 3) x 14.4 = 74.88; value = 7344.
    # INC2: P1 open until as-of 13:00: 180 min; o2c 180, payroll 0.2 x 180 = 36;
    #   score 180 + 0.2 x 36 = 187.2; value 18000 + 360 = 18360.
    # Total value at risk 7344 + 18360 = 25704.
    assert "Total value at risk: 25,704.00" in result.stdout
    scores = pd.read_csv(workdir / "out" / "incident_scores.csv").set_index("incident_id")
    assert scores.loc["INC1", "impact_score"] == pytest.approx(74.88)
    assert scores.loc["INC1", "value_at_risk"] == pytest.approx(7344.0)
    assert scores.loc["INC1", "impact_minutes"] == pytest.approx(86.4)
    assert scores.loc["INC2", "impact_score"] == pytest.approx(187.2)
    assert scores.loc["INC2", "mapped_by"] == "match"
    assert scores.loc["INC1", "explanation"] == "pay-api -> web -> order-to-cash"
    assert scores.loc["INC3", "impact_score"] == 0 and bool(scores.loc["INC3", "mapped"])
    assert "does not take the group down" in scores.loc["INC3", "explanation"]
    assert not scores.loc["INC4", "mapped"]
    impacts = pd.read_csv(workdir / "out" / "process_impacts.csv")
    assert len(impacts) == 4  # INC1 and INC2, each on 2 processes
    rejected = pd.read_csv(workdir / "out" / "rejected.csv")
    assert rejected["line"].tolist() == [6, 7]
    assert rejected["reason"].tolist() == [
        "opened_at 'not-a-date' is not an ISO 8601 timestamp",
        "duplicate incident_id INC1: kept line 2 (updated_at 2026-11-16T12:00:00Z); "
        "this row's updated_at 2026-11-16T12:00:00Z is not newer",
    ]
    assert rejected.loc[1, "resolved_at"] == "2026-11-16T12:00:00Z"


def test_map_check_valid_with_coverage(workdir):
    result = run("map", "check", "map.yaml", "--incidents", "incidents.csv", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "map.yaml: valid. 5 services, 1 redundancy groups, 2 business processes" in result.stdout
    assert (
        "Coverage: 3 of 4 incidents resolved to a service (75.0%): 2 by CI, 1 by match "
        "rules; 1 unresolved (25.0%)."
    ) in result.stdout
    assert "Most frequent CIs not in the map: FAX (1)" in result.stdout


def test_map_check_invalid_lists_every_error_and_exits_2(workdir):
    (workdir / "bad.yaml").write_text(
        MAP.replace("to: pay-api}", "to: pay-apii}").replace("criticality: 3", "criticality: 9")
    )
    result = run("map", "check", "bad.yaml", cwd=workdir)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: service map in bad.yaml is invalid (2 errors):",
        "  business_processes[1].criticality: 9 is outside 1..4",
        "  dependencies[0].to: unknown service 'pay-apii'",
    ]


def test_blast_radius_lists_processes_with_paths(workdir):
    result = run("map", "blast-radius", "map.yaml", "pay-api", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "pay-api -> web -> order-to-cash" in result.stdout
    assert "pay-api -> hr-app (x0.4) -> payroll (x0.5)" in result.stdout
    lines = [line for line in result.stdout.splitlines() if "payroll (x0.5)" in line]
    assert "0.2" in lines[0] and "120" in lines[0]  # exposure 0.4 x 0.5; 0.2 x 600/h


def test_blast_radius_of_a_redundant_member_and_an_unknown_service(workdir):
    member = run("map", "blast-radius", "map.yaml", "db-a", cwd=workdir)
    assert member.returncode == 0
    assert "db-a reaches no business process on its own." in member.stdout
    unknown = run("map", "blast-radius", "map.yaml", "pay-apu", cwd=workdir)
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == "error: unknown service 'pay-apu' (did you mean pay-api?)"


def test_import_edges_prints_a_skeleton_that_map_check_accepts(workdir):
    (workdir / "edges.csv").write_text("caller,callee,calls\nfrontend,cart,3\ncart,redis,1\n")
    result = run("map", "import-edges", "edges.csv", "--out", "skeleton.yaml", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "Wrote skeleton.yaml: 3 services, 2 dependencies." in result.stderr
    check = run("map", "check", "skeleton.yaml", cwd=workdir)
    assert check.returncode == 0, check.stderr
    printed = run(
        "map", "import-edges", "edges.csv", "--caller", "callee", "--callee", "caller", cwd=workdir
    )
    assert "- from: cart\n  to: frontend" in printed.stdout
    missing = run("map", "import-edges", "edges.csv", "--caller", "source", cwd=workdir)
    assert missing.returncode == 2
    assert "no column 'source' (columns: caller, callee, calls)" in missing.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["score", "--map", "nope.yaml", "--incidents", "incidents.csv", "--out", "o"],
            "error: service map nope.yaml: no such file",
        ),
        (
            ["score", "--map", "map.yaml", "--incidents", "nope.csv", "--out", "o"],
            "error: incidents nope.csv: no such file",
        ),
        (
            [
                "score",
                "--map",
                "map.yaml",
                "--incidents",
                "incidents.csv",
                "--out",
                "o",
                "--as-of",
                "someday",
            ],
            "error: --as-of 'someday' is not an ISO 8601 moment (for example 2026-11-23T00:00:00Z)",
        ),
        (
            ["score", "--map", "map.yaml", "--incidents", "no_priority.csv", "--out", "o"],
            "error: no_priority.csv (incident CSV): missing required column 'priority'",
        ),
        (
            ["score", "--map", "map.yaml", "--incidents", "binary.csv", "--out", "o"],
            "error: incidents binary.csv: not a readable CSV",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(workdir, args, message):
    (workdir / "no_priority.csv").write_text("incident_id,opened_at\nA,2026-11-16T10:00:00Z\n")
    (workdir / "binary.csv").write_bytes(b"\x00\xff\xfe\x00garbage\n\x00\x01,\x02\n")
    result = run(*args, cwd=workdir)
    assert result.returncode == 2
    assert result.stderr.startswith(message)
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
