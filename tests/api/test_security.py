"""API keys on every route: ``Authorization: Bearer KEY``, scopes read < ingest < admin.

Every route but ``/healthz``, ``/readyz``, ``/metrics`` (and the signed PagerDuty and Jira
webhooks, see `test_webhook_routes`) is called without a key, with malformed headers,
with an unknown and a revoked key, with too small a scope and with the scope it needs.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from impactlens.store import Store
from test_operations import Shared, assert_problem, shared_service

from conftest import AS_OF_TEXT, MAP, WEEK, bearer

shared_fixture = pytest.fixture(scope="module", name="shared")(shared_service)


Q = f"week={WEEK}&as_of={AS_OF_TEXT}"
NEW_INCIDENT = {
    "source": "auth-test",
    "incidents": [{"incident_id": "A1", "opened_at": "2026-11-20T09:00:00Z", "priority": 3}],
}
MAP_BODY = {"content": MAP.read_text(), "headers": {"content-type": "application/yaml"}}
# (method, url, the scope it needs, the route's OpenAPI path, what the request sends)
ROUTES: list[tuple[str, str, str, str, dict[str, Any]]] = [
    ("GET", f"/v1/incidents?as_of={AS_OF_TEXT}&limit=5", "read", "/v1/incidents", {}),
    ("POST", "/v1/incidents", "ingest", "/v1/incidents", {"json": NEW_INCIDENT}),
    ("GET", f"/v1/incidents/csv/INC0010001?as_of={AS_OF_TEXT}", "read",
     "/v1/incidents/{source}/{incident_id}", {}),
    ("GET", f"/v1/hotspots?{Q}", "read", "/v1/hotspots", {}),
    ("GET", f"/v1/hotspots/inventory-sync?{Q}", "read", "/v1/hotspots/{key}", {}),
    ("GET", f"/v1/kpis?{Q}", "read", "/v1/kpis", {}),
    ("GET", f"/v1/reports/{WEEK}?as_of={AS_OF_TEXT}&format=md", "read", "/v1/reports/{week}", {}),
    ("GET", "/v1/service-map", "read", "/v1/service-map", {}),
    ("PUT", "/v1/service-map", "admin", "/v1/service-map", MAP_BODY),
    ("GET", "/v1/processes", "read", "/v1/processes", {}),
    ("GET", f"/v1/processes/order-to-cash/timeline?as_of={AS_OF_TEXT}", "read",
     "/v1/processes/{process_id}/timeline", {}),
    ("GET", "/v1/services/web-shop/blast-radius", "read", "/v1/services/{service}/blast-radius",
     {}),
]  # fmt: skip
# Covered by test_webhook_routes: ServiceNow with a key, the others with signatures.
WEBHOOKS = {"/v1/webhooks/servicenow", "/v1/webhooks/pagerduty", "/v1/webhooks/jira"}
LOWER = {"read": None, "ingest": "read", "admin": "ingest"}
MALFORMED = [
    "Basic dXNlcjpwYXNzd29yZA==",
    "Bearer",
    "Bearer ",
    "Token il_abcdefghijklmnopqrstuvwxyz",
    "il_abcdefghijklmnopqrstuvwxyz",
    "Bearer\til_tab",
    "",
]
IDS = [f"{method} {template}" for method, _, _, template, _ in ROUTES]


def call(
    shared: Shared, method: str, url: str, send: dict[str, Any], authorization: str | None
) -> httpx.Response:
    headers = dict(send.get("headers", {}))
    if authorization is not None:
        headers["Authorization"] = authorization
    extra = {name: value for name, value in send.items() if name != "headers"}
    return shared.client.request(method, url, headers=headers, **extra)


def assert_unauthorized(response: httpx.Response, detail: str = "") -> None:
    assert_problem(response, 401, detail)
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_every_route_is_covered(shared: Shared) -> None:
    """A new route fails this test until its key checks are added to `ROUTES`."""
    paths = shared.client.get("/openapi.json").json()["paths"]
    served = {
        (method.upper(), path)
        for path, operations in paths.items()
        if path.startswith("/v1/") and path not in WEBHOOKS
        for method in operations
    }
    assert served == {(method, template) for method, _, _, template, _ in ROUTES}
    assert set(paths) >= WEBHOOKS


@pytest.mark.parametrize(("method", "url", "scope", "template", "send"), ROUTES, ids=IDS)
def test_route_needs_a_key_of_its_scope(
    shared: Shared, method: str, url: str, scope: str, template: str, send: dict[str, Any]
) -> None:
    keys = shared.keys
    assert_unauthorized(call(shared, method, url, send, None), "API key is required")
    for header in MALFORMED:
        assert_unauthorized(call(shared, method, url, send, header))
    unknown = "il_" + "Z" * 43
    assert_unauthorized(call(shared, method, url, send, f"Bearer {unknown}"), "unknown or revoked")
    assert_unauthorized(call(shared, method, url, send, "Bearer not-even-a-key"), "unknown")
    assert_unauthorized(call(shared, method, url, send, f"Bearer {'x' * 5000}"), "unknown")
    revoked = call(shared, method, url, send, f"Bearer {shared.revoked}")
    assert_unauthorized(revoked, "unknown or revoked")
    assert shared.revoked not in revoked.text

    lower = LOWER[scope]
    if lower is not None:
        refused = call(shared, method, url, send, f"Bearer {keys[lower]}")
        body = assert_problem(refused, 403, f"scope {lower!r}")
        assert repr(scope) in body["detail"]
        assert "www-authenticate" not in refused.headers
        assert keys[lower] not in refused.text

    for allowed in ("read", "ingest", "admin")[("read", "ingest", "admin").index(scope) :]:
        response = call(shared, method, url, send, f"Bearer {keys[allowed]}")
        assert response.status_code == 200, (allowed, response.text)
        assert keys[allowed] not in response.text
    # The scheme is case-insensitive (RFC 9110).
    assert call(shared, method, url, send, f"bearer {keys['admin']}").status_code == 200


def test_the_key_is_checked_before_the_body(shared: Shared) -> None:
    """Without a key, nothing about the body is answered, and nothing is stored."""
    bad = shared.client.post("/v1/incidents", json={"source": "", "incidents": "no"})
    assert_unauthorized(bad)
    version = shared.read("/v1/service-map").json()["version"]
    refused = shared.client.put(
        "/v1/service-map",
        content="version: 1\nservices: [{id: only}]\n",
        headers={"content-type": "application/yaml", **bearer(shared.keys["ingest"])},
    )
    assert_problem(refused, 403)
    assert shared.read("/v1/service-map").json()["version"] == version


def test_revoking_a_key_takes_effect_at_once(client: TestClient, store: Store) -> None:
    _, key = store.create_api_key("short-lived", "read")
    assert client.get("/v1/processes", headers=bearer(key)).status_code == 200
    store.revoke_api_key("short-lived")
    assert_unauthorized(client.get("/v1/processes", headers=bearer(key)), "revoked")


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_operations_routes_need_no_key(shared: Shared, path: str) -> None:
    assert shared.client.get(path).status_code == 200
    # A key that is wrong does not make them refuse either.
    assert shared.client.get(path, headers=bearer("il_unknown")).status_code == 200
