"""`impactlens flows weekly|monthly|serve` as a user types them, in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"


def run(*arguments: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "impactlens.cli", "flows", *arguments],
        cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_the_weekly_command_runs_the_flow_and_says_where_the_report_is(prefect_server, tmp_path):
    done = run(
        "weekly", "--week", "2026-W47", "--as-of", "2026-11-23T00:00:00Z",
        "--export", str(FIXTURES / "incidents.csv"),
        "--history", str(FIXTURES / "assignment_history.csv"),
        "--map", str(FIXTURES / "service_map.yaml"),
        env={"PREFECT_API_URL": prefect_server, "IMPACTLENS_DATA_DIR": str(tmp_path)},
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    folder = tmp_path / "reports" / "2026-W47"
    assert "Flow run weekly-impact-report-2026-W47 (" in done.stdout
    assert ": Completed (" in done.stdout
    assert f"  {folder / 'report.html'}" in done.stdout
    assert f"  {folder / 'report.md'}" in done.stdout
    hotspots = pd.read_csv(folder / "csv" / "hotspots.csv").head(5)
    lines = done.stdout.splitlines()
    for rank, key in zip(hotspots["rank"], hotspots["key"], strict=True):
        assert any(line.startswith(f"{rank}. {key}") for line in lines), key
    assert "6." not in [line[:2] for line in lines]  # five, not more


def test_a_missing_export_is_refused_before_prefect_starts(tmp_path):
    done = run(
        "weekly", "--export", str(tmp_path / "nope.csv"),
        env={"PREFECT_API_URL": "http://127.0.0.1:9/api", "IMPACTLENS_DATA_DIR": str(tmp_path)},
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: --export {tmp_path / 'nope.csv'}: no such file"


def test_a_bad_schedule_setting_is_refused_by_serve_with_its_name(tmp_path):
    done = run(
        "serve",
        env={"IMPACTLENS_WEEKLY_SCHEDULE": "every monday", "IMPACTLENS_DATA_DIR": str(tmp_path)},
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2
    assert "IMPACTLENS_WEEKLY_SCHEDULE" in done.stderr
    assert "Traceback" not in done.stderr


def test_prefect_yaml_deploys_the_five_flows_to_a_process_work_pool(prefect_server, tmp_path):
    from prefect import get_client

    environment = {**os.environ, "PREFECT_API_URL": prefect_server, "PWD": str(ROOT)}
    prefect = [sys.executable, "-m", "prefect", "--no-prompt"]
    for command in (
        ["work-pool", "create", "impactlens", "--type", "process", "--overwrite"],
        ["deploy", "--all"],
    ):
        done = subprocess.run(
            prefect + command, cwd=ROOT, env=environment, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
    with get_client(sync_client=True) as client:
        weekly = client.read_deployment_by_name("weekly-impact-report/weekly")
        monthly = client.read_deployment_by_name("monthly-impact-report/monthly")
        client.read_deployment_by_name("ingest-export/on-demand")
        client.read_deployment_by_name("pull-servicenow/on-demand")
        settle = client.read_deployment_by_name("settle-impacts/on-demand")
    assert settle.entrypoint == "flows/settle.py:settle_impacts_flow"
    assert weekly.work_pool_name == "impactlens"
    assert weekly.entrypoint == "flows/report.py:weekly_impact_report"
    assert weekly.pull_steps == [
        {"prefect.deployments.steps.set_working_directory": {"directory": str(ROOT)}}
    ]
    (schedule,) = weekly.schedules
    assert (schedule.schedule.cron, schedule.schedule.day_or) == ("0 7 * * 1", True)
    (schedule,) = monthly.schedules
    assert (schedule.schedule.cron, schedule.schedule.day_or) == ("0 7 1-7 * 1", False)


def test_the_settle_command_settles_on_a_local_dask_cluster(prefect_server, tmp_path):
    from impactlens.engine.impact import build_impact_model
    from impactlens.ingest.pipeline import ingest
    from impactlens.service_map.load import load_service_map
    from impactlens.store import Store

    fixture_map = FIXTURES / "service_map.yaml"
    with Store.open(f"sqlite:///{tmp_path / 'impactlens.db'}") as store:
        ingest(FIXTURES / "incidents.csv", store, format="csv",
               history=FIXTURES / "assignment_history.csv")  # fmt: skip
        stored = store.load_incidents()
    restored = int((stored["resolved_at"].notna() | stored["closed_at"].notna()).sum())
    version = build_impact_model(load_service_map(fixture_map)).version

    done = run("settle", "--map", str(fixture_map), "--dask-workers", "2",
               env={"PREFECT_API_URL": prefect_server, "IMPACTLENS_DATA_DIR": str(tmp_path)},
               cwd=tmp_path)  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert "Running the settle flow on a local Dask cluster of 2 workers" in done.stderr
    assert done.stdout.strip().endswith(
        f"Settled the impact of {restored:,} restored incidents over 4 months under map "
        f"version {version}."
    )
    with Store.open(f"sqlite:///{tmp_path / 'impactlens.db'}") as store:
        assert store.count_unsettled(version) == 0


def test_the_settle_command_refuses_both_dask_options_before_prefect_starts(tmp_path):
    done = run("settle", "--map", str(FIXTURES / "service_map.yaml"), "--dask-workers", "2",
               "--dask-address", "tcp://127.0.0.1:8786",
               env={"PREFECT_API_URL": "http://127.0.0.1:9/api",
                    "IMPACTLENS_DATA_DIR": str(tmp_path)}, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip() == "error: give --dask-address or --dask-workers, not both"
