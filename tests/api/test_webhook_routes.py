"""``POST /v1/webhooks/servicenow`` (API key, scope ingest), ``/pagerduty``
(``X-PagerDuty-Signature: v1=<hex>``) and ``/jira`` (``X-Hub-Signature: sha256=<hex>``).

Signatures are made here with `hmac` from the secrets of the settings, as the tools make
them. PagerDuty refuses events older than an hour (`ingest.webhooks.PAGERDUTY_MAX_AGE`),
so its events are dated from the real clock.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from impactlens.api.app import create_app
from impactlens.store import Store
from test_operations import Shared, assert_problem, metric_samples, shared_service

from conftest import MAP, bearer
from impactlens.settings import get_settings

shared_fixture = pytest.fixture(scope="module", name="shared")(shared_service)

PAGERDUTY_SECRETS = ("pd-old-secret-0001", "pd-new-secret-0002")
JIRA_SECRET = "jira-secret-0003"


@pytest.fixture
def signed_client(tmp_path: Path, store: Store) -> Iterator[TestClient]:
    """The service with the PagerDuty (two, as during a rotation) and Jira secrets set."""
    settings = get_settings(
        data_dir=tmp_path,
        pagerduty_webhook_secrets=PAGERDUTY_SECRETS,
        jira_webhook_secret=JIRA_SECRET,
    )
    with TestClient(
        create_app(settings, map_path=MAP, store=store), raise_server_exceptions=False
    ) as client:
        yield client


@pytest.fixture(scope="module")
def signed_shared(
    fixture_db: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """`signed_client` for a module's tests that store nothing (refused requests)."""
    data_dir = tmp_path_factory.mktemp("signed")
    shutil.copyfile(fixture_db, data_dir / "impactlens.db")
    settings = get_settings(
        data_dir=data_dir,
        pagerduty_webhook_secrets=PAGERDUTY_SECRETS,
        jira_webhook_secret=JIRA_SECRET,
    )
    with Store.open(f"sqlite:///{data_dir / 'impactlens.db'}") as store:
        app = create_app(settings, map_path=MAP, store=store)
        with TestClient(app, raise_server_exceptions=False) as client:
            yield client


def _hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _moment(minutes_ago: float = 0) -> str:
    moment = pd.Timestamp.now(tz="UTC").floor("s") - pd.Timedelta(minutes=minutes_ago)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def pagerduty_body(
    event_type: str = "incident.triggered",
    *,
    incident_id: str = "PDX1",
    occurred: str | None = None,
    policy: str = "Service Desk",
    created: str | None = None,
) -> bytes:
    event = {
        "event": {
            "id": f"EV-{event_type}",
            "event_type": event_type,
            "resource_type": "incident",
            "occurred_at": occurred or _moment(),
            "data": {
                "id": incident_id,
                "type": "incident",
                "number": 7,
                "status": {"incident.resolved": "resolved"}.get(event_type, "triggered"),
                "created_at": created or _moment(30),
                "title": "Checkout errors",
                "service": {"id": "PSVC", "summary": "NWWEB01"},
                "escalation_policy": {"id": "PPOL", "summary": policy},
                "priority": {"id": "PPRI", "summary": "P2"},
                "urgency": "high",
            },
        }
    }
    return json.dumps(event).encode()


def post_pagerduty(client: TestClient, body: bytes, signature: str | None) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers["X-PagerDuty-Signature"] = signature
    return client.post("/v1/webhooks/pagerduty", content=body, headers=headers)


def jira_body(
    event: str = "jira:issue_created", *, key: str = "ITSM-12", created: str | None = None
) -> bytes:
    stamp = created or pd.Timestamp.now(tz="UTC").floor("s").strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    payload = {
        "timestamp": 1794820320000,
        "webhookEvent": event,
        "issue": {
            "id": "10012",
            "key": key,
            "fields": {
                "created": stamp,
                "updated": stamp,
                "priority": {"name": "High"},
                "summary": "Checkout down",
                "components": [{"name": "NWWEB01"}],
                "status": {"name": "Open"},
            },
        },
    }
    return json.dumps(payload).encode()


