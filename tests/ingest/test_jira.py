"""Jira Service Management CSV exports, from a sample written to Jira's export format.

``samples/jira/jsm_incidents.csv`` has Jira's headers (repeated ``Component/s`` and
``Labels`` columns, ``Custom field (...)`` names) and its default date format, exported by
a user in Europe/Berlin (UTC+1 in November 2026). Expected values worked out by hand.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from impactlens.ingest.batch import INCIDENT_COLUMNS
from impactlens.ingest.canonical import record_start_lines
from impactlens.ingest.jira import parse_jira

from impactlens.errors import MissingColumnsError

SAMPLE = Path(__file__).parent / "samples" / "jira" / "jsm_incidents.csv"
DATE_FORMATS = "%d/%b/%y %I:%M %p or %d/%b/%Y %I:%M %p or %d/%b/%y %H:%M or ISO 8601"


def read_export(path: Path = SAMPLE) -> pd.DataFrame:
    """The export as text with ``line`` index, repeated headers renamed ``name.1`` by pandas."""
    data = path.read_bytes()
    frame = pd.read_csv(io.BytesIO(data), dtype="string", keep_default_na=False, na_values=[""])
    frame.index = pd.Index(record_start_lines(data, len(frame)), name="line")
    return frame


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


@pytest.fixture(scope="module")
def batch():
    return parse_jira(read_export(), timezone="Europe/Berlin")


def test_good_issues_become_incidents_in_file_order(batch):
    incidents = batch.incidents
    assert tuple(incidents.columns) == INCIDENT_COLUMNS
    assert incidents["incident_id"].tolist() == ["ITSM-101", "ITSM-102", "ITSM-103", "ITSM-107",
                                                 "ITSM-109"]  # fmt: skip
    assert incidents["priority"].tolist() == [1, 2, 3, 3, 5]
    assert (incidents["source"] == "jira").all()


def test_dates_are_read_in_the_exporting_users_time_zone(batch):
    by_id = batch.incidents.set_index("incident_id")
    assert by_id.loc["ITSM-101", "opened_at"] == utc("2026-11-02T08:41:00Z")  # 9:41 AM CET
    assert by_id.loc["ITSM-101", "resolved_at"] == utc("2026-11-02T10:05:00Z")
    assert by_id.loc["ITSM-101", "updated_at"] == utc("2026-11-02T10:30:00Z")
    assert by_id.loc["ITSM-102", "opened_at"] == utc("2026-11-03T13:15:00Z")  # 2:15 PM CET
    assert pd.isna(by_id.loc["ITSM-102", "resolved_at"])
    # 12:00 AM is midnight: 4 November 00:00 CET is 3 November 23:00 UTC.
    assert by_id.loc["ITSM-103", "opened_at"] == utc("2026-11-03T23:00:00Z")
    # No Updated: the latest known moment.
    assert by_id.loc["ITSM-103", "updated_at"] == utc("2026-11-03T23:00:00Z")
    # ISO 8601 with Jira's +0100 offset.
    assert by_id.loc["ITSM-107", "opened_at"] == utc("2026-11-05T09:00:00Z")
    assert by_id.loc["ITSM-107", "resolved_at"] == utc("2026-11-05T10:30:00Z")
    assert str(batch.incidents["opened_at"].dtype) == "datetime64[us, UTC]"


def test_ci_is_the_affected_service_then_the_first_component(batch):
    by_id = batch.incidents.set_index("incident_id")
    assert by_id.loc["ITSM-101", "ci"] == "payments-api-prod"  # not the component Payments
    assert by_id.loc["ITSM-102", "ci"] == "VPN"
    assert pd.isna(by_id.loc["ITSM-103", "ci"])
    assert by_id.loc["ITSM-109", "ci"] == "db-b"


def test_group_is_the_team_field_then_the_assignee(batch):
    by_id = batch.incidents.set_index("incident_id")
    assert by_id.loc["ITSM-101", "assignment_group"] == "Payments Ops"
    assert by_id.loc["ITSM-102", "assignment_group"] == "Sam Network"
    assert by_id.loc["ITSM-107", "assignment_group"] == "Search Team"
    assert pd.isna(by_id.loc["ITSM-103", "assignment_group"])


def test_status_summary_and_what_jira_does_not_say(batch):
    by_id = batch.incidents.set_index("incident_id")
    assert by_id.loc["ITSM-103", "state"] == "Waiting for support"
    assert by_id.loc["ITSM-103", "short_description"] == 'Printer "HR-3" offline, floor 3'
    assert by_id.loc["ITSM-107", "short_description"] == "Search times out\nafter the 9:00 deploy"
    for column in ("service_id", "support_tier", "closed_at", "impact", "reopen_count"):
        assert batch.incidents[column].isna().all(), column


def test_each_bad_row_is_rejected_with_its_line_and_reason(batch):
    got = list(zip(batch.rejected["line"], batch.rejected["problem"], batch.rejected["reason"],
                   strict=True))  # fmt: skip
    assert got == [
        (5, "bad timestamp", f"Created '31/Nov/26 9:00 AM' is not a date (expected {DATE_FORMATS})"),
        (6, "bad priority", "Priority 'Urgent' is not a known priority (Highest, High, Medium, "
            "Low, Lowest, Blocker, Critical, Major, Minor, Trivial, or P1-P5)"),
        (7, "missing value", "missing Priority"),
        (8, "duplicate incident_id", "duplicate incident_id ITSM-101: kept line 2 (updated_at "
            "2026-11-02T10:30:00Z); this row's updated_at 2026-11-02T09:00:00Z is not newer"),
        (11, "resolved before opened",
             "Resolved 2026-11-06T13:00:00Z is before Created 2026-11-06T14:00:00Z"),
    ]  # fmt: skip
    assert (batch.rejected["source"] == "jira").all()


def test_rejected_rows_keep_the_raw_row_as_json(batch):
    import json

    raw = json.loads(batch.rejected["raw"].iloc[1])
    assert raw["Issue key"] == "ITSM-105"
    assert raw["Priority"] == "Urgent"
    assert raw["Resolved"] is None
    assert raw["Component/s"] == "Mail"


def test_nothing_is_dropped_silently(batch):
    assert len(batch.incidents) + len(batch.rejected) == len(read_export())


def test_history_is_the_current_group_at_opening(batch):
    history = batch.history
    assert history["incident_id"].tolist() == ["ITSM-101", "ITSM-102", "ITSM-107"]
    assert history["assignment_group"].tolist() == ["Payments Ops", "Sam Network", "Search Team"]
    assert history["at"].tolist() == [
        utc("2026-11-02T08:41:00Z"),
        utc("2026-11-03T13:15:00Z"),
        utc("2026-11-05T09:00:00Z"),
    ]
    assert history["support_tier"].isna().all()


def test_repeated_headers_as_true_repeats_work_like_pandas_renamed_ones():
    raw = pd.DataFrame(
        [["JSM-1", "02/Nov/26 9:41 AM", "High", None, "Web shop"]],
        columns=["Issue key", "Created", "Priority", "Component/s", "Component/s"],
        dtype="string",
    )
    batch = parse_jira(raw)
    assert batch.incidents["ci"].tolist() == ["Web shop"]
    assert batch.incidents["opened_at"].tolist() == [utc("2026-11-02T09:41:00Z")]


def test_a_byte_order_mark_on_the_first_header_is_ignored():
    raw = pd.DataFrame(
        {"\ufeffIssue key": ["JSM-1"], "Created": ["2026-11-02"], "Priority": ["Low"]}
    )
    assert parse_jira(raw).incidents["incident_id"].tolist() == ["JSM-1"]


def test_a_missing_required_column_names_it():
    raw = read_export().drop(columns=["Created"])
    with pytest.raises(
        MissingColumnsError, match="Jira CSV export: missing required column 'Created'"
    ):
        parse_jira(raw)


def test_without_priority_column_a_default_priority_applies():
    raw = pd.DataFrame({"Issue key": ["JSM-1"], "Created": ["02/Nov/26 9:41 AM"]}, dtype="string")
    with pytest.raises(MissingColumnsError, match="'Priority'"):
        parse_jira(raw)
    assert parse_jira(raw, default_priority=3).incidents["priority"].tolist() == [3]


def test_a_default_priority_fills_empty_priorities_but_not_unknown_ones(batch):
    batch = parse_jira(read_export(), timezone="Europe/Berlin", default_priority=4)
    by_id = batch.incidents.set_index("incident_id")
    assert by_id.loc["ITSM-106", "priority"] == 4
    assert "ITSM-105" not in by_id.index


def test_a_site_priority_scheme_replaces_the_default_names():
    raw = pd.DataFrame(
        {"Issue key": ["A-1", "A-2", "A-3"], "Created": ["2026-11-02"] * 3,
         "Priority": ["Sev 1 - Outage", "High", "2 - Degraded"]},
        dtype="string",
    )  # fmt: skip
    batch = parse_jira(raw, priority_map={"Sev 1 - Outage": 1})
    assert batch.incidents["priority"].tolist() == [1, 2]  # "2 - Degraded" by its number
    assert batch.rejected["reason"].tolist() == [
        "Priority 'High' is not a known priority (Sev 1 - Outage, or P1-P5)"
    ]


def test_as_of_rejects_issues_created_later():
    batch = parse_jira(read_export(), timezone="Europe/Berlin", as_of="2026-11-04T00:00:00Z")
    assert "ITSM-107" not in batch.incidents["incident_id"].tolist()
    assert "Created 2026-11-05T09:00:00Z is after as_of" in " ".join(batch.rejected["reason"])


@settings(max_examples=25, deadline=None)
@given(order=st.permutations(range(10)))
def test_the_result_does_not_depend_on_row_order(order):
    raw = read_export()
    shuffled = parse_jira(raw.iloc[list(order)], timezone="Europe/Berlin")
    expected = parse_jira(raw, timezone="Europe/Berlin")
    by_id = shuffled.incidents.sort_values("incident_id").reset_index(drop=True)
    assert by_id.equals(expected.incidents.sort_values("incident_id").reset_index(drop=True))
    assert sorted(shuffled.rejected["line"]) == sorted(expected.rejected["line"])


def test_the_export_file_through_read_rows():
    from impactlens.ingest.read import read_rows

    batch = parse_jira(read_rows(SAMPLE), timezone="Europe/Berlin")
    assert batch.incidents.equals(parse_jira(read_export(), timezone="Europe/Berlin").incidents)
    assert batch.rejected["line"].tolist() == [5, 6, 7, 8, 11]
