"""The canonical CSV (and its assignment history) as an IngestBatch."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from impactlens.ingest.batch import INCIDENT_COLUMNS
from impactlens.ingest.canonical import canonical_batch, read_canonical_csv

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_fixtures_become_a_batch_with_their_history():
    batch = canonical_batch(
        read_canonical_csv(FIXTURES / "incidents.csv"),
        history=read_canonical_csv(FIXTURES / "assignment_history.csv"),
        as_of="2026-11-23T00:00:00Z",
    )
    assert tuple(batch.incidents.columns) == INCIDENT_COLUMNS
    # counts as fixtures/planted.yaml gives them: 4970 valid, 6 bad rows, 6987 history rows
    assert (len(batch.incidents), len(batch.rejected), len(batch.history)) == (4970, 6, 6987)
    assert batch.rejected["line"].tolist() == [101, 1001, 2001, 3001, 4001, 4501]
    assert json.loads(batch.rejected["raw"][0])["opened_at"] == "not-a-date"
    assert str(batch.incidents["opened_at"].dtype) == "datetime64[us, UTC]"
    assert batch.incidents["source"].eq("csv").all()


def test_updated_at_is_the_latest_known_moment_and_state_follows_resolution(tmp_path):
    raw = read_canonical_csv(
        write(
            tmp_path,
            "i.csv",
            (
                "incident_id,opened_at,resolved_at,priority,assignment_group\n"
                "A,2026-11-02T09:00:00Z,2026-11-02T11:30:00Z,2,Service Desk\n"
                "B,2026-11-03T08:00:00Z,,3,\n"
            ),
        )
    )
    batch = canonical_batch(raw, source="acme")
    rows = batch.incidents.set_index("incident_id")
    assert rows.loc["A", "updated_at"] == pd.Timestamp("2026-11-02T11:30:00Z")
    assert rows.loc["B", "updated_at"] == pd.Timestamp("2026-11-03T08:00:00Z")
    assert rows["state"].tolist() == ["resolved", "open"]
    # no history file: one assignment per incident that names its group
    assert batch.history[["incident_id", "assignment_group"]].values.tolist() == [
        ["A", "Service Desk"]
    ]
    assert batch.history["at"].tolist() == [pd.Timestamp("2026-11-02T09:00:00Z")]


def test_history_rows_without_their_incident_or_with_a_bad_time_are_rejected(tmp_path):
    raw = read_canonical_csv(
        write(tmp_path, "i.csv", ("incident_id,opened_at,priority\nA,2026-11-02T09:00:00Z,2\n"))
    )
    history = read_canonical_csv(
        write(
            tmp_path,
            "h.csv",
            (
                "incident_id,at,assignment_group\n"
                "A,2026-11-02T09:00:00Z,Service Desk\n"
                "Z,2026-11-02T09:05:00Z,Network Ops\n"
                "A,soon,Network Ops\n"
            ),
        )
    )
    batch = canonical_batch(raw, history=history)
    assert batch.history["assignment_group"].tolist() == ["Service Desk"]
    assert batch.rejected[["line", "problem", "reason"]].values.tolist() == [
        [3, "unknown incident", "history row for incident 'Z', which is not in the batch"],
        [4, "bad timestamp", "at 'soon' is not an ISO 8601 timestamp"],
    ]
