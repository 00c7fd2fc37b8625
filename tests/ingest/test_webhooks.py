"""What ServiceNow, PagerDuty and Jira push to webhooks, from payloads in their documented shapes.

- ServiceNow: a Table API record with ``sysparm_display_value=all`` (``{"value",
  "display_value"}`` per field, references with a ``link``), as an outbound REST message
  or business rule posts it; the API user is in Europe/Berlin (UTC+1 in November 2026),
  so date-time display values are an hour ahead of their UTC values.
- PagerDuty: v3 webhook events (developer docs, "Webhooks v3 Overview": ``{"event":
  {"id", "event_type", "resource_type", "occurred_at", "agent", "client", "data"}}``, the
  incident in ``data``); signatures as in "Verifying Signatures" (``v1=<hex>``, HMAC-SHA256
  of the raw body, comma-separated during a secret rotation).
- Jira: issue webhooks (``{"timestamp", "webhookEvent", "issue": {"key", "fields"},
  "changelog"}``, dates ``2026-11-16T10:12:00.000+0100``), signed ``X-Hub-Signature:
  sha256=<hex>``.

Expected values worked out by hand.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from impactlens.ingest.batch import HISTORY_COLUMNS, INCIDENT_COLUMNS, REJECTED_COLUMNS
from impactlens.ingest.read import read_rows
from impactlens.ingest.servicenow import parse_servicenow
from impactlens.ingest.webhooks import (
    PAGERDUTY_MAX_AGE,
    jira_event,
    pagerduty_event,
    servicenow_records,
    verify_jira_signature,
    verify_pagerduty_signature,
)
from impactlens.store import Store

from impactlens.errors import InvalidPayloadError, InvalidSettingsError, WebhookAuthError

NOW = pd.Timestamp("2026-11-16T12:00:00Z")
PD_NOW = pd.Timestamp("2026-11-16T10:06:00Z")  # 53.5 min after the sample event


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def assert_empty(batch: Any) -> None:
    assert tuple(batch.incidents.columns) == INCIDENT_COLUMNS
    assert tuple(batch.history.columns) == HISTORY_COLUMNS
    assert tuple(batch.rejected.columns) == REJECTED_COLUMNS
    assert (len(batch.incidents), len(batch.history), len(batch.rejected)) == (0, 0, 0)


# --- ServiceNow ---------------------------------------------------------------------------

LINK = "https://example.service-now.com/api/now/table"
SN_RECORD: dict[str, Any] = {
    "sys_id": {"value": "9d385017c611228701d22104cc95c371", "display_value": "9d385017c611228701d22104cc95c371"},
    "number": {"value": "INC0010042", "display_value": "INC0010042"},
    "opened_at": {"value": "2026-11-16 09:12:00", "display_value": "16/11/2026 10:12:00"},
    "resolved_at": {"value": "2026-11-16 11:40:30", "display_value": "16/11/2026 12:40:30"},
    "closed_at": {"value": "", "display_value": ""},
    "sys_updated_on": {"value": "2026-11-16 11:41:00", "display_value": "16/11/2026 12:41:00"},
    "state": {"value": "6", "display_value": "Resolved"},
    "priority": {"value": "2", "display_value": "2 - High"},
    "impact": {"value": "1", "display_value": "1 - High"},
    "urgency": {"value": "2", "display_value": "2 - Medium"},
    "cmdb_ci": {
        "value": "a9c0c8d2c6112276018f7705562f9cb0",
        "display_value": "PAYAPI01",
        "link": f"{LINK}/cmdb_ci/a9c0c8d2c6112276018f7705562f9cb0",
    },
    "assignment_group": {
        "value": "8a4dde73c6112278017a6a4baf547aa7",
        "display_value": "Payments Ops",
        "link": f"{LINK}/sys_user_group/8a4dde73c6112278017a6a4baf547aa7",
    },
    "category": {"value": "software", "display_value": "Software"},
    "short_description": {"value": "Checkout fails with 502", "display_value": "Checkout fails with 502"},
    "reassignment_count": {"value": "1", "display_value": "1"},
}  # fmt: skip


def sn_record(**overrides: Any) -> dict[str, Any]:
    """The sample record; an override of None drops that field."""
    record = copy.deepcopy(SN_RECORD) | overrides
    return {name: value for name, value in record.items() if value is not None}


@pytest.mark.parametrize(
    "payload",
    [sn_record(), [sn_record()], {"result": [sn_record()]}, {"result": sn_record()}],
    ids=["record", "list", "result-list", "result-object"],
)
def test_servicenow_display_value_all_record(payload):
    batch = servicenow_records(payload, now=NOW)
    assert len(batch.rejected) == 0
    row = batch.incidents.iloc[0]
    assert len(batch.incidents) == 1
    assert row["source"] == "servicenow"
    assert row["incident_id"] == "INC0010042"
    # the UTC database values, not the display values an hour ahead
    assert row["opened_at"] == utc("2026-11-16T09:12:00Z")
    assert row["resolved_at"] == utc("2026-11-16T11:40:30Z")
    assert pd.isna(row["closed_at"])
    assert row["updated_at"] == utc("2026-11-16T11:41:00Z")
    assert (row["priority"], row["impact"], row["urgency"]) == (2, 1, 2)
    assert row["ci"] == "PAYAPI01"  # the reference's display value, not its sys_id
    assert row["assignment_group"] == "Payments Ops"
    assert row["state"] == "Resolved"
    assert row["reassignment_count"] == 1
    assert batch.history[["incident_id", "at", "assignment_group"]].values.tolist() == [
        ["INC0010042", utc("2026-11-16T09:12:00Z"), "Payments Ops"]
    ]


def test_servicenow_plain_values_as_a_business_rule_sends_them():
    plain = {
        "number": "INC0010050",
        "opened_at": "2026-11-16 10:00:00",
        "priority": "1",
        "cmdb_ci": "web-shop-prod",
        "state": "2",
        "sys_updated_on": "2026-11-16 10:05:00",
    }
    batch = servicenow_records(plain, now=NOW)
    row = batch.incidents.iloc[0]
    assert row["incident_id"] == "INC0010050"
    assert row["opened_at"] == utc("2026-11-16T10:00:00Z")
    assert row["updated_at"] == utc("2026-11-16T10:05:00Z")
    assert pd.isna(row["resolved_at"])
    assert (row["priority"], row["ci"], row["state"]) == (1, "web-shop-prod", "In Progress")


def test_servicenow_bad_records_are_rejected_and_good_ones_kept():
    payload = {
        "result": [
            sn_record(),
            sn_record(number="INC0010043", priority={"value": "9", "display_value": "9"}),
            sn_record(number="INC0010044", opened_at=None),
            sn_record(
                number="INC0010045",
                resolved_at={"value": "2026-11-16 08:00:00", "display_value": "x"},
            ),
        ]
    }
    batch = servicenow_records(payload, now=NOW)
    assert batch.incidents["incident_id"].tolist() == ["INC0010042"]
    assert batch.rejected["line"].tolist() == [2, 3, 4]
    assert batch.rejected["source"].tolist() == ["servicenow"] * 3
    reasons = batch.rejected["reason"].tolist()
    assert reasons[0] == "priority '9' is not a priority from 1 to 5"
    assert reasons[1] == "missing opened_at"
    assert reasons[2].startswith("resolved_at 2026-11-16T08:00:00Z is before opened_at")
    assert "INC0010044" in batch.rejected["raw"].iloc[1]


def test_servicenow_implausible_moments_are_rejected_against_now():
    future = {"value": "2099-12-31 00:00:00", "display_value": "31/12/2099 01:00:00"}
    batch = servicenow_records([sn_record(sys_updated_on=future)], now=NOW)
    assert len(batch.incidents) == 0
    assert batch.rejected["reason"].tolist() == [
        "updated_at 2099-12-31T00:00:00Z is in the future (more than a day after the ingest)"
    ]


def test_servicenow_empty_list_is_an_empty_batch():
    assert_empty(servicenow_records([], now=NOW))
    assert_empty(servicenow_records({"result": []}, now=NOW))


EXPORT = """\
number,opened_at,resolved_at,closed_at,sys_updated_on,state,priority,impact,urgency,cmdb_ci,assignment_group,category,short_description,reassignment_count
INC0010042,2026-11-16 10:12:00,2026-11-16 12:40:30,,2026-11-16 12:41:00,Resolved,2 - High,1 - High,2 - Medium,PAYAPI01,Payments Ops,Software,Checkout fails with 502,1
"""


def test_servicenow_webhook_and_export_give_the_same_canonical_row(tmp_path: Path):
    # The export holds display values in the exporting user's zone (Europe/Berlin);
    # the webhook the UTC database values. Both are one incident, one key, one row.
    file = tmp_path / "incident.csv"
    file.write_text(EXPORT, encoding="utf-8")
    exported = parse_servicenow(read_rows(file), timezone="Europe/Berlin")
    pushed = servicenow_records({"result": [sn_record()]}, now=NOW)
    assert len(exported.incidents) == 1
    pd.testing.assert_frame_equal(pushed.incidents, exported.incidents)
    pd.testing.assert_frame_equal(pushed.history, exported.history)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("INC0010042", "payload: expected an incident record, a list of them or {'result': [...]}, got a string"),
        (42, "payload: expected an incident record, a list of them or {'result': [...]}, got a number"),
        ([sn_record(), "INC0010043"], "payload[1]: expected an incident record (an object of fields), got a string"),
        ({"result": [sn_record(), [1]]}, "result[1]: expected an incident record (an object of fields), got a list"),
        ({"result": "none"}, "result: expected an incident record or a list of them, got a string"),
    ],
)  # fmt: skip
def test_servicenow_payload_of_the_wrong_shape_is_refused(payload, message):
    with pytest.raises(InvalidPayloadError) as raised:
        servicenow_records(payload, now=NOW)
    assert str(raised.value) == message


# --- PagerDuty ----------------------------------------------------------------------------

PD_INCIDENT: dict[str, Any] = {
    "id": "PGR0VU2",
    "type": "incident",
    "self": "https://api.pagerduty.com/incidents/PGR0VU2",
    "html_url": "https://acme.pagerduty.com/incidents/PGR0VU2",
    "number": 2,
    "status": "triggered",
    "incident_key": "d3640fbd41094207a1c11e58e46b1662",
    "created_at": "2026-11-16T09:12:27Z",
    "title": "Checkout fails with 502",
    "service": {"id": "PF9KMXH", "summary": "payments-api-prod", "type": "service_reference"},
    "assignees": [{"id": "PTUXL6G", "summary": "Ana Ops", "type": "user_reference"}],
    "escalation_policy": {"id": "PUS0KTE", "summary": "Payments Ops", "type": "escalation_policy_reference"},
    "teams": [{"id": "PFCVPS0", "summary": "Payments", "type": "team_reference"}],
    "priority": {"id": "PSO75BM", "summary": "P2", "type": "priority_reference"},
    "urgency": "high",
    "conference_bridge": None,
    "resolve_reason": None,
}  # fmt: skip


def pd_event(
    event_type: str = "incident.triggered",
    occurred_at: str = "2026-11-16T09:12:30.169Z",
    **data: Any,
) -> dict[str, Any]:
    """A v3 webhook body for the sample incident; `data` overrides its fields."""
    return {
        "event": {
            "id": "5ac64822-4adc-4fda-ade0-410becf0de4f",
            "event_type": event_type,
            "resource_type": "incident",
            "occurred_at": occurred_at,
            "agent": {"id": "PLH1HKV", "summary": "Tenex Engineer", "type": "user_reference"},
            "client": {"name": "PagerDuty"},
            "data": copy.deepcopy(PD_INCIDENT) | data,
        }
    }


def test_pagerduty_triggered_incident():
    batch = pagerduty_event(pd_event(), now=utc("2026-11-16T09:12:31Z"))
    assert len(batch.rejected) == 0
    row = batch.incidents.iloc[0]
    assert row["source"] == "pagerduty"
    assert row["incident_id"] == "PGR0VU2"
    assert row["opened_at"] == utc("2026-11-16T09:12:27Z")
    assert row["updated_at"] == utc("2026-11-16T09:12:30.169Z")  # occurred_at
    assert pd.isna(row["resolved_at"])
    assert (row["priority"], row["urgency"]) == (2, 1)
    assert row["ci"] == "payments-api-prod"
    assert row["assignment_group"] == "Payments Ops"
    assert (row["state"], row["short_description"]) == ("triggered", "Checkout fails with 502")
    assert batch.history[["incident_id", "at", "assignment_group"]].values.tolist() == [
        ["PGR0VU2", utc("2026-11-16T09:12:27Z"), "Payments Ops"]
    ]


def test_pagerduty_resolved_event_gives_the_resolution_time():
    event = pd_event("incident.resolved", "2026-11-16T11:05:00+01:00", status="resolved")
    batch = pagerduty_event(event, now=PD_NOW)
    row = batch.incidents.iloc[0]
    assert row["resolved_at"] == utc("2026-11-16T10:05:00Z")  # +01:00 taken off
    assert row["updated_at"] == utc("2026-11-16T10:05:00Z")
    assert row["state"] == "resolved"


def test_pagerduty_priority_from_urgency_and_group_from_assignee():
    event = pd_event(priority=None, urgency="low", escalation_policy=None, teams=[])
    row = pagerduty_event(event, now=PD_NOW).incidents.iloc[0]
    assert (row["priority"], row["urgency"], row["assignment_group"]) == (4, 3, "Ana Ops")


def test_pagerduty_bad_values_are_rejected_not_raised():
    unusable = pagerduty_event(pd_event(priority={"summary": "Sev-A"}, urgency=None), now=PD_NOW)
    assert len(unusable.incidents) == 0
    assert unusable.rejected["reason"].tolist() == [
        "no usable priority: priority 'Sev-A' is not P1-P5; no urgency"
    ]
    assert unusable.rejected["source"].tolist() == ["pagerduty"]
    unopened = pagerduty_event(pd_event(created_at=None), now=PD_NOW)
    assert unopened.rejected["reason"].tolist() == ["missing created_at"]
    garbled = pagerduty_event(pd_event(created_at="yesterday"), now=PD_NOW)
    assert garbled.rejected["reason"].tolist() == [
        "created_at 'yesterday' is not an ISO 8601 timestamp"
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"event": {"id": "01BRB6ZP4M6T8ZG4X6BP63ZB9O", "event_type": "service.updated",
                   "resource_type": "service", "occurred_at": "2026-11-16T11:35:11.682Z",
                   "agent": None, "client": None,
                   "data": {"id": "PF9KMXH", "summary": "payments", "type": "service"}}},
        {"event": {"id": "01C0ZNQ4KX6J2N8F2Y3HYXV7F4", "event_type": "pagey.ping",
                   "resource_type": "pagey", "occurred_at": "2026-11-16T11:59:00Z",
                   "agent": None, "client": None, "data": {"message": "Hello from your friend Pagey!", "type": "ping"}}},
        {"event": pd_event("incident.annotated")["event"] | {"data": {
            "incident": {"id": "PGR0VU2", "summary": "Checkout fails with 502", "type": "incident_reference"},
            "id": "P2LA89X", "content": "Rolled back the deploy", "trimmed": False, "type": "incident_note"}}},
    ],
    ids=["service.updated", "pagey.ping", "incident.annotated"],
)  # fmt: skip
def test_pagerduty_events_without_an_incident_give_an_empty_batch(body):
    assert_empty(pagerduty_event(body, now=PD_NOW))


def test_pagerduty_stale_events_are_refused():
    occurred = utc("2026-11-16T09:12:30.169Z")
    pagerduty_event(pd_event(), now=occurred + PAGERDUTY_MAX_AGE)  # just in time
    with pytest.raises(WebhookAuthError) as raised:
        pagerduty_event(pd_event(), now=occurred + pd.Timedelta(hours=2, minutes=5))
    assert str(raised.value) == (
        "PagerDuty event 5ac64822-4adc-4fda-ade0-410becf0de4f (incident.triggered): "
        "occurred_at 2026-11-16T09:12:30.169Z is 2 h 5 min before now, more than the 1 h a "
        "genuine delivery can take (PagerDuty retries for about 20 minutes); refused as "
        "stale or replayed"
    )
    with pytest.raises(WebhookAuthError, match="is 6 min before now, more than the 5 min"):
        pagerduty_event(
            pd_event(), now=occurred + pd.Timedelta(minutes=6), max_age=pd.Timedelta(minutes=5)
        )


def test_pagerduty_newer_event_wins_in_the_store(tmp_path: Path):
    resolved = pd_event("incident.resolved", "2026-11-16T10:05:00Z", status="resolved")
    # delivered late, after the resolution: must not reopen the incident
    acknowledged = pd_event("incident.acknowledged", "2026-11-16T09:20:00Z", status="acknowledged")
    with Store.open(f"sqlite:///{tmp_path / 'store.db'}") as store:
        for body in (resolved, acknowledged):
            store.save_batch(
                pagerduty_event(body, now=PD_NOW), source_file="webhook pagerduty", format="webhook"
            )
        stored = store.get_incident("pagerduty", "PGR0VU2")
    assert stored is not None
    row = stored.incident.iloc[0]
    assert row["state"] == "resolved"
    assert row["resolved_at"] == utc("2026-11-16T10:05:00Z")
    assert row["updated_at"] == utc("2026-11-16T10:05:00Z")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([pd_event()], "payload: expected an object, got a list"),
        ({"messages": []}, "event: expected an object, got nothing"),
        ({"event": "incident.triggered"}, "event: expected an object, got a string"),
        ({"event": {"event_type": "incident.triggered"}}, "event.resource_type: missing"),
        ({"event": pd_event()["event"] | {"event_type": 7}}, "event.event_type: expected text, got a number"),
        ({"event": pd_event()["event"] | {"data": [PD_INCIDENT]}}, "event.data: expected an object, got a list"),
        ({"event": pd_event()["event"] | {"occurred_at": None}}, "event.occurred_at: missing"),
        ({"event": pd_event()["event"] | {"occurred_at": "at noon"}}, "event.occurred_at: 'at noon' is not an ISO 8601 date-time"),
    ],
)  # fmt: skip
def test_pagerduty_payload_of_the_wrong_shape_is_refused(body, message):
    with pytest.raises(InvalidPayloadError) as raised:
        pagerduty_event(body, now=PD_NOW)
    assert str(raised.value) == message


PD_BODY = json.dumps(pd_event()).encode()


def test_pagerduty_signature_verifies():
    verify_pagerduty_signature(PD_BODY, f"v1={sign('pd-secret', PD_BODY)}", ["pd-secret"])
    upper = f"v1={sign('pd-secret', PD_BODY).upper()}"  # hex is hex, whatever its case
    verify_pagerduty_signature(PD_BODY, upper, ["pd-secret"])


def test_pagerduty_signature_with_rotated_secrets():
    old, new = sign("old-secret", PD_BODY), sign("new-secret", PD_BODY)
    both = f"v1={old},v1={new}"  # PagerDuty signs with every secret of the subscription
    verify_pagerduty_signature(PD_BODY, both, ["new-secret"])
    verify_pagerduty_signature(PD_BODY, both, ["old-secret"])
    # we rotated first: PagerDuty still signs with the old one only
    verify_pagerduty_signature(PD_BODY, f"v1={old}", ["new-secret", "old-secret"])
    verify_pagerduty_signature(PD_BODY, f"v2=abc, v1={new}", ["new-secret"])
    with pytest.raises(WebhookAuthError, match="any of the 2 configured secrets"):
        verify_pagerduty_signature(PD_BODY, both, ["third-secret", "fourth-secret"])


@pytest.mark.parametrize(
    ("body", "header", "message"),
    [
        (PD_BODY, f"v1={sign('another-secret', PD_BODY)}", "no v1 signature matches the body with the configured secret"),
        (PD_BODY.replace(b"P2", b"P1"), f"v1={sign('pd-secret', PD_BODY)}", "no v1 signature matches"),
        (PD_BODY, None, "X-PagerDuty-Signature: missing"),
        (PD_BODY, "  ", "X-PagerDuty-Signature: missing"),
        (PD_BODY, sign("pd-secret", PD_BODY), "no well-formed v1 signature"),
        (PD_BODY, f"v2={sign('pd-secret', PD_BODY)}", "no well-formed v1 signature"),
        (PD_BODY, f"v1={sign('pd-secret', PD_BODY)[:-1]}", "no well-formed v1 signature"),
        (PD_BODY, "v1=" + "z" * 64, "no well-formed v1 signature"),
    ],
    ids=["wrong-secret", "tampered-body", "missing", "blank", "no-version", "other-version", "short", "not-hex"],
)  # fmt: skip
def test_pagerduty_bad_signatures_are_refused(body, header, message):
    with pytest.raises(WebhookAuthError, match=message) as raised:
        verify_pagerduty_signature(body, header, ["pd-secret"])
    assert "pd-secret" not in str(raised.value)
    assert sign("pd-secret", body) not in str(raised.value)  # never the signature to forge


def test_pagerduty_signature_without_secrets_is_a_settings_error():
    with pytest.raises(InvalidSettingsError, match="pagerduty_webhook_secrets"):
        verify_pagerduty_signature(PD_BODY, f"v1={sign('x', PD_BODY)}", [])


# --- Jira ---------------------------------------------------------------------------------

JIRA_FIELDS: dict[str, Any] = {
    "summary": "Checkout fails with 502",
    "issuetype": {"id": "10004", "name": "Incident"},
    "status": {"id": "3", "name": "Work in progress"},
    "priority": {"id": "2", "name": "High"},
    "created": "2026-11-16T10:12:00.000+0100",
    "updated": "2026-11-16T10:41:00.000+0100",
    "resolutiondate": None,
    "components": [{"id": "10100", "name": "Payments"}, {"id": "10101", "name": "Web shop"}],
    "assignee": {"accountId": "5b10a2844c20165700ede21g", "displayName": "Ana Ops"},
    "reporter": {"accountId": "5b10ac8d82e05b22cc7d4ef5", "displayName": "Service Desk"},
    "labels": ["checkout"],
    "customfield_10041": [{"id": "7", "name": "payments-api-prod"}],
}


def jira_payload(event: str = "jira:issue_updated", **fields: Any) -> dict[str, Any]:
    """An issue webhook body for the sample issue; `fields` overrides its fields."""
    return {
        "timestamp": 1794822060000,  # 2026-11-16T09:41:00Z
        "webhookEvent": event,
        "issue_event_type_name": "issue_generic",
        "user": {"accountId": "5b10a2844c20165700ede21g", "displayName": "Ana Ops"},
        "issue": {
            "id": "10012",
            "self": "https://acme.atlassian.net/rest/api/2/issue/10012",
            "key": "ITSM-12",
            "fields": copy.deepcopy(JIRA_FIELDS) | fields,
        },
        "changelog": {
            "id": "10300",
            "items": [{"field": "status", "fromString": "Open", "toString": "Work in progress"}],
        },
    }


def test_jira_issue_updated():
    batch = jira_event(jira_payload(), now=NOW)
    assert len(batch.rejected) == 0
    row = batch.incidents.iloc[0]
    assert row["source"] == "jira"
    assert row["incident_id"] == "ITSM-12"
    assert row["opened_at"] == utc("2026-11-16T09:12:00Z")  # +0100 taken off
    assert row["updated_at"] == utc("2026-11-16T09:41:00Z")
    assert pd.isna(row["resolved_at"])
    assert row["priority"] == 2
    assert row["ci"] == "Payments"  # the first component
    assert row["assignment_group"] == "Ana Ops"
    assert (row["state"], row["short_description"]) == (
        "Work in progress",
        "Checkout fails with 502",
    )
    assert batch.history[["incident_id", "at", "assignment_group"]].values.tolist() == [
        ["ITSM-12", utc("2026-11-16T09:12:00Z"), "Ana Ops"]
    ]


def test_jira_resolved_issue_and_other_offsets():
    payload = jira_payload(
        created="2026-11-16T04:12:00.000-0500",
        resolutiondate="2026-11-16T11:05:00.000+0100",
        updated="2026-11-16T10:05:00.000+0000",
        status={"name": "Resolved"},
        priority={"name": "Highest"},
    )
    row = jira_event(payload, now=NOW).incidents.iloc[0]
    assert row["opened_at"] == utc("2026-11-16T09:12:00Z")
    assert row["resolved_at"] == utc("2026-11-16T10:05:00Z")
    assert row["updated_at"] == utc("2026-11-16T10:05:00Z")
    assert (row["priority"], row["state"]) == (1, "Resolved")


def test_jira_custom_field_as_the_affected_services():
    mapped = {"customfield_10041": "Custom field (Affected services)"}
    row = jira_event(jira_payload(), now=NOW, custom_fields=mapped).incidents.iloc[0]
    assert row["ci"] == "payments-api-prod"  # the affected service before the components


def test_jira_event_timestamp_when_the_issue_has_no_updated():
    row = jira_event(jira_payload(updated=None), now=NOW).incidents.iloc[0]
    assert row["updated_at"] == utc("2026-11-16T09:41:00Z")


def test_jira_bad_values_are_rejected_not_raised():
    unknown = jira_event(jira_payload(priority={"name": "Urgent"}), now=NOW)
    assert len(unknown.incidents) == 0
    assert unknown.rejected["reason"].tolist() == [
        "Priority 'Urgent' is not a known priority (Highest, High, Medium, Low, Lowest, "
        "Blocker, Critical, Major, Minor, Trivial, or P1-P5)"
    ]
    assert unknown.rejected[["source", "line"]].values.tolist() == [["jira", 1]]
    assert '"Issue key": "ITSM-12"' in unknown.rejected["raw"].iloc[0]
    unprioritised = jira_event(jira_payload(priority=None), now=NOW)
    assert unprioritised.rejected["reason"].tolist() == ["missing Priority"]
    uncreated = jira_event(jira_payload(created=None), now=NOW)
    assert uncreated.rejected["reason"].tolist() == ["missing Created"]
    garbled = jira_event(jira_payload(created="16/11/26 10:12"), now=NOW)
    assert garbled.rejected["reason"].tolist() == [
        "Created '16/11/26 10:12' is not a date (expected %Y-%m-%dT%H:%M:%S.%f%z or ISO 8601)"
    ]


def test_jira_deleted_and_other_events_give_an_empty_batch():
    assert_empty(jira_event(jira_payload("jira:issue_deleted"), now=NOW))
    comment = {"timestamp": 1794822060000, "webhookEvent": "comment_created",
               "comment": {"body": "Rolled back"}, "issue": {"key": "ITSM-12", "fields": {}}}  # fmt: skip
    assert_empty(jira_event(comment, now=NOW))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("jira:issue_created", "payload: expected an object, got a string"),
        ({"timestamp": 1794822060000}, "payload.webhookEvent: missing"),
        ({"webhookEvent": "jira:issue_created"}, "issue: expected an object, got nothing"),
        ({"webhookEvent": "jira:issue_updated", "issue": {"key": "ITSM-12"}}, "issue.fields: expected an object, got nothing"),
        ({"webhookEvent": "jira:issue_updated", "issue": {"key": "ITSM-12", "fields": []}}, "issue.fields: expected an object, got a list"),
    ],
)  # fmt: skip
def test_jira_payload_of_the_wrong_shape_is_refused(body, message):
    with pytest.raises(InvalidPayloadError) as raised:
        jira_event(body, now=NOW)
    assert str(raised.value) == message


JIRA_BODY = json.dumps(jira_payload()).encode()


def test_jira_signature_verifies():
    verify_jira_signature(JIRA_BODY, f"sha256={sign('jira-secret', JIRA_BODY)}", "jira-secret")


@pytest.mark.parametrize(
    ("body", "header", "message"),
    [
        (JIRA_BODY, f"sha256={sign('another', JIRA_BODY)}", "does not match the body"),
        (JIRA_BODY.replace(b"High", b"Low"), f"sha256={sign('jira-secret', JIRA_BODY)}", "does not match the body"),
        (JIRA_BODY, None, "X-Hub-Signature: missing"),
        (JIRA_BODY, "", "X-Hub-Signature: missing"),
        (JIRA_BODY, sign("jira-secret", JIRA_BODY), "is not sha256=<64 hex digits>"),
        (JIRA_BODY, f"sha1={sign('jira-secret', JIRA_BODY)}", "is not sha256=<64 hex digits>"),
        (JIRA_BODY, "sha256=" + "0" * 40, "is not sha256=<64 hex digits>"),
    ],
    ids=["wrong-secret", "tampered-body", "missing", "empty", "no-scheme", "sha1", "short"],
)  # fmt: skip
def test_jira_bad_signatures_are_refused(body, header, message):
    with pytest.raises(WebhookAuthError, match=message) as raised:
        verify_jira_signature(body, header, "jira-secret")
    assert "jira-secret" not in str(raised.value)
    assert sign("jira-secret", body) not in str(raised.value)


def test_jira_signature_without_a_secret_is_a_settings_error():
    with pytest.raises(InvalidSettingsError, match="jira_webhook_secret"):
        verify_jira_signature(JIRA_BODY, f"sha256={sign('', JIRA_BODY)}", "")


# --- signature properties -----------------------------------------------------------------

secrets = st.text(min_size=1, max_size=40)


def flipped(body: bytes, at: int, bit: int) -> bytes:
    index = at % len(body)
    return body[:index] + bytes([body[index] ^ (1 << bit)]) + body[index + 1 :]


@given(body=st.binary(max_size=2000), secret=secrets)
def test_any_body_signed_with_the_secret_verifies(body: bytes, secret: str):
    verify_pagerduty_signature(body, f"v1={sign(secret, body)}", [secret])
    verify_jira_signature(body, f"sha256={sign(secret, body)}", secret)


@given(
    body=st.binary(min_size=1, max_size=2000),
    secret=secrets,
    at=st.integers(min_value=0),
    bit=st.integers(min_value=0, max_value=7),
)
def test_any_flipped_bit_of_the_body_fails(body: bytes, secret: str, at: int, bit: int):
    changed = flipped(body, at, bit)
    with pytest.raises(WebhookAuthError):
        verify_pagerduty_signature(changed, f"v1={sign(secret, body)}", [secret])
    with pytest.raises(WebhookAuthError):
        verify_jira_signature(changed, f"sha256={sign(secret, body)}", secret)


@given(body=st.binary(max_size=200), secret=secrets, other=secrets)
def test_a_signature_with_another_secret_fails(body: bytes, secret: str, other: str):
    assume(other != secret)
    with pytest.raises(WebhookAuthError):
        verify_pagerduty_signature(body, f"v1={sign(other, body)}", [secret])
    with pytest.raises(WebhookAuthError):
        verify_jira_signature(body, f"sha256={sign(other, body)}", secret)


# --- events continue the stored incident (ingest_events) ----------------------------------


def _pd_event(kind: str, at: str, *, status: str, policy: str, priority: str = "P3") -> dict:
    return {
        "event": {
            "id": f"E-{kind}-{at}",
            "event_type": kind,
            "resource_type": "incident",
            "occurred_at": at,
            "data": {
                "id": "PX1", "type": "incident", "number": 7, "status": status,
                "created_at": "2026-11-16T09:00:00Z", "title": "Card payments time out",
                "service": {"id": "S1", "summary": "payments-api"}, "urgency": "high",
                "escalation_policy": {"id": "EP", "summary": policy},
                "priority": {"id": "PR", "summary": priority},
            },
        }
    }  # fmt: skip


def test_events_continue_the_stored_history_and_keep_the_resolution(tmp_path):
    from impactlens.ingest.pipeline import ingest_events

    events = [
        ("incident.triggered", "2026-11-16T09:00:00Z", "triggered", "Service Desk", "P3"),
        ("incident.reassigned", "2026-11-16T09:20:00Z", "acknowledged", "Payments L2", "P3"),
        ("incident.escalated", "2026-11-16T09:45:00Z", "acknowledged", "Payments L3", "P3"),
        ("incident.acknowledged", "2026-11-16T09:50:00Z", "acknowledged", "Payments L3", "P3"),
        ("incident.resolved", "2026-11-16T10:30:00Z", "resolved", "Payments L3", "P3"),
        ("incident.priority_updated", "2026-11-16T10:40:00Z", "resolved", "Payments L3", "P1"),
    ]
    with Store.open(f"sqlite:///{tmp_path / 'store.db'}") as store:
        reports = [
            ingest_events(
                pagerduty_event(
                    _pd_event(kind, at, status=status, policy=policy, priority=priority),
                    now=utc(at) + pd.Timedelta(seconds=5),
                ),
                store,
                received_from="webhook pagerduty",
                records=1,
            )
            for kind, at, status, policy, priority in events
        ]
        # a late duplicate of the reassignment changes nothing
        late = ingest_events(
            pagerduty_event(
                _pd_event(*events[1][:2], status="acknowledged", policy="Payments L2"),
                now=utc("2026-11-16T10:10:00Z"),  # late, still within the hour
            ),
            store, received_from="webhook pagerduty", records=1,
        )  # fmt: skip
        stored = store.get_incident("pagerduty", "PX1")

    assert [(r.new, r.updated, r.unchanged) for r in reports] == [(1, 0, 0)] + [(0, 1, 0)] * 5
    assert (late.new, late.updated, late.unchanged) == (0, 0, 1)
    history = stored.history
    assert [(str(at), group) for at, group in history[["at", "assignment_group"]].values] == [
        ("2026-11-16 09:00:00+00:00", "Service Desk"),
        ("2026-11-16 09:20:00+00:00", "Payments L2"),
        ("2026-11-16 09:45:00+00:00", "Payments L3"),
    ]
    incident = stored.incident.iloc[0]
    assert incident["resolved_at"] == utc("2026-11-16T10:30:00Z")  # kept from the resolve
    assert incident["updated_at"] == utc("2026-11-16T10:40:00Z")
    assert int(incident["priority"]) == 1


def test_an_event_for_an_incident_not_stored_keeps_its_own_history():
    from types import SimpleNamespace

    from impactlens.ingest.webhooks import continue_stored

    event = pagerduty_event(
        _pd_event("incident.triggered", "2026-11-16T09:00:00Z", status="triggered",
                  policy="Service Desk"),
        now=utc("2026-11-16T09:00:05Z"),
    )  # fmt: skip
    other = SimpleNamespace(incident=event.incidents.iloc[0:0], history=event.history.iloc[0:0])

    assert continue_stored(event, {}) is event
    merged = continue_stored(event, {("pagerduty", "other"): other})
    pd.testing.assert_frame_equal(merged.history, event.history)
    pd.testing.assert_frame_equal(merged.incidents, event.incidents)
