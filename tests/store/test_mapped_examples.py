"""The documented mapped-CSV examples ingested into the store, on SQLite and PostgreSQL.

``docs/ingest-mapping.md`` shows the bank's export with its activity file and the car
maker's event log (the sample files of ``tests/ingest/samples``; what the adapters read
from them is ``tests/ingest/test_mapping_examples.py``). Here they go through
`ingest.pipeline.ingest` into a real store: the counts the doc gives are what is stored,
and ingesting the same files again stores nothing new, the quarantine included.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from impactlens.ingest.pipeline import ingest

SAMPLES = Path(__file__).resolve().parents[1] / "ingest" / "samples"
NOW = pd.Timestamp("2026-12-05T12:00:00Z")
EVER = {"since": "1900-01-01", "until": "2300-01-01"}
EXAMPLES = {
    "bank": {
        "path": SAMPLES / "bank" / "Detail_Incident.csv",
        "mapping": SAMPLES / "bank" / "bank.yaml",
        "history": SAMPLES / "bank" / "Detail_Incident_Activity.csv",
    },
    "carmaker": {
        "path": SAMPLES / "carmaker" / "vinst_incidents.csv",
        "mapping": SAMPLES / "carmaker" / "carmaker.yaml",
    },
}
# rows read, blank rows, incidents, history rows, quarantined rows (worked out in the doc)
COUNTS = {"bank": (20, 5, 16, 26, 7), "carmaker": (32, 2, 8, 12, 5)}


@pytest.mark.parametrize("example", list(EXAMPLES))
def test_the_documented_example_is_stored_as_the_doc_counts_it(fresh_store, example):
    store = fresh_store()
    rows, blank, incidents, history, quarantined = COUNTS[example]

    report = ingest(store=store, format="csv", now=NOW, **EXAMPLES[example])

    assert (report.rows_read, report.blank_rows, report.new) == (rows, blank, incidents)
    assert report.quarantined == quarantined
    week = store.load_week(**EVER)
    assert len(week.incidents) == incidents
    assert len(week.history) == history
    assert len(store.quarantine()) == quarantined
    assert set(week.incidents["source"]) == {example}


@pytest.mark.parametrize("example", list(EXAMPLES))
def test_ingesting_the_example_again_changes_nothing_and_quarantines_nothing_again(
    fresh_store, example
):
    store = fresh_store()
    ingest(store=store, format="csv", now=NOW, **EXAMPLES[example])
    before = store.load_week(**EVER)

    again = ingest(store=store, format="csv", now=NOW, **EXAMPLES[example])

    _, blank, incidents, _, quarantined = COUNTS[example]
    assert (again.new, again.updated, again.unchanged) == (0, 0, incidents)
    assert (again.quarantined, again.blank_rows) == (0, blank)
    assert len(store.quarantine()) == quarantined
    after = store.load_week(**EVER)
    pd.testing.assert_frame_equal(after.incidents, before.incidents)
    pd.testing.assert_frame_equal(after.history, before.history)


def test_the_bank_stores_its_reopens_service_components_and_tiers(fresh_store):
    store = fresh_store()
    ingest(store=store, format="csv", now=NOW, **EXAMPLES["bank"])

    found = store.get_incident("bank", "IM0000005")

    assert found is not None
    incident = found.incident.iloc[0]
    assert incident["reopened_at"] == pd.Timestamp("2013-12-02T08:16:00Z")
    assert (incident["reopen_count"], incident["service_component"]) == (1, "WBS000088")
    assert found.history["assignment_group"].tolist() == ["TEAM0002", "TEAM0191"]
    assert found.history["support_tier"].tolist() == ["L1", "L3"]  # the mapping's patterns