def post_jira(client: TestClient, body: bytes, signature: str | None) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers["X-Hub-Signature"] = signature
    return client.post("/v1/webhooks/jira", content=body, headers=headers)


SERVICENOW_RECORD = {
    "number": "INC0099001",
    "priority": {"value": "2", "display_value": "2 - High"},
    "opened_at": {"value": "2026-11-20 09:00:00", "display_value": "20/11/2026 10:00"},
    "resolved_at": "2026-11-20 10:30:00",
    "cmdb_ci": {"value": "a9c0c8d2", "display_value": "NWWEB01", "link": "https://x"},
    "short_description": "Checkout slow",
    "assignment_group": "Web Ops",
}


def post_servicenow(client: TestClient, key: str, payload: Any) -> httpx.Response:
    return client.post("/v1/webhooks/servicenow", json=payload, headers=bearer(key))


# --- ServiceNow -------------------------------------------------------------------------------


def test_servicenow_needs_an_ingest_key(
    client: TestClient, keys: dict[str, str], store: Store
) -> None:
    problem = assert_problem(client.post("/v1/webhooks/servicenow", json=SERVICENOW_RECORD), 401)
    assert problem["detail"]
    assert_problem(post_servicenow(client, "il_" + "Q" * 43, SERVICENOW_RECORD), 401)
    assert_problem(post_servicenow(client, keys["read"], SERVICENOW_RECORD), 403, "'ingest'")
    assert store.get_incident("servicenow", "INC0099001") is None
    for scope in ("ingest", "admin"):
        assert post_servicenow(client, keys[scope], SERVICENOW_RECORD).status_code == 200
    store.revoke_api_key("ingest-key")
    assert_problem(post_servicenow(client, keys["ingest"], SERVICENOW_RECORD), 401, "revoked")


def test_servicenow_record_is_stored_and_scored(client: TestClient, keys: dict[str, str]) -> None:
    reply = post_servicenow(client, keys["ingest"], SERVICENOW_RECORD).json()
    assert (reply["received"], reply["new"], reply["quarantined"]) == (1, 1, 0)
    got = client.get(
        "/v1/incidents/servicenow/INC0099001?as_of=2026-11-23T00:00:00Z",
        headers=bearer(keys["read"]),
    )
    incident = got.json()["incident"]
    assert incident["priority"] == 2
    assert incident["ci"] == "NWWEB01" and incident["service_id"] == "web-shop"
    assert incident["opened_at"] == "2026-11-20T09:00:00+00:00"
    assert incident["resolved_at"] == "2026-11-20T10:30:00+00:00"
    assert incident["assignment_group"] == "Web Ops"
    # 90 minutes of order-to-cash (24x7, exposure 1) at severity 0.6.
    assert incident["impact_score"] == pytest.approx(0.6 * 90)
    again = post_servicenow(client, keys["ingest"], SERVICENOW_RECORD).json()
    assert (again["new"], again["updated"], again["unchanged"]) == (0, 0, 1)


@pytest.mark.parametrize("wrapper", ["result", "records", None])
def test_servicenow_lists_quarantine_bad_records_with_their_index(
    client: TestClient, keys: dict[str, str], wrapper: str | None
) -> None:
    records = [
        SERVICENOW_RECORD,
        {**SERVICENOW_RECORD, "number": "INC0099002", "priority": "9"},
        {**SERVICENOW_RECORD, "number": "INC0099003", "opened_at": None},
        {**SERVICENOW_RECORD, "number": "INC0099004"},
    ]
    payload = {wrapper: records} if wrapper else records
    reply = post_servicenow(client, keys["ingest"], payload).json()
    assert (reply["received"], reply["new"], reply["quarantined"]) == (4, 2, 2)
    bad = {record["index"]: record["reason"] for record in reply["quarantined_records"]}
    assert sorted(bad) == [1, 2]
    assert "priority" in bad[1] and "'9'" in bad[1]
    assert "opened_at" in bad[2]


