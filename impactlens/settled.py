"""Settling impacts: each restored incident's impact under the current map, derived once.

Once an incident is restored (resolved or closed) its impact under one map version no
longer changes with time: for any moment from the later of its opening and its
restoration on, `lookup.incident_impact` would derive the same answer. `settle_impacts`
derives it for every restored incident that lacks it (new, re-ingested since, or all of
them after the map changed) and keeps it in the store, so that reading one incident's
impact is a read by key at any size of store. Open incidents are always derived when
asked for: their business minutes grow with time.

The HTTP service settles in the background at start, after a map is replaced and after
incidents are ingested; ``impactlens settle`` does the same from the command line.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from impactlens.engine.facts import incident_facts, restored_at
from impactlens.engine.impact import ImpactModel
from impactlens.lookup import impact_records
from impactlens.store import SettledRow, Store

__all__ = ["SETTLE_BATCH", "SettleSummary", "settle_impacts"]

SETTLE_BATCH = 50_000  # incidents derived and written per transaction

Progress = Callable[[int, int], None]  # (settled so far, to settle in all)


@dataclass(frozen=True)
class SettleSummary:
    """What one `settle_impacts` call did."""

    map_version: str
    settled: int  # incidents whose impact was derived and stored
    seconds: float


def settle_impacts(
    store: Store,
    model: ImpactModel,
    *,
    batch: int = SETTLE_BATCH,
    progress: Progress | None = None,
    stop: Callable[[], bool] | None = None,
    opened: tuple[pd.Timestamp, pd.Timestamp] | None = None,
) -> SettleSummary:
    """Derive and store the settled impact, under `model`'s map version, of every restored
    incident without a valid one; settled impacts of other map versions are dropped.

    Works `batch` incidents at a time (one transaction each), so memory stays bounded and
    an interrupted run keeps what it finished. `progress` is called after each batch;
    `stop`, before each: when it says True, the call returns with what is done. With
    `opened` (``since, until``), only incidents opened in ``[since, until)``: partitions
    that several processes settle side by side (`flows.settle`).
    """
    started = time.perf_counter()
    total = store.count_unsettled(model.version, opened=opened)
    done = 0
    if total == 0:
        store.save_settled(model.version, [])  # still drop other versions' impacts
    while done < total and not (stop is not None and stop()):
        found, run_ids = store.unsettled_incidents(model.version, limit=batch, opened=opened)
        if found.incidents.empty:
            break  # fewer than counted: a re-ingest or another settler got there first
        store.save_settled(
            model.version, _settled_rows(found.incidents, found.history, model, run_ids)
        )
        done += len(found.incidents)
        if progress is not None:
            progress(min(done, total), total)
    return SettleSummary(model.version, done, time.perf_counter() - started)


def _settled_rows(
    incidents: pd.DataFrame, history: pd.DataFrame, model: ImpactModel, run_ids: list[int]
) -> list[SettledRow]:
    """The settled impact of each of `incidents` (all restored)."""
    opened = pd.to_datetime(incidents["opened_at"], utc=True)
    settled_at = pd.concat([opened, pd.to_datetime(restored_at(incidents), utc=True)], axis=1).max(
        axis=1
    )
    # Any moment from the last of them on gives every one of them its settled answer.
    as_of = settled_at.max()
    facts = incident_facts(incidents, history, model, as_of=as_of)
    return [
        SettledRow(source, incident_id, run_id, moment, json.dumps(record))
        for source, incident_id, run_id, moment, record in zip(
            incidents["source"].tolist(),
            incidents["incident_id"].tolist(),
            run_ids,
            settled_at.tolist(),
            impact_records(facts, model),
            strict=True,
        )
    ]
