"""The canonical CSV (and its assignment history) as an IngestBatch."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import yaml
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
    # counts as fixtures/planted.yaml, written by the generator, gives them (the generator
    # is tested to reproduce the committed files)
    planted = yaml.safe_load((FIXTURES / "planted.yaml").read_text(encoding="utf-8"))
    counts = planted["counts"]
    expected = (counts["valid_incidents"], counts["bad_rows"], counts["history_rows"])
    assert (len(batch.incidents), len(batch.rejected), len(batch.history)) == expected
    assert batch.rejected["line"].tolist() == [bad["line"] for bad in planted["bad_rows"]]
    assert batch.rejected["reason"].tolist() == [
        bad["expected_reason"] for bad in planted["bad_rows"]
    ]
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


def test_reopened_at_and_service_component_are_canonical_columns(tmp_path):
    raw = read_canonical_csv(
        write(
            tmp_path,
            "i.csv",
            "incident_id,opened_at,priority,reopened_at,reopen_count,service_component\n"
            "A,2026-11-02T09:00:00Z,2,2026-11-03T10:00:00Z,,WBS000162\n"
            "B,2026-11-02T09:00:00Z,2,,,\n"
            "C,2026-11-02T09:00:00Z,2,2026-11-04T10:00:00Z,3,Payroll\n"
            "D,2026-11-02T09:00:00Z,2,2026-11-01T10:00:00Z,,\n",
        )
    )

    batch = canonical_batch(raw)

    got = batch.incidents.set_index("incident_id")
    # A reopen time is one reopen; C counts three; D was reopened before it was opened.
    assert got["reopen_count"].tolist() == [1, pd.NA, 3]
    assert got.loc["A", "reopened_at"] == pd.Timestamp("2026-11-03T10:00:00Z")
    assert got.loc["A", "updated_at"] == pd.Timestamp("2026-11-03T10:00:00Z")
    assert got["service_component"].tolist() == ["WBS000162", pd.NA, "Payroll"]
    assert str(got["reopened_at"].dtype) == "datetime64[us, UTC]"
    assert batch.rejected["reason"].tolist() == [
        "reopened_at 2026-11-01T10:00:00Z is before opened_at 2026-11-02T09:00:00Z"
    ]