@pytest.mark.parametrize(
    ("payload", "detail"),
    [
        ("INC0099001", "payload"),
        (42, "payload"),
        ({"result": "INC0099001"}, "result"),
        ({"result": [SERVICENOW_RECORD, "INC2"]}, "result[1]"),
    ],
)
def test_servicenow_payload_of_the_wrong_shape_is_400(
    shared: Shared, payload: Any, detail: str
) -> None:
    assert_problem(post_servicenow(shared.client, shared.keys["ingest"], payload), 400, detail)


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe", b"[" * 100_000 + b"]" * 100_000])
def test_servicenow_body_that_is_not_json_is_400(shared: Shared, body: bytes) -> None:
    response = shared.client.post(
        "/v1/webhooks/servicenow",
        content=body,
        headers={**bearer(shared.keys["ingest"]), "content-type": "application/json"},
    )
    assert_problem(response, 400, "not JSON")


# --- PagerDuty --------------------------------------------------------------------------------


def test_pagerduty_without_secrets_is_403(client: TestClient, store: Store) -> None:
    body = pagerduty_body()
    response = post_pagerduty(client, body, f"v1={_hex(PAGERDUTY_SECRETS[0], body)}")
    assert_problem(response, 403, "pagerduty_webhook_secrets")
    assert store.get_incident("pagerduty", "PDX1") is None


@pytest.mark.parametrize("secret", PAGERDUTY_SECRETS)
def test_pagerduty_signed_event_is_stored(
    signed_client: TestClient, keys: dict[str, str], secret: str
) -> None:
    body = pagerduty_body()
    signature = f"v1=deadbeef, v1={_hex(secret, body)}"
    response = post_pagerduty(signed_client, body, signature)
    assert response.status_code == 200, response.text
    reply = response.json()
    assert (reply["received"], reply["new"], reply["quarantined"]) == (1, 1, 0)
    incident = signed_client.get(
        "/v1/incidents/pagerduty/PDX1", headers=bearer(keys["read"])
    ).json()["incident"]
    assert incident["priority"] == 2
    assert incident["ci"] == "NWWEB01" and incident["service_id"] == "web-shop"
    assert incident["resolved_at"] is None
    assert PAGERDUTY_SECRETS[0] not in response.text and PAGERDUTY_SECRETS[1] not in response.text


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "sha256=abc",
        "v1=not-hex",
        "v0=" + "a" * 64,
        "v1=" + "a" * 64,
        "v1=SIGNED-WITH-ANOTHER-SECRET",
        "v1=SIGNED-OTHER-BODY",
    ],
)
def test_pagerduty_bad_signature_is_401(signed_shared: TestClient, signature: str | None) -> None:
    body = pagerduty_body()
    if signature == "v1=SIGNED-WITH-ANOTHER-SECRET":
        signature = f"v1={_hex('not-our-secret', body)}"
    elif signature == "v1=SIGNED-OTHER-BODY":
        signature = f"v1={_hex(PAGERDUTY_SECRETS[1], body.replace(b'P2', b'P1'))}"
    response = post_pagerduty(signed_shared, body, signature)
    assert_problem(response, 401, "X-PagerDuty-Signature")
    for secret in PAGERDUTY_SECRETS:
        assert secret not in response.text and _hex(secret, body) not in response.text
    stored = metric_samples(signed_shared).get(
        ("impactlens_incidents_ingested_total", (("source", "pagerduty"),))
    )
    assert not stored  # nothing of pagerduty was ever stored by this service


def test_pagerduty_stale_event_is_refused(signed_shared: TestClient) -> None:
    body = pagerduty_body(occurred=_moment(minutes_ago=120), created=_moment(minutes_ago=180))
    response = post_pagerduty(signed_shared, body, f"v1={_hex(PAGERDUTY_SECRETS[0], body)}")
    assert_problem(response, 401, "stale")


