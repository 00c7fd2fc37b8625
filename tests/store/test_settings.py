"""Settings come from IMPACTLENS_* variables when asked for, never at import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from impactlens.settings import Settings, SettingsError, get_settings

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_the_default_database_is_a_sqlite_file_under_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("IMPACTLENS_DATABASE_URL", raising=False)
    monkeypatch.delenv("IMPACTLENS_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)

    settings = get_settings()

    assert settings.data_dir == tmp_path / ".impactlens"
    assert settings.database_url == f"sqlite:///{tmp_path}/.impactlens/impactlens.db"
    assert not (tmp_path / ".impactlens").exists()  # created by the store on first use


def test_the_environment_overrides_the_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("IMPACTLENS_DATABASE_URL", "postgresql+psycopg://app@db.internal/impact")
    assert get_settings().database_url == "postgresql+psycopg://app@db.internal/impact"

    monkeypatch.delenv("IMPACTLENS_DATABASE_URL")
    monkeypatch.setenv("IMPACTLENS_DATA_DIR", str(tmp_path / "data"))
    assert get_settings().database_url == f"sqlite:///{tmp_path}/data/impactlens.db"


def test_an_unusable_value_is_a_settings_error_naming_the_variable(monkeypatch):
    monkeypatch.setenv("IMPACTLENS_DATABASE_URL", "my database")

    with pytest.raises(SettingsError, match="IMPACTLENS_DATABASE_URL: 'my database' is not"):
        get_settings()


def test_importing_the_module_reads_nothing():
    done = subprocess.run(
        [sys.executable, "-c", "import impactlens.settings, store; print('ok')"],
        cwd=REPO_ROOT,
        env={"IMPACTLENS_DATABASE_URL": "my database", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )

    assert (done.returncode, done.stdout.strip()) == (0, "ok"), done.stderr


def test_settings_can_be_built_with_values():
    assert Settings(database_url="sqlite:///x.db").database_url == "sqlite:///x.db"
