"""Settled impacts (`impactlens.settled`, `store.settled`), on SQLite and PostgreSQL.

The independent answer is the impact derived on request (`lookup.incident_impact` before
anything is settled): a settled read must equal it for every restored incident, and must
never be served for a moment before the incident settled, after the incident changed, or
under another map.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from impactlens.engine.impact import build_impact_model
from impactlens.ingest.pipeline import ingest, ingest_records
from impactlens.service_map.build import build_service_map
from impactlens.service_map.load import load_service_map
from impactlens.store import Store

from impactlens.lookup import incident_impact
from impactlens.settled import settle_impacts

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
MAP = FIXTURES / "service_map.yaml"
LATER = pd.Timestamp("2027-01-01T00:00:00Z")  # after every fixture incident was restored
SAMPLE = 400  # incidents compared one by one (of 4,988)


@pytest.fixture
def store(fresh_store) -> Store:
    """The fixtures in a fresh store of the backend, nothing settled."""
    opened = fresh_store()
    ingest(FIXTURES / "incidents.csv", opened, format="csv",
           history=FIXTURES / "assignment_history.csv", service_map=load_service_map(MAP),
           now=pd.Timestamp("2026-11-23T00:00:00Z"))  # fmt: skip
    return opened


@pytest.fixture(scope="module")
def model():
    return build_impact_model(load_service_map(MAP))


def _keys(store: Store) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(restored, open) incident keys, worked out with pandas from the stored rows."""
    stored = store.load_incidents()
    restored = stored["resolved_at"].notna() | stored["closed_at"].notna()
    keys = list(zip(stored["source"], stored["incident_id"], strict=True))
    return (
        [key for key, done in zip(keys, restored, strict=True) if done],
        [key for key, done in zip(keys, restored, strict=True) if not done],
    )


def test_every_restored_incident_settles_to_the_impact_derived_on_request(store, model):
    restored, still_open = _keys(store)
    assert len(restored) > 4_000 and still_open  # the fixtures hold both
    sample = restored[:: len(restored) // SAMPLE]
    derived = {key: incident_impact(store, model, *key, as_of=LATER) for key in sample}
    assert store.count_unsettled(model.version) == len(restored)

    progress: list[tuple[int, int]] = []
    summary = settle_impacts(store, model, batch=1_500, progress=lambda *p: progress.append(p))

    assert summary.settled == len(restored) and summary.map_version == model.version
    assert progress == [(1_500, len(restored)), (3_000, len(restored)),
                        (4_500, len(restored)), (len(restored), len(restored))]  # fmt: skip
    assert store.count_unsettled(model.version) == 0
    assert all(store.settled_impact(*key, model.version) is not None for key in sample)
    assert all(store.settled_impact(*key, model.version) is None for key in still_open)
    for key in sample:
        assert incident_impact(store, model, *key, as_of=LATER) == derived[key], key
    # Some of them reach processes: the comparison covers real impacts, not only zeros.
    assert sum(bool(found.processes) for found in derived.values()) > SAMPLE // 4
    assert settle_impacts(store, model).settled == 0  # nothing left to do


def test_a_moment_before_an_incident_settled_is_derived_not_read(store, model):
    settle_impacts(store, model)
    stored = store.load_incidents()
    mapped = stored[stored["resolved_at"].notna() & (stored["ci"] == "erp-db")].iloc[0]
    key = (mapped["source"], mapped["incident_id"])
    midway = mapped["opened_at"] + (mapped["resolved_at"] - mapped["opened_at"]) / 2

    settled = incident_impact(store, model, *key, as_of=LATER)
    earlier = incident_impact(store, model, *key, as_of=midway)

    assert settled is not None and earlier is not None
    assert settled.incident["impact_minutes"] > 0
    # Half of the outage had passed: derived up to then, not the settled whole.
    assert earlier.incident["impact_minutes"] < settled.incident["impact_minutes"]
    assert earlier.as_of == midway


def test_a_reingested_incident_is_not_read_stale_until_settled_again(store, model):
    settle_impacts(store, model)
    restored, _ = _keys(store)
    source, incident_id = restored[10]
    before = incident_impact(store, model, source, incident_id, as_of=LATER)
    row = store.get_incident(source, incident_id).incident.iloc[0]
    new_priority = 1 if row["priority"] != 1 else 2
    changed = {"incident_id": incident_id, "opened_at": row["opened_at"].isoformat(),
               "resolved_at": row["resolved_at"].isoformat(), "priority": new_priority,
               "ci": row["ci"], "updated_at": "2026-12-01T00:00:00Z"}  # fmt: skip
    report = ingest_records([changed], store, source=source)
    assert report.updated == 1

    assert store.count_unsettled(model.version) == 1
    assert store.settled_impact(source, incident_id, model.version) is None
    after = incident_impact(store, model, source, incident_id, as_of=LATER)
    assert after.incident["priority"] == new_priority != before.incident["priority"]
    assert settle_impacts(store, model).settled == 1
    assert incident_impact(store, model, source, incident_id, as_of=LATER) == after


def test_a_new_map_version_settles_every_incident_again_and_drops_the_old(store, model):
    settle_impacts(store, model)
    restored, _ = _keys(store)
    records = yaml.safe_load(MAP.read_text())
    records["business_processes"][0]["criticality"] = 1 + records["business_processes"][0].get(
        "criticality", 1
    )
    changed = build_impact_model(build_service_map(records))
    assert changed.version != model.version

    assert store.count_unsettled(changed.version) == len(restored)
    assert settle_impacts(store, changed).settled == len(restored)
    key = restored[0]
    assert store.settled_impact(*key, model.version) is None  # the old version's are gone
    assert store.settled_impact(*key, changed.version) is not None


def test_a_stop_ends_the_settling_between_batches_keeping_what_is_done(store, model):
    calls = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) > 1  # let one batch through

    summary = settle_impacts(store, model, batch=1_000, stop=stop)

    restored, _ = _keys(store)
    assert summary.settled == 1_000
    assert store.count_unsettled(model.version) == len(restored) - 1_000