def test_pagerduty_events_continue_the_stored_history(
    signed_client: TestClient, keys: dict[str, str]
) -> None:
    """A reassignment pushed later is a handoff: the stored history is continued."""
    first = pagerduty_body(occurred=_moment(10), created=_moment(20), policy="Service Desk")
    later = pagerduty_body(
        "incident.reassigned", occurred=_moment(5), created=_moment(20), policy="Web Ops"
    )
    resolved = pagerduty_body(
        "incident.resolved", occurred=_moment(1), created=_moment(20), policy="Web Ops"
    )
    for body in (first, later, resolved):
        reply = post_pagerduty(signed_client, body, f"v1={_hex(PAGERDUTY_SECRETS[1], body)}")
        assert reply.status_code == 200, reply.text
    incident = signed_client.get(
        "/v1/incidents/pagerduty/PDX1", headers=bearer(keys["read"])
    ).json()["incident"]
    assert incident["assignment_group"] == "Web Ops"
    assert incident["reassignments"] == 1
    assert incident["resolved_at"] is not None
    # An event older than the stored one changes nothing.
    stale = pagerduty_body(occurred=_moment(15), created=_moment(20), policy="Service Desk")
    reply = post_pagerduty(signed_client, stale, f"v1={_hex(PAGERDUTY_SECRETS[0], stale)}")
    assert reply.json()["unchanged"] == 1


def test_pagerduty_event_of_no_incident_stores_nothing(signed_shared: TestClient) -> None:
    body = json.dumps({"event": {"event_type": "pagey.ping", "resource_type": "pagey",
                                 "occurred_at": _moment(), "data": {"type": "ping"}}}).encode()  # fmt: skip
    reply = post_pagerduty(signed_shared, body, f"v1={_hex(PAGERDUTY_SECRETS[0], body)}")
    assert reply.status_code == 200
    assert (reply.json()["new"], reply.json()["quarantined"]) == (0, 0)


def test_pagerduty_implausible_incident_is_quarantined(signed_client: TestClient) -> None:
    future = (pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = pagerduty_body(created=future)
    reply = post_pagerduty(signed_client, body, f"v1={_hex(PAGERDUTY_SECRETS[0], body)}").json()
    assert (reply["new"], reply["quarantined"]) == (0, 1)
    assert reply["quarantined_records"][0]["index"] == 0
    assert "future" in reply["quarantined_records"][0]["reason"]


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        (b"{not json", 400, "not JSON"),
        (b'{"event": []}', 400, "event"),
        (b'{"something": "else"}', 400, "event"),
        (
            b'{"event": {"resource_type": "incident", "event_type": "incident.triggered",'
            b' "occurred_at": "yesterday", "data": {}}}',
            400,
            "occurred_at",
        ),
    ],
)
def test_pagerduty_signed_body_of_the_wrong_shape_is_400(
    signed_shared: TestClient, body: bytes, status: int, detail: str
) -> None:
    response = post_pagerduty(signed_shared, body, f"v1={_hex(PAGERDUTY_SECRETS[0], body)}")
    assert_problem(response, status, detail)


# --- Jira -------------------------------------------------------------------------------------


def test_jira_without_a_secret_is_403(client: TestClient) -> None:
    body = jira_body()
    assert_problem(
        post_jira(client, body, f"sha256={_hex(JIRA_SECRET, body)}"), 403, "jira_webhook_secret"
    )


def test_jira_signed_issue_is_stored(signed_client: TestClient, keys: dict[str, str]) -> None:
    body = jira_body()
    response = post_jira(signed_client, body, f"sha256={_hex(JIRA_SECRET, body)}")
    assert response.status_code == 200, response.text
    assert (response.json()["new"], response.json()["quarantined"]) == (1, 0)
    incident = signed_client.get("/v1/incidents/jira/ITSM-12", headers=bearer(keys["read"])).json()
    assert incident["incident"]["priority"] == 2  # High
    assert incident["incident"]["short_description"] == "Checkout down"
    assert JIRA_SECRET not in response.text


