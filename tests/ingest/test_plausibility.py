"""Incidents with impossible timestamps are quarantined with their reason, history and all."""

from __future__ import annotations

import pandas as pd
from impactlens.ingest.batch import IngestBatch, empty_batch
from impactlens.ingest.plausibility import reject_implausible

NOW = pd.Timestamp("2026-11-28T12:00:00Z")


def batch(opened: list[str], resolved: list[str | None]) -> IngestBatch:
    base = empty_batch()
    ids = [f"INC{i}" for i in range(len(opened))]
    incidents = base.incidents.reindex(range(len(ids))).assign(
        source="t",
        incident_id=ids,
        opened_at=pd.to_datetime(opened, utc=True),
        resolved_at=pd.to_datetime(resolved, utc=True),
    )
    history = pd.DataFrame(
        {
            "source": "t",
            "incident_id": ids,
            "at": pd.to_datetime(opened, utc=True),
            "assignment_group": "Service Desk",
            "support_tier": pd.array([pd.NA] * len(ids), dtype="string"),
        }
    )
    return IngestBatch(incidents, history, base.rejected)


def test_future_ancient_and_tolerated_times():
    result = reject_implausible(
        batch(
            [
                "2026-11-27T09:00:00Z",
                "2026-11-29T11:00:00Z",
                "2026-11-29T13:00:00Z",
                "1970-01-01T00:00:00Z",
                "2026-11-20T09:00:00Z",
            ],
            [None, None, None, "2026-01-01T00:00:00Z", "2099-12-31T00:00:00Z"],
        ),
        now=NOW,
    )
    # INC1 is 23 h ahead: within the one-day tolerance; INC2 is 25 h ahead
    assert result.incidents["incident_id"].tolist() == ["INC0", "INC1"]
    assert result.history["incident_id"].tolist() == ["INC0", "INC1"]
    assert result.rejected["reason"].tolist() == [
        "opened_at 2026-11-29T13:00:00Z is in the future (more than a day after the ingest)",
        "opened_at 1970-01-01T00:00:00Z is before 1990",
        "resolved_at 2099-12-31T00:00:00Z is in the future (more than a day after the ingest)",
    ]
    assert set(result.rejected["problem"]) == {"implausible timestamp"}
    assert '"incident_id": "INC4"' in result.rejected["raw"].iloc[2]


def test_a_plausible_batch_is_returned_as_it_is():
    plain = batch(["2026-11-27T09:00:00Z"], ["2026-11-27T10:00:00Z"])
    assert reject_implausible(plain, now=NOW) is plain


def test_a_quarantined_implausible_row_keeps_its_file_line(tmp_path):
    from impactlens.ingest.pipeline import read_export

    (tmp_path / "incidents.csv").write_text(
        "incident_id,opened_at,priority\n"
        "A,2026-11-02T09:00:00Z,2\n"
        "B,2099-12-31T00:00:00Z,3\n"
        "C,1970-01-02T00:00:00Z,3\n"
    )
    read = read_export(
        tmp_path / "incidents.csv", format="csv", now=pd.Timestamp("2026-11-28", tz="UTC")
    )
    assert read.batch.incidents["incident_id"].tolist() == ["A"]
    assert read.batch.rejected[["line", "problem"]].values.tolist() == [
        [3, "implausible timestamp"],
        [4, "implausible timestamp"],
    ]
    assert read.batch.lines is not None and read.batch.lines.tolist() == [2]
