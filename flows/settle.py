"""Settling impacts across a cluster: one task per month of incidents, on any task runner.

`settle_impacts_flow` splits the store's incidents by the month they were opened and
settles each month in a task of its own (`impactlens.settled.settle_impacts` with that
window). By default the tasks run on Prefect's thread pool in this process; with
``dask_address`` they run on that Dask cluster (`prefect_dask.DaskTaskRunner`), each task
opening the store (use PostgreSQL: every worker must reach it) and the map itself. The
months are disjoint, so the result is exactly that of one process settling everything.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pandas as pd
from impactlens.engine.impact import build_impact_model
from impactlens.flows.settings import flow_settings
from impactlens.service_map.load import load_service_map
from impactlens.service_map.version import map_version
from impactlens.store import Store
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from impactlens.errors import InputFileError
from impactlens.settled import SettleSummary, settle_impacts

__all__ = ["month_windows", "settle_impacts_flow", "settle_month_task"]

SettleRun = dict[str, Any]  # what the flow returns: map version, months, incidents settled


def month_windows(
    first: pd.Timestamp | None, last: pd.Timestamp | None
) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """``[since, until)`` of each calendar month (UTC) from `first`'s to `last`'s.

    >>> [f"{a:%m-%d}..{b:%m-%d}" for a, b in month_windows(
    ...     pd.Timestamp("2026-01-31 23:00", tz="UTC"), pd.Timestamp("2026-03-01", tz="UTC"))]
    ['01-01..02-01', '02-01..03-01', '03-01..04-01']
    """
    if first is None or last is None:
        return []
    start = first.tz_convert("UTC").tz_localize(None).to_period("M").to_timestamp()
    end = last.tz_convert("UTC").tz_localize(None).to_period("M").to_timestamp()
    months = pd.date_range(start, end + pd.offsets.MonthBegin(1), freq="MS", tz="UTC")
    return list(pairwise(months))


@task(name="settle a month", cache_policy=NO_CACHE)
def settle_month_task(
    database_url: str, map_path: str, since: pd.Timestamp, until: pd.Timestamp
) -> SettleSummary:
    """Settle the incidents opened in ``[since, until)``: opens its own store and map, so
    it runs on any worker that reaches both."""
    model = build_impact_model(load_service_map(map_path))
    with Store.open(database_url, create=False) as store:
        return settle_impacts(store, model, opened=(since, until))


@flow(name="settle-impacts")
def settle_impacts_flow(
    service_map: str | None = None,
    database_url: str | None = None,
    settings: dict[str, Any] | None = None,
) -> SettleRun:
    """Settle the impact of every restored incident under the map, a month per task.

    Run it on a Dask cluster with ``settle_impacts_flow.with_options(task_runner=
    DaskTaskRunner(address=...))`` (``impactlens flows settle --dask-address``).
    """
    logger = get_run_logger()
    resolved = flow_settings(settings, service_map=service_map, database_url=database_url)
    if resolved.service_map is None:
        raise InputFileError("give a service map: --map MAP (or IMPACTLENS_SERVICE_MAP)")
    map_path = str(resolved.service_map)
    with Store.open(resolved.database_url) as store:
        windows = month_windows(*store.data_extent())
    futures = [
        settle_month_task.submit(resolved.database_url, map_path, since, until)
        for since, until in windows
    ]
    settled = sum(future.result().settled for future in futures)
    version = map_version(load_service_map(map_path))
    logger.info("settled %d incidents' impacts in %d months under map %s", settled,
                len(windows), version)  # fmt: skip
    return {"map_version": version, "months": len(windows), "settled": settled}
