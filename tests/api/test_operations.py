"""``/healthz``, ``/readyz``, ``/metrics``, and what every route shares: problem details,
the body limit, unexpected errors, and logs that never hold an API key.

The other API test modules import two things from here: `assert_problem`, the one check
of an RFC 9457 answer, and the `shared` fixture, one service per test module for tests
that only read (its reviews are computed once, so the module stays fast; a test that
writes uses conftest's per-test ``client``), made from `shared_service`.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from impactlens.api.app import create_app
from impactlens.engine.impact import build_impact_model
from impactlens.service_map.load import load_service_map
from impactlens.store import Store
from impactlens.store.errors import StoreError
from prometheus_client.parser import text_string_to_metric_families

from conftest import AS_OF_TEXT, MAP, SCOPES, WEEK, bearer
from impactlens.settings import Settings, get_settings

PROBLEM_TYPE = "https://impactlens.dev/problems/"
TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Invalid request",
    500: "Internal error",
    503: "Unavailable",
}


def assert_problem(response: httpx.Response, status: int, detail: str = "") -> dict[str, Any]:
    """`response` is an RFC 9457 problem of `status` whose detail holds `detail`, with
    no trace of the code; its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith(PROBLEM_TYPE) and len(body["type"]) > len(PROBLEM_TYPE)
    assert body["title"] == TITLES[status]
    assert isinstance(body["detail"], str) and body["detail"]
    assert detail in body["detail"], body["detail"]
    assert "Traceback" not in response.text and 'File "' not in response.text
    return body


@dataclass(frozen=True)
class Shared:
    """A service over its own copy of the fixture store, scoring with the fixture map,
    and a key of each scope (``keys``) with one revoked key (``revoked``)."""

    client: TestClient
    store: Store
    settings: Settings
    keys: dict[str, str]
    revoked: str

    def read(self, url: str, scope: str = "read") -> httpx.Response:
        return self.client.get(url, headers=bearer(self.keys[scope]))


def shared_service(fixture_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shared]:
    """One `Shared` service for a test module's tests that do not write; a module makes it
    its fixture with ``pytest.fixture(scope="module", name="shared")(shared_service)``."""
    data_dir = tmp_path_factory.mktemp("shared")
    shutil.copyfile(fixture_db, data_dir / "impactlens.db")
    settings = get_settings(data_dir=data_dir)
    with Store.open(f"sqlite:///{data_dir / 'impactlens.db'}") as store:
        keys = {scope: store.create_api_key(f"shared-{scope}", scope)[1] for scope in SCOPES}
        revoked = store.create_api_key("shared-revoked", "admin")[1]
        store.revoke_api_key("shared-revoked")
        app = create_app(settings, map_path=MAP, store=store)
        with TestClient(app, raise_server_exceptions=False) as client:
            yield Shared(client, store, settings, keys, revoked)


def metric_samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``/metrics`` parsed: (sample name, sorted labels) -> value."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def requests_counted(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float],
    method: str,
    route: str,
    status: int,
) -> float:
    labels = (("method", method), ("route", route), ("status", str(status)))
    return samples.get(("impactlens_http_requests_total", labels), 0.0)


# --- health and readiness -------------------------------------------------------------


def test_healthz_needs_no_key(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_names_the_version_of_the_map_it_serves(client: TestClient) -> None:
    version = build_impact_model(load_service_map(MAP)).version
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"store": "ok", "service_map": f"version {version}"},
    }


def test_readyz_without_a_map_is_not_ready(settings: Settings, store: Store) -> None:
    with TestClient(create_app(settings, store=store), raise_server_exceptions=False) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"store": "ok", "service_map": "none loaded"}


def test_readyz_with_a_store_that_fails_is_not_ready(settings: Settings, store: Store) -> None:
    app = create_app(settings, map_path=MAP, store=store)
    store.close()
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready"
    assert body["checks"]["store"].startswith("unreachable: ")
    assert body["checks"]["service_map"].startswith("version ")


# --- metrics ----------------------------------------------------------------------------


def test_metrics_count_requests_by_route_template_and_status(
    client: TestClient, keys: dict[str, str]
) -> None:
    read = bearer(keys["read"])
    for _ in range(3):
        assert client.get("/v1/processes", headers=read).status_code == 200
    assert client.get("/v1/processes").status_code == 401
    for incident_id in ("INC0010001", "INC0010002"):
        response = client.get(f"/v1/incidents/csv/{incident_id}?as_of={AS_OF_TEXT}", headers=read)
        assert response.status_code == 200
    assert client.get("/v1/incidents/csv/NOPE", headers=read).status_code == 404
    assert client.get("/no/such/route").status_code == 404

    samples = metric_samples(client)
    assert requests_counted(samples, "GET", "/v1/processes", 200) == 3
    assert requests_counted(samples, "GET", "/v1/processes", 401) == 1
    incident_route = next(
        dict(labels)["route"]
        for (name, labels) in samples
        if name == "impactlens_http_requests_total" and "{source}" in dict(labels)["route"]
    )
    assert incident_route.startswith("/v1/incidents/{source}/{incident_id")
    assert requests_counted(samples, "GET", incident_route, 200) == 2
    assert requests_counted(samples, "GET", incident_route, 404) == 1
    assert requests_counted(samples, "GET", "(unmatched)", 404) == 1
    histogram = (
        "impactlens_http_request_seconds_count",
        (("method", "GET"), ("route", "/v1/processes")),
    )
    assert samples[histogram] == 4
    # Labelled by template: no id of a path ever becomes a label.
    text = client.get("/metrics").text
    assert "INC0010001" not in text and "NOPE" not in text and "/no/such/route" not in text


