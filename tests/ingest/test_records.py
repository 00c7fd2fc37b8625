"""`ingest_records`: canonical records as JSON values (what ``POST /v1/incidents`` sends)
into a real SQLite store; every record either stored or quarantined with its index."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from impactlens.ingest.pipeline import ingest_records
from impactlens.store import Store

NOW = pd.Timestamp("2026-11-20T00:00:00Z")
GOOD = {"incident_id": "INC1", "opened_at": "2026-11-16T09:00:00Z", "priority": 2}


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(f"sqlite:///{tmp_path / 'store.db'}") as opened:
        yield opened


def test_an_empty_record_is_quarantined_not_dropped(store: Store) -> None:
    report = ingest_records([{}], store, source="itsm", now=NOW)
    assert (report.new, report.quarantined) == (0, 1)
    assert list(report.rejected["line"]) == [0]
    assert "incident_id" in report.rejected["reason"].iloc[0]


def test_empty_records_among_good_ones_keep_their_index(store: Store) -> None:
    report = ingest_records(
        [GOOD, {}, {**GOOD, "incident_id": "INC2"}], store, source="itsm", now=NOW
    )
    assert (report.new, report.quarantined) == (2, 1)
    assert list(report.rejected["line"]) == [1]
    assert store.get_incident("itsm", "INC1") is not None
    assert store.get_incident("itsm", "INC2") is not None


def test_a_number_beyond_int64_is_quarantined_as_written(store: Store) -> None:
    """9.223372036854776e18 has no int64: the rejected row keeps it as a float's text."""
    report = ingest_records(
        [{**GOOD, "priority": 9.223372036854776e18}], store, source="itsm", now=NOW
    )
    assert (report.new, report.quarantined) == (0, 1)
    assert "priority" in report.rejected["reason"].iloc[0]