@pytest.mark.parametrize(
    "signature", [None, "", "sha1=" + "a" * 40, "sha256=xyz", "sha256=" + "0" * 64, "ANOTHER"]
)
def test_jira_bad_signature_is_401(signed_shared: TestClient, signature: str | None) -> None:
    body = jira_body()
    if signature == "ANOTHER":
        signature = f"sha256={_hex('not-our-secret', body)}"
    response = post_jira(signed_shared, body, signature)
    assert_problem(response, 401, "X-Hub-Signature")
    assert JIRA_SECRET not in response.text and _hex(JIRA_SECRET, body) not in response.text
    stored = metric_samples(signed_shared).get(
        ("impactlens_incidents_ingested_total", (("source", "jira"),))
    )
    assert not stored  # nothing of jira was ever stored by this service


def test_jira_deleted_issue_is_not_propagated(signed_client: TestClient, store: Store) -> None:
    body = jira_body("jira:issue_deleted")
    reply = post_jira(signed_client, body, f"sha256={_hex(JIRA_SECRET, body)}")
    assert reply.status_code == 200 and reply.json()["new"] == 0
    assert store.get_incident("jira", "ITSM-12") is None


def test_jira_implausible_issue_is_quarantined_at_index_0(signed_client: TestClient) -> None:
    body = jira_body(created="2031-01-01T00:00:00.000+0000")
    reply = post_jira(signed_client, body, f"sha256={_hex(JIRA_SECRET, body)}").json()
    assert (reply["new"], reply["quarantined"]) == (0, 1)
    assert reply["quarantined_records"][0]["index"] == 0


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"[1, 2", "not JSON"),
        (b'{"webhookEvent": "jira:issue_created"}', "issue"),
        (b"[]", "payload"),
    ],
)
def test_jira_signed_body_of_the_wrong_shape_is_400(
    signed_shared: TestClient, body: bytes, detail: str
) -> None:
    assert_problem(post_jira(signed_shared, body, f"sha256={_hex(JIRA_SECRET, body)}"), 400, detail)


# --- what all three share -----------------------------------------------------------------


def test_webhook_ingests_are_counted_by_source(
    signed_client: TestClient, keys: dict[str, str]
) -> None:
    post_servicenow(
        signed_client,
        keys["ingest"],
        [SERVICENOW_RECORD, {**SERVICENOW_RECORD, "number": "X", "priority": "7"}],
    )
    body = pagerduty_body()
    post_pagerduty(signed_client, body, f"v1={_hex(PAGERDUTY_SECRETS[0], body)}")
    body = jira_body(created="2031-01-01T00:00:00.000+0000")
    post_jira(signed_client, body, f"sha256={_hex(JIRA_SECRET, body)}")
    samples = metric_samples(signed_client)
    for source, ingested, quarantined in (
        ("servicenow", 1, 1),
        ("pagerduty", 1, 0),
        ("jira", 0, 1),
    ):
        assert samples[("impactlens_incidents_ingested_total", (("source", source),))] == ingested
        assert (
            samples[("impactlens_incidents_quarantined_total", (("source", source),))]
            == quarantined
        )


def test_webhook_secrets_never_reach_the_log(
    signed_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        for signature in (None, "v1=" + "b" * 64):
            post_pagerduty(signed_client, pagerduty_body(), signature)
        body = pagerduty_body()
        post_pagerduty(signed_client, body, f"v1={_hex(PAGERDUTY_SECRETS[0], body)}")
        post_jira(signed_client, jira_body(), "sha256=" + "c" * 64)
    assert any("ingest run" in record.getMessage() for record in caplog.records)
    for secret in (*PAGERDUTY_SECRETS, JIRA_SECRET):
        assert secret not in caplog.text