def test_metrics_count_incidents_ingested_and_quarantined_by_source(
    client: TestClient, keys: dict[str, str]
) -> None:
    ingest = bearer(keys["ingest"])
    records = [
        {"incident_id": "M1", "opened_at": "2026-11-20T09:00:00Z", "priority": 3},
        {"incident_id": "M2", "opened_at": "2026-11-20T10:00:00Z", "priority": 9},
        {"incident_id": "M3", "priority": 2},
        {"incident_id": "M4", "opened_at": "2026-11-20T11:00:00Z", "priority": 4},
    ]
    first = client.post(
        "/v1/incidents", json={"source": "itsm", "incidents": records}, headers=ingest
    )
    assert first.status_code == 200
    assert (first.json()["new"], first.json()["quarantined"]) == (2, 2)
    newer = {**records[0], "priority": 2, "updated_at": "2026-11-21T00:00:00Z"}
    second = client.post(
        "/v1/incidents", json={"source": "itsm", "incidents": [newer]}, headers=ingest
    )
    assert second.json()["updated"] == 1
    other = client.post(
        "/v1/incidents",
        json={"source": "other", "incidents": [{"incident_id": "X", "priority": 1}]},
        headers=ingest,
    )
    assert other.json()["quarantined"] == 1

    samples = metric_samples(client)
    assert samples[("impactlens_incidents_ingested_total", (("source", "itsm"),))] == 3
    assert samples[("impactlens_incidents_quarantined_total", (("source", "itsm"),))] == 2
    assert samples[("impactlens_incidents_ingested_total", (("source", "other"),))] == 0
    assert samples[("impactlens_incidents_quarantined_total", (("source", "other"),))] == 1
    assert requests_counted(samples, "POST", "/v1/incidents", 200) == 3


def test_each_app_counts_only_its_own_requests(settings: Settings, store: Store) -> None:
    apps = [create_app(settings, map_path=MAP, store=store) for _ in range(2)]
    with TestClient(apps[0]) as first, TestClient(apps[1]) as second:
        first.get("/healthz")
        first.get("/healthz")
        second.get("/healthz")
        assert requests_counted(metric_samples(first), "GET", "/healthz", 200) == 2
        assert requests_counted(metric_samples(second), "GET", "/healthz", 200) == 1


# --- problem details for what no route answers ------------------------------------------


def test_unknown_route_is_a_problem(client: TestClient) -> None:
    assert_problem(client.get("/v1/nothing-here"), 404)


def test_wrong_method_is_a_problem(client: TestClient, keys: dict[str, str]) -> None:
    response = client.delete("/v1/incidents", headers=bearer(keys["admin"]))
    assert_problem(response, 405)
    assert "allow" in response.headers


