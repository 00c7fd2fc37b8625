"""`impactlens keys ...`: create (the key on the last line), list (never a key), revoke."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from impactlens.store import Store


def run(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "impactlens.cli", "keys", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    environment = {**os.environ, "IMPACTLENS_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}
    environment.pop("IMPACTLENS_DATABASE_URL", None)
    return environment


def test_create_prints_the_key_last_and_the_store_authenticates_it(env, tmp_path):
    done = run("create", "--scope", "ingest", "--name", "servicenow-prod", env=env, cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    key = done.stdout.strip().splitlines()[-1]
    with Store.open(f"sqlite:///{tmp_path / 'data' / 'impactlens.db'}") as store:
        found = store.authenticate(key)
    assert (found.name, found.scope) == ("servicenow-prod", "ingest")
    assert "shown once" in done.stderr


def test_list_shows_names_and_prefixes_never_keys_and_revoke_takes_effect(env, tmp_path):
    keys = {}
    for name, scope in (("desk", "read"), ("ops", "admin")):
        done = run("create", "--scope", scope, "--name", name, env=env, cwd=tmp_path)
        keys[name] = done.stdout.strip().splitlines()[-1]

    revoked = run("revoke", "desk", env=env, cwd=tmp_path)
    live = run("list", "--format", "csv", env=env, cwd=tmp_path)
    every = run("list", "--revoked", "--format", "csv", env=env, cwd=tmp_path)
    shown = run("list", env=env, cwd=tmp_path)

    assert revoked.returncode == 0 and "Revoked API key 'desk' (read)" in revoked.stdout
    table = pd.read_csv(io.StringIO(every.stdout))
    assert table[["name", "scope"]].values.tolist() == [["desk", "read"], ["ops", "admin"]]
    assert table["prefix"].tolist() == [keys["desk"][:8], keys["ops"][:8]]
    assert table["revoked_at"].notna().tolist() == [True, False]
    assert pd.read_csv(io.StringIO(live.stdout))["name"].tolist() == ["ops"]
    for output in (live.stdout, every.stdout, shown.stdout):
        assert not any(key in output for key in keys.values())
    assert "ops" in shown.stdout and "admin" in shown.stdout


def test_mistakes_are_one_line_and_exit_2(env, tmp_path):
    run("create", "--name", "desk", env=env, cwd=tmp_path)
    cases = {
        ("create", "--name", "x", "--scope", "root"): "scope 'root' is not a scope",
        ("create", "--name", "desk"): "named 'desk' exists already",
        ("revoke", "nobody"): "no API key is named 'nobody' (keys: desk)",
    }
    for args, message in cases.items():
        done = run(*args, env=env, cwd=tmp_path)
        assert done.returncode == 2, args
        assert done.stderr.startswith("error: ")
        assert message in done.stderr and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1


def test_an_empty_list_says_how_to_create_one(env, tmp_path):
    done = run("list", env=env, cwd=tmp_path)
    assert done.returncode == 0
    assert "impactlens keys create" in done.stdout
