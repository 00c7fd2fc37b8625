"""Settings: options over IMPACTLENS_* over impactlens.toml over the engine's defaults."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from impactlens.engine.hotspots import HotspotRules
from impactlens.engine.tiers import DEFAULT_TIER_PATTERNS
from impactlens.engine.weekly import ReviewSettings

from impactlens.settings import Settings, SettingsError, get_settings

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    """No IMPACTLENS_* variable and no impactlens.toml unless a test sets one."""
    import os

    for name in list(os.environ):
        if name.startswith("IMPACTLENS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_the_defaults_are_the_engines_own():
    review = get_settings().review_settings()
    assert review == ReviewSettings()
    assert review.hotspots == HotspotRules()
    assert review.facts.tier_patterns == DEFAULT_TIER_PATTERNS


def test_a_file_the_environment_and_options_in_that_order(tmp_path, monkeypatch):
    (tmp_path / "impactlens.toml").write_text(
        'timezone = "Europe/Berlin"\nbaseline_weeks = 6\nrepeat_days = 7\n'
        'group_by = ["category", "assignment_group"]\ncurrency = "EUR"\n'
        'service_map = "maps/shop.yaml"\n'
    )
    settings = get_settings()
    assert (settings.timezone, settings.baseline_weeks, settings.repeat_days) == (
        "Europe/Berlin", 6, 7.0,
    )  # fmt: skip
    assert settings.group_by == ("category", "assignment_group")
    assert str(settings.service_map) == "maps/shop.yaml" and settings.currency == "EUR"

    monkeypatch.setenv("IMPACTLENS_BASELINE_WEEKS", "4")
    assert get_settings().baseline_weeks == 4  # the environment beats the file
    assert get_settings(baseline_weeks=3, timezone=None).baseline_weeks == 3  # options win
    assert get_settings(timezone=None).timezone == "Europe/Berlin"  # None: not given

    review = get_settings(baseline_weeks=3).review_settings()
    assert review.hotspots.baseline_weeks == 3
    assert review.hotspots.chronic_weeks == 3  # 6 of 8, or every week of a shorter baseline
    assert review.facts.repeat_days == 7.0 and review.timezone == "Europe/Berlin"


def test_the_file_named_by_impactlens_config(tmp_path, monkeypatch):
    other = tmp_path / "elsewhere.toml"
    other.write_text("trend_weeks = 12\n")
    monkeypatch.setenv("IMPACTLENS_CONFIG", str(other))
    assert get_settings().review_settings().trend_weeks == 12


def test_a_bad_option_is_named_as_the_option():
    with pytest.raises(SettingsError) as raised:
        get_settings(group_by="category,colour")
    assert str(raised.value) == (
        "--group-by: cannot group hotspots by 'colour': choose from service, ci, "
        "service_component, category, subcategory, assignment_group, location, support_tier, "
        "state, source, problem_id, caused_by_change"
    )


def test_a_bad_variable_is_named_as_the_variable(monkeypatch):
    monkeypatch.setenv("IMPACTLENS_TIMEZONE", "Mars/Olympus")
    with pytest.raises(SettingsError) as raised:
        get_settings()
    assert str(raised.value).startswith(
        "invalid settings: IMPACTLENS_TIMEZONE: time zone 'Mars/Olympus' is not an IANA zone"
    )
    monkeypatch.setenv("IMPACTLENS_TIMEZONE", "UTC")
    monkeypatch.setenv("IMPACTLENS_BASELINE_WEEKS", "0")
    with pytest.raises(SettingsError, match="IMPACTLENS_BASELINE_WEEKS: Input should be"):
        get_settings()


def test_bad_tier_patterns_and_a_broken_file(tmp_path):
    with pytest.raises(SettingsError, match=r"'L4' is not a support tier \(L1, L2, L3\)"):
        get_settings(tier_patterns=[["L4", "x"]])
    with pytest.raises(SettingsError, match="'\\(' is not a regular expression"):
        get_settings(tier_patterns=[["L2", "("]])
    (tmp_path / "impactlens.toml").write_text("timezone = \n")
    with pytest.raises(SettingsError, match=r"settings file impactlens\.toml: "):
        get_settings()


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
        [sys.executable, "-c", "import impactlens.settings, impactlens.store; print('ok')"],
        cwd=REPO_ROOT,
        env={"IMPACTLENS_DATABASE_URL": "my database", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )

    assert (done.returncode, done.stdout.strip()) == (0, "ok"), done.stderr


def test_settings_can_be_built_with_values():
    assert Settings(database_url="sqlite:///x.db").database_url == "sqlite:///x.db"
