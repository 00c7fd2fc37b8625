"""Watermarks: kept per (source, name), replaced on write, and stored with their batch.

On a real SQLite file and the real PostgreSQL (see conftest.py).
"""

from __future__ import annotations

import impactlens.store.store
import pytest
from impactlens.store import Watermark


def test_a_watermark_is_none_until_written_then_replaced_by_each_write(fresh_store):
    store = fresh_store()
    assert store.get_watermark("servicenow", "incident") is None

    store.set_watermark("servicenow", "incident", "2026-11-02T10:45:02Z")
    store.set_watermark("servicenow", "incident", "2026-11-03T08:00:00Z")
    store.set_watermark("servicenow", "problem", "2026-11-01T00:00:00Z")
    store.set_watermark("itsm-eu", "incident", "2026-10-01T00:00:00Z")

    assert store.get_watermark("servicenow", "incident") == "2026-11-03T08:00:00Z"
    assert store.get_watermark("servicenow", "problem") == "2026-11-01T00:00:00Z"
    assert store.get_watermark("itsm-eu", "incident") == "2026-10-01T00:00:00Z"
    assert fresh_store().get_watermark("servicenow", "incident") == "2026-11-03T08:00:00Z"


def test_a_batch_and_its_watermark_are_stored_together(fresh_store, make_batch):
    store = fresh_store()
    mark = Watermark("servicenow", "incident", "2026-11-02T11:00:00Z")

    summary = store.save_batch(make_batch([{}]), source_file="pull", format="x", watermark=mark)

    assert summary.new == 1
    assert store.get_watermark("servicenow", "incident") == "2026-11-02T11:00:00Z"


def test_a_failure_after_the_batch_is_written_stores_neither(fresh_store, make_batch, monkeypatch):
    store = fresh_store()
    store.set_watermark("servicenow", "incident", "2026-11-01T00:00:00Z")

    def fail(*args, **kwargs):
        raise OSError("killed between the batch and its watermark")

    monkeypatch.setattr(impactlens.store.store, "write_watermark", fail)
    mark = Watermark("servicenow", "incident", "2026-11-02T11:00:00Z")
    with pytest.raises(OSError):
        store.save_batch(make_batch([{}]), source_file="pull", format="x", watermark=mark)
    monkeypatch.undo()

    assert store.load_incidents().empty and store.ingest_runs().empty
    assert store.get_watermark("servicenow", "incident") == "2026-11-01T00:00:00Z"


def test_a_watermark_needs_text_in_each_part():
    with pytest.raises(ValueError, match=r"Watermark\.value"):
        Watermark("servicenow", "incident", "")