def test_openapi_document_lists_every_route(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    expected = {
        "/v1/incidents": {"get", "post"},
        "/v1/hotspots": {"get"},
        "/v1/kpis": {"get"},
        "/v1/reports/{week}": {"get"},
        "/v1/service-map": {"get", "put"},
        "/v1/processes": {"get"},
        "/v1/processes/{process_id}/timeline": {"get"},
        "/v1/services/{service}/blast-radius": {"get"},
        "/v1/webhooks/servicenow": {"post"},
        "/v1/webhooks/pagerduty": {"post"},
        "/v1/webhooks/jira": {"post"},
        "/healthz": {"get"},
        "/readyz": {"get"},
        "/metrics": {"get"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path
    assert any(path.startswith("/v1/incidents/{source}/") for path in paths)
    assert any(path.startswith("/v1/hotspots/{key") for path in paths)


# --- request bodies over the limit --------------------------------------------------------


@pytest.fixture
def small_client(tmp_path: Path, store: Store) -> Iterator[TestClient]:
    """The service with a body limit of 2,048 bytes (the least the setting allows is 1,024)."""
    small = get_settings(data_dir=tmp_path, api_max_body_bytes=2048)
    with TestClient(
        create_app(small, map_path=MAP, store=store), raise_server_exceptions=False
    ) as client:
        yield client


def _big_body() -> bytes:
    records = [
        {"incident_id": f"BIG{number}", "opened_at": "2026-11-20T09:00:00Z", "priority": 3}
        for number in range(60)
    ]
    body = json.dumps({"source": "big", "incidents": records}).encode()
    assert len(body) > 2048
    return body


def _chunks(body: bytes) -> Iterator[bytes]:
    """`body` streamed (no Content-Length: the limit must count what it reads)."""
    for start in range(0, len(body), 512):
        yield body[start : start + 512]


@pytest.mark.parametrize("streamed", [False, True], ids=["declared", "streamed"])
@pytest.mark.parametrize(
    ("method", "path", "scope", "media"),
    [
        ("POST", "/v1/incidents", "ingest", "application/json"),
        ("PUT", "/v1/service-map", "admin", "application/json"),
        ("POST", "/v1/webhooks/servicenow", "ingest", "application/json"),
    ],
)
def test_body_over_the_limit_is_413(
    small_client: TestClient,
    keys: dict[str, str],
    store: Store,
    method: str,
    path: str,
    scope: str,
    media: str,
    streamed: bool,
) -> None:
    body = _big_body()
    before = store.revision()
    response = small_client.request(
        method,
        path,
        content=_chunks(body) if streamed else body,
        headers={**bearer(keys[scope]), "content-type": media},
    )
    assert_problem(response, 413, "2,048 bytes")
    assert store.revision() == before
    assert store.get_incident("big", "BIG0") is None


def test_body_under_the_limit_is_read(small_client: TestClient, keys: dict[str, str]) -> None:
    records = [{"incident_id": "SMALL1", "opened_at": "2026-11-20T09:00:00Z", "priority": 3}]
    body = json.dumps({"source": "small", "incidents": records}).encode()
    response = small_client.post(
        "/v1/incidents",
        content=_chunks(body),
        headers={**bearer(keys["ingest"]), "content-type": "application/json"},
    )
    assert response.status_code == 200
    assert response.json()["new"] == 1


# --- failures of the service itself --------------------------------------------------------


def test_unexpected_error_is_a_500_problem_and_logged(
    client: TestClient,
    keys: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("exposure matrix exploded at row 17")

    monkeypatch.setattr("impactlens.api.routes.service_map.blast_radius", broken)
    with caplog.at_level(logging.ERROR):
        response = client.get("/v1/services/web-shop/blast-radius", headers=bearer(keys["read"]))
    body = assert_problem(response, 500)
    assert "exploded" not in response.text and "RuntimeError" not in response.text
    assert set(body) == {"type", "title", "status", "detail"}
    logged = [record for record in caplog.records if record.exc_info]
    assert len(logged) == 1
    assert "/v1/services/web-shop/blast-radius" in logged[0].getMessage()
    assert isinstance(logged[0].exc_info[1], RuntimeError)
    samples = metric_samples(client)
    assert requests_counted(samples, "GET", "/v1/services/{service}/blast-radius", 500) == 1


def test_store_failure_is_a_503_problem_naming_no_database(
    client: TestClient,
    keys: dict[str, str],
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    where = store.description()

    def unreachable(*args: object, **kwargs: object) -> None:
        raise StoreError(f"the database at {where} does not answer")

    for read in ("settled_impact", "get_incident"):  # a restored incident is read settled
        monkeypatch.setattr(store, read, unreachable)
    with caplog.at_level(logging.ERROR):
        response = client.get(
            f"/v1/incidents/csv/INC0010001?as_of={AS_OF_TEXT}", headers=bearer(keys["read"])
        )
    assert_problem(response, 503, "unavailable")
    assert where not in response.text
    assert any(where in record.getMessage() for record in caplog.records)


# --- logs never hold a key ---------------------------------------------------------------


def test_no_api_key_appears_in_any_log_record(
    client: TestClient,
    keys: dict[str, str],
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    revoked_name, revoked = store.create_api_key("soon-revoked", "admin")
    store.revoke_api_key(revoked_name.name)
    unknown = "il_" + "x" * 43
    with caplog.at_level(logging.DEBUG):
        for key in (*keys.values(), revoked, unknown):
            headers = bearer(key)
            client.get("/v1/processes", headers=headers)
            client.get(f"/v1/kpis?week={WEEK}&as_of={AS_OF_TEXT}", headers=headers)
            client.get(f"/v1/incidents/csv/INC0010001?as_of={AS_OF_TEXT}", headers=headers)
            client.post(
                "/v1/incidents",
                json={"source": "logs", "incidents": [{"incident_id": "L1", "priority": 9}]},
                headers=headers,
            )
            client.put("/v1/service-map", content="version: [", headers={
                **headers, "content-type": "application/yaml"})  # fmt: skip
        monkeypatch.setattr(
            "impactlens.api.routes.service_map.blast_radius",
            lambda *args, **kwargs: (_ for _ in ()).throw(RuntimeError("boom")),
        )
        client.get("/v1/services/web-shop/blast-radius", headers=bearer(keys["read"]))

    assert caplog.records, "the requests logged nothing: the check would prove nothing"
    assert any(record.exc_info for record in caplog.records)
    assert any("ingest run" in record.getMessage() for record in caplog.records)
    secrets = [*keys.values(), revoked, unknown]
    for record in caplog.records:
        for secret in secrets:
            assert secret not in record.getMessage(), record.name
            assert secret not in repr(record.args), record.name
    for secret in secrets:  # the formatted records, tracebacks included
        assert secret not in caplog.text
