"""Hostile and broken input at every boundary: one precise line, exit code 2, and quickly.

Each test runs the real CLI in a subprocess against files written to tmp_path, and
checks what a user sees: exit code 2, no traceback, one line on stderr (a map
validation error lists its issues under a header, and stays short) that names the file
or option at fault. A timeout turns a hang (a billion-laughs YAML expanding for
minutes) into a failure instead of a stuck run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures"
TIMEOUT = 20  # seconds; every refusal here takes about one (mostly the CLI's imports)

GOOD_MAP = """\
version: 1
business_processes:
  - {id: sales, criticality: 1, value_per_hour: 600}
services:
  - {id: web}
supports:
  - {service: web, process: sales}
"""
GOOD_INCIDENTS = """\
incident_id,opened_at,resolved_at,priority,ci
INC1,2026-11-02T09:00:00Z,2026-11-02T10:00:00Z,2,web
"""


def billion_laughs(levels: int = 9) -> str:
    """The classic alias bomb, ~1 KB: 10**levels 'lol's once the aliases are expanded."""
    lines = ['lol0: &lol0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels + 1):
        aliases = ", ".join([f"*lol{level - 1}"] * 10)
        lines.append(f"lol{level}: &lol{level} [{aliases}]")
    return "\n".join(lines) + "\n"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A clean environment: the store under tmp_path/data, no inherited impactlens settings."""
    clean = {key: value for key, value in os.environ.items() if not key.startswith("IMPACTLENS_")}
    return clean | {"IMPACTLENS_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "80"}


@pytest.fixture
def store_env(tmp_path: Path, env: dict[str, str]) -> dict[str, str]:
    """`env` with its store already created, so ingest's stderr holds only the error.

    (A first ingest into a fresh store reports on stderr that it created the store.)
    """
    created = run("db", "upgrade", env=env, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    return env


def run(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "impactlens.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def refusal(result: subprocess.CompletedProcess[str]) -> str:
    """The one line of a refusal, after checking exit code 2, no traceback, one line."""
    assert result.returncode == 2, (result.returncode, result.stdout[-2000:], result.stderr[-2000:])
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[:3000]
    assert lines[0].startswith("error: ")
    assert len(lines[0]) < 400, lines[0][:1000]
    return lines[0]


# --- YAML: alias bombs and oversized files ----------------------------------------------


def test_a_billion_laughs_map_is_refused_at_once(tmp_path, env):
    (tmp_path / "bomb.yaml").write_text(billion_laughs() + GOOD_MAP)
    line = refusal(run("map", "check", "bomb.yaml", env=env, cwd=tmp_path))
    assert "bomb.yaml" in line
    assert "too many YAML aliases (possible billion laughs)" in line


def test_a_billion_laughs_map_used_as_a_value_is_refused_too(tmp_path, env):
    # The bomb where the map reads a value: a plain safe_load would hand validation a
    # 10**9-item list to describe, the 2 GB of error text once seen.
    text = billion_laughs() + GOOD_MAP.replace("- {id: web}", "- {id: web, aliases: *lol9}")
    (tmp_path / "bomb.yaml").write_text(text)
    line = refusal(run("map", "check", "bomb.yaml", env=env, cwd=tmp_path))
    assert "service map bomb.yaml" in line
    assert "billion laughs" in line


def test_a_billion_laughs_mapping_file_is_refused(tmp_path, store_env):
    (tmp_path / "export.csv").write_text("Ref,Raised,Sev\nA,2026-11-02T09:00:00Z,1\n")
    bomb = billion_laughs() + "columns: {Ref: incident_id, Raised: opened_at, Sev: priority}\n"
    (tmp_path / "bomb.yaml").write_text(bomb)
    result = run(
        "ingest", "export.csv", "--format", "csv", "--mapping", "bomb.yaml",
        env=store_env, cwd=tmp_path,
    )  # fmt: skip
    line = refusal(result)
    assert "mapping bomb.yaml" in line
    assert "too many YAML aliases (possible billion laughs)" in line


def test_an_oversized_map_is_refused_before_it_is_parsed(tmp_path, env):
    (tmp_path / "huge.yaml").write_text(GOOD_MAP + "# padding\n" * 600_000)  # ~6 MB
    line = refusal(run("map", "check", "huge.yaml", env=env, cwd=tmp_path))
    assert "service map huge.yaml" in line
    assert "over the 5.0 MiB" in line


def test_an_oversized_mapping_file_is_refused(tmp_path, store_env):
    (tmp_path / "export.csv").write_text("Ref,Raised,Sev\nA,2026-11-02T09:00:00Z,1\n")
    (tmp_path / "huge.yaml").write_text("columns: {Ref: incident_id}\n" + "#\n" * 3_000_000)
    result = run(
        "ingest", "export.csv", "--format", "csv", "--mapping", "huge.yaml",
        env=store_env, cwd=tmp_path,
    )  # fmt: skip
    line = refusal(result)
    assert "mapping huge.yaml" in line
    assert "over the 5.0 MiB" in line


def test_a_map_with_huge_values_lists_its_issues_briefly(tmp_path, env):
    huge = "x" * 1_000_000
    text = GOOD_MAP.replace("- {id: web}", f'- {{id: "{huge}", kind: "{huge}"}}')
    (tmp_path / "map.yaml").write_text(text)
    result = run("map", "check", "map.yaml", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: service map in map.yaml is invalid")
    assert len(result.stderr) < 2_000, result.stderr[:3000]
    assert "(1,000,000 characters)" in result.stderr


def test_a_map_with_a_hundred_thousand_errors_lists_the_first_ones(tmp_path, env):
    (tmp_path / "map.yaml").write_text("services:\n" + "  - 1\n" * 100_000)
    result = run("map", "check", "map.yaml", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "error: service map in map.yaml is invalid (100,002 errors):"
    assert lines[-1].strip().startswith("… and ")
    assert len(result.stderr) < 5_000


# --- CSV and options --------------------------------------------------------------------


def test_a_latin1_canonical_csv_is_refused_with_its_line(tmp_path, store_env):
    text = GOOD_INCIDENTS + "INC2,2026-11-02T09:00:00Z,,3,caf\u00e9-server\n"
    (tmp_path / "latin1.csv").write_bytes(text.encode("latin-1"))
    line = refusal(run("ingest", "latin1.csv", "--format", "csv", env=store_env, cwd=tmp_path))
    assert "latin1.csv" in line
    assert "not UTF-8 text (line 3" in line
    assert "0xe9" in line


def test_an_unknown_time_zone_is_refused_before_the_export_is_read(tmp_path, store_env):
    # The file does not even exist: the option is checked first.
    result = run(
        "ingest", "export.csv", "--format", "servicenow", "--timezone", "Mars/Olympus",
        env=store_env, cwd=tmp_path,
    )  # fmt: skip
    line = refusal(result)
    assert line == (
        "error: --timezone: time zone 'Mars/Olympus' is not an IANA zone name "
        "(for example Europe/Berlin or UTC)"
    )


def test_an_unknown_time_zone_is_refused_for_a_format_that_ignores_it(tmp_path, store_env):
    (tmp_path / "incidents.csv").write_text(GOOD_INCIDENTS)
    result = run(
        "ingest", "incidents.csv", "--format", "csv", "--timezone", "Mars/Olympus",
        env=store_env, cwd=tmp_path,
    )  # fmt: skip
    assert "--timezone: time zone 'Mars/Olympus'" in refusal(result)


def test_import_edges_into_an_existing_folder_is_refused(tmp_path, env):
    (tmp_path / "edges.csv").write_text("caller,callee\nweb,db\n")
    (tmp_path / "maps").mkdir()
    line = refusal(run("map", "import-edges", "edges.csv", "--out", "maps", env=env, cwd=tmp_path))
    assert "--out maps" in line
    assert "is a folder" in line


def test_import_edges_into_a_missing_folder_is_refused(tmp_path, env):
    (tmp_path / "edges.csv").write_text("caller,callee\nweb,db\n")
    result = run(
        "map", "import-edges", "edges.csv", "--out", "nowhere/map.yaml", env=env, cwd=tmp_path
    )
    line = refusal(result)
    assert "--out nowhere/map.yaml" in line
    assert "no folder nowhere" in line


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="root may write anywhere")
def test_import_edges_into_a_read_only_folder_is_refused(tmp_path, env):
    (tmp_path / "edges.csv").write_text("caller,callee\nweb,db\n")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        result = run(
            "map", "import-edges", "edges.csv", "--out", "locked/map.yaml", env=env, cwd=tmp_path
        )
    finally:
        locked.chmod(0o700)
    line = refusal(result)
    assert "--out locked/map.yaml" in line
    assert "not writable" in line


# --- contracts of work in progress elsewhere (score --out, the store) --------------------
# These state what `impactlens score` and the store must answer; they fail until that
# work lands in impactlens/cli/score.py and store/.


@pytest.mark.parametrize("target", ["file", "/dev/null"])
def test_score_out_that_is_not_a_folder_is_refused(tmp_path, env, target):
    if target == "file":
        out = tmp_path / "scores.csv"
        out.write_text("not a folder\n")
    else:
        if not Path(target).exists():
            pytest.skip("no /dev/null here")
        out = Path(target)
    result = run(
        "score",
        "--map", str(FIXTURES / "service_map.yaml"),
        "--incidents", str(FIXTURES / "incidents.csv"),
        "--out", str(out),
        env=env, cwd=tmp_path,
    )  # fmt: skip
    line = refusal(result)
    assert str(out) in line
    assert "not a folder" in line


def test_a_database_url_naming_a_text_file_is_refused(tmp_path, env):
    text_file = tmp_path / "notes.txt"
    text_file.write_text("these are my notes, not a database\n" * 100)
    result = run(
        "ingest", str(FIXTURES / "incidents.csv"), "--format", "csv",
        env=env | {"IMPACTLENS_DATABASE_URL": f"sqlite:///{text_file}"}, cwd=tmp_path,
    )  # fmt: skip
    line = refusal(result)
    assert str(text_file) in line
    assert "not a SQLite database" in line
