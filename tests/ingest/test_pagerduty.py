"""PagerDuty REST API v2 JSON, from samples shaped like its documented responses.

``samples/pagerduty/incidents.json`` is a ``GET /incidents`` answer (fields and example
values from PagerDuty's OpenAPI document); ``log_entries.json`` a ``GET /log_entries``
answer. Expected values worked out by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from impactlens.ingest.batch import HISTORY_COLUMNS, INCIDENT_COLUMNS
from impactlens.ingest.pagerduty import parse_pagerduty

from impactlens.errors import InputFileError

SAMPLES = Path(__file__).parent / "samples" / "pagerduty"


def load(name: str):
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


@pytest.fixture(scope="module")
def batch():
    return parse_pagerduty(
        load("incidents.json"), log_entries=load("log_entries.json")["log_entries"]
    )


def test_good_incidents_are_kept_in_order(batch):
    assert tuple(batch.incidents.columns) == INCIDENT_COLUMNS
    assert batch.incidents["incident_id"].tolist() == ["PT4KHLK", "PQMF62U", "PPVZH9X"]
    assert (batch.incidents["source"] == "pagerduty").all()


def test_times_and_state(batch):
    by_id = batch.incidents.set_index("incident_id")
    assert by_id.loc["PT4KHLK", "opened_at"] == utc("2026-11-02T09:30:42Z")
    assert by_id.loc["PT4KHLK", "resolved_at"] == utc("2026-11-02T10:38:23Z")
    assert by_id.loc["PT4KHLK", "updated_at"] == utc("2026-11-02T10:40:00Z")
    assert by_id.loc["PT4KHLK", "state"] == "resolved"
    # +01:00 offset converted; acknowledged, so not resolved; update time from the status change
    assert by_id.loc["PQMF62U", "opened_at"] == utc("2026-11-03T07:00:00Z")
    assert pd.isna(by_id.loc["PQMF62U", "resolved_at"])
    assert by_id.loc["PQMF62U", "updated_at"] == utc("2026-11-03T07:10:00Z")
    # resolved without resolved_at: the last status change is the resolution
    assert by_id.loc["PPVZH9X", "resolved_at"] == utc("2026-11-04T12:00:00Z")
    assert by_id.loc["PPVZH9X", "updated_at"] == utc("2026-11-04T12:00:00Z")


def test_priority_from_the_p_number_else_from_urgency(batch):
    by_id = batch.incidents.set_index("incident_id")
    assert by_id.loc["PT4KHLK", "priority"] == 2  # priority.summary P2
    assert by_id.loc["PQMF62U", "priority"] == 4  # no priority, urgency low
    assert by_id.loc["PPVZH9X", "priority"] == 1  # P1
    assert by_id["urgency"].tolist() == [1, 3, 1]  # high -> 1, low -> 3


def test_ci_group_and_title(batch):
    by_id = batch.incidents.set_index("incident_id")
    assert by_id["ci"].tolist() == ["My Mail Service", "Database Cluster", "Identity Provider"]
    # escalation policy; escalation policy; no policy: the first team
    assert by_id["assignment_group"].tolist() == ["Mail Ops", "DB Ops", "Identity"]
    assert by_id.loc["PT4KHLK", "short_description"] == "The server is on fire."


def test_history_from_log_entries_with_levels_as_tiers(batch):
    history = batch.history
    assert tuple(history.columns) == HISTORY_COLUMNS
    mail = history[history["incident_id"] == "PT4KHLK"]
    assert mail["at"].tolist() == [
        utc("2026-11-02T09:30:42Z"),  # trigger: level 1 of the escalation policy
        utc("2026-11-02T10:00:42Z"),  # "Escalated to level 2 by timeout"
        utc("2026-11-02T10:15:00Z"),  # escalation_level: 3
    ]
    assert mail["support_tier"].tolist() == ["L1", "L2", "L3"]
    assert (mail["assignment_group"] == "Mail Ops").all()


def test_history_without_log_entries(batch):
    history = batch.history.set_index("incident_id")
    # the current assignment, at its time, tier unknown
    assert history.loc["PQMF62U", "at"] == utc("2026-11-03T07:05:00Z")
    assert history.loc["PQMF62U", "assignment_group"] == "DB Ops"
    assert pd.isna(history.loc["PQMF62U", "support_tier"])
    # resolved (no assignments left): the group when it was created
    assert history.loc["PPVZH9X", "at"] == utc("2026-11-04T11:00:00Z")
    assert history.loc["PPVZH9X", "assignment_group"] == "Identity"
    assert len(batch.history) == 5


def test_support_tier_is_the_highest_level_reached(batch):
    assert batch.incidents["support_tier"].tolist() == ["L3", pd.NA, pd.NA]


def test_each_bad_incident_is_rejected_with_its_place_and_reason(batch):
    got = list(zip(batch.rejected["line"], batch.rejected["problem"], batch.rejected["reason"],
                   strict=True))  # fmt: skip
    assert got == [
        (3, "bad timestamp", "created_at 'yesterday' is not an ISO 8601 timestamp"),
        (4, "bad priority", "no usable priority: priority 'Critical' is not P1-P5; "
            "urgency 'medium' is not high or low"),
        (5, "not an object", "incidents[5] is a string, not an incident object"),
        (6, "duplicate incident_id", "duplicate incident_id PT4KHLK: kept incidents[0] "
            "(updated_at 2026-11-02T10:40:00Z); this row's updated_at 2026-11-02T10:00:42Z is not newer"),
        (7, "resolved before opened",
            "resolved_at 2026-11-06T01:00:00Z is before created_at 2026-11-06T02:00:00Z"),
        (8, "bad log entry", "log_entries[6] (escalate_log_entry) created_at '06/11/2026 08:30' "
            "is not an ISO 8601 timestamp"),
    ]  # fmt: skip
    assert json.loads(batch.rejected["raw"].iloc[0])["id"] == "P8JOGX7"
    assert batch.rejected["raw"].iloc[2] == '"PNOTANOBJ"'


def test_the_rejected_duplicate_takes_its_history_with_it(batch):
    assert batch.history["incident_id"].tolist().count("PT4KHLK") == 3


def test_log_entries_inside_the_answer_are_read_too():
    data = load("incidents.json") | {"log_entries": load("log_entries.json")["log_entries"]}
    batch = parse_pagerduty(data)
    assert batch.incidents["support_tier"].tolist() == ["L3", pd.NA, pd.NA]


def test_a_whole_log_entries_answer_can_be_passed():
    batch = parse_pagerduty(load("incidents.json"), log_entries=load("log_entries.json"))
    assert batch.incidents["support_tier"].tolist() == ["L3", pd.NA, pd.NA]


def test_without_log_entries_no_tier_is_known():
    batch = parse_pagerduty(load("incidents.json"))
    assert batch.incidents["support_tier"].isna().all()
    # PLOGBAD has no bad log entry to reject it now
    assert "PLOGBAD" in batch.incidents["incident_id"].tolist()
    assert batch.history.set_index("incident_id").loc["PT4KHLK", "at"] == utc(
        "2026-11-02T09:30:42Z"
    )


def test_a_single_incident_answer_and_a_bare_list():
    single = {"incident": load("incidents.json")["incidents"][0]}
    assert parse_pagerduty(single).incidents["incident_id"].tolist() == ["PT4KHLK"]
    listed = load("incidents.json")["incidents"][:3]
    assert len(parse_pagerduty(listed).incidents) == 3


def test_incident_number_can_be_the_key_and_log_entries_still_match():
    batch = parse_pagerduty(
        load("incidents.json"),
        log_entries=load("log_entries.json")["log_entries"],
        incident_id="incident_number",
    )
    assert batch.incidents["incident_id"].tolist() == ["1234", "1235", "1236"]
    assert batch.incidents["support_tier"].tolist() == ["L3", pd.NA, pd.NA]


def test_a_priority_map_for_named_priorities_and_a_custom_urgency_rule():
    incident = {"id": "PX1", "created_at": "2026-11-02T09:00:00Z",
                "priority": {"summary": "Critical"}, "urgency": "high"}  # fmt: skip
    low = {"id": "PX2", "created_at": "2026-11-02T09:00:00Z", "urgency": "low"}
    batch = parse_pagerduty([incident, low], priority_map={"critical": 1},
                            urgency_priority={"high": 1, "low": 5})  # fmt: skip
    assert batch.incidents["priority"].tolist() == [1, 5]


def test_no_priority_and_no_urgency_is_missing():
    batch = parse_pagerduty([{"id": "PX1", "created_at": "2026-11-02T09:00:00Z"}])
    assert batch.rejected["reason"].tolist() == ["missing priority"]


def test_a_missing_id_and_created_at_are_named():
    batch = parse_pagerduty([{"urgency": "high", "created_at": "2026-11-02T09:00:00Z"},
                             {"id": "PX2", "urgency": "high"}])  # fmt: skip
    assert batch.rejected["reason"].tolist() == ["missing id", "missing created_at"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"services": []}, "expected a GET /incidents answer with an 'incidents' list"),
        ("incidents", "expected a JSON object or a list of incidents, got a string"),
        ({"incidents": [], "log_entries": {}}, "'log_entries' is not a list"),
    ],
)
def test_data_that_is_not_an_incidents_answer_is_a_clear_error(data, message):
    with pytest.raises(InputFileError, match=message):
        parse_pagerduty(data)


def test_an_empty_answer_is_an_empty_batch():
    batch = parse_pagerduty({"incidents": [], "limit": 25, "offset": 0, "more": False})
    assert batch.incidents.empty and batch.history.empty and batch.rejected.empty
    assert tuple(batch.incidents.columns) == INCIDENT_COLUMNS
