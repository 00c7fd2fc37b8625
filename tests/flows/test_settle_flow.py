"""The settle flow, a month per task, on Prefect's thread pool and on a local 2-worker Dask
cluster: exactly the settled impacts one process makes (`settle_impacts` on a copy)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from impactlens.engine.impact import build_impact_model
from impactlens.flows.settle import month_windows, settle_impacts_flow
from impactlens.ingest.pipeline import ingest
from impactlens.service_map.load import load_service_map
from impactlens.store import Store
from impactlens.store.database import connect
from sqlalchemy import text

from impactlens.settled import settle_impacts

REPO = Path(__file__).resolve().parents[2]
MAP = REPO / "fixtures" / "service_map.yaml"


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixtures in a SQLite store, nothing settled (never written: tests copy it)."""
    path = tmp_path_factory.mktemp("settle-flow") / "fixtures.db"
    with Store.open(f"sqlite:///{path}") as store:
        ingest(REPO / "fixtures" / "incidents.csv", store, format="csv",
               history=REPO / "fixtures" / "assignment_history.csv",
               now=pd.Timestamp("2026-11-23T00:00:00Z"))  # fmt: skip
    return path


def _copy(stored: Path, folder: Path, name: str) -> str:
    target = folder / name
    shutil.copyfile(stored, target)
    return f"sqlite:///{target}"


def _settled_rows(url: str) -> list[tuple[object, ...]]:
    with Store.open(url, create=False) as store, connect(store.engine) as connection:
        return sorted(
            tuple(row)
            for row in connection.execute(
                text(
                    "SELECT source, incident_id, map_version, run_id, settled_at, impact "
                    "FROM settled_impacts"
                )
            )
        )


@pytest.fixture(scope="module")
def one_process(stored: Path, tmp_path_factory: pytest.TempPathFactory) -> list[tuple[object, ...]]:
    """What one process settling everything stores: the independent answer."""
    url = _copy(stored, tmp_path_factory.mktemp("one-process"), "one.db")
    with Store.open(url) as store:
        settle_impacts(store, build_impact_model(load_service_map(MAP)))
    rows = _settled_rows(url)
    assert len(rows) > 4_000
    return rows


def test_months_cover_the_store_without_overlap():
    windows = month_windows(
        pd.Timestamp("2026-08-31T04:10:00Z"), pd.Timestamp("2026-11-22T23:00:00Z")
    )
    assert [(f"{a:%Y-%m-%d}", f"{b:%Y-%m-%d}") for a, b in windows] == [
        ("2026-08-01", "2026-09-01"), ("2026-09-01", "2026-10-01"),
        ("2026-10-01", "2026-11-01"), ("2026-11-01", "2026-12-01"),
    ]  # fmt: skip
    assert month_windows(None, None) == []


def test_the_flow_settles_exactly_what_one_process_does(
    prefect_server, stored, one_process, tmp_path
):
    url = _copy(stored, tmp_path, "threads.db")

    run = settle_impacts_flow(service_map=str(MAP), database_url=url)

    assert run == {"map_version": one_process[0][2], "months": 4, "settled": len(one_process)}
    assert _settled_rows(url) == one_process


def test_the_flow_on_a_two_worker_dask_cluster_settles_exactly_the_same(
    prefect_server, stored, one_process, tmp_path
):
    from prefect_dask import DaskTaskRunner

    url = _copy(stored, tmp_path, "dask.db")
    runner = DaskTaskRunner(cluster_kwargs={"n_workers": 2, "threads_per_worker": 1,
                                            "processes": True, "dashboard_address": None})  # fmt: skip

    run = settle_impacts_flow.with_options(task_runner=runner)(
        service_map=str(MAP), database_url=url
    )

    assert run["settled"] == len(one_process) and run["months"] == 4
    assert _settled_rows(url) == one_process
