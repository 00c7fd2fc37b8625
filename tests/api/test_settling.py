"""The service settles impacts in the background (`api.settling`): at start, after a map
is replaced, and soon after incidents are ingested; reads give the same answer before and
after."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from impactlens.api import settling
from impactlens.api.app import create_app
from impactlens.store import Store
from impactlens.store.database import connect
from impactlens.store.schema import settled_impacts
from sqlalchemy import delete

from conftest import AS_OF_TEXT, MAP, bearer
from impactlens.settings import Settings, get_settings

LATER = "2027-01-01T00:00:00Z"


@pytest.fixture
def settling_client(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[TestClient, Settings]]:
    """The service over a copy of the fixture store with nothing settled, settling on."""
    monkeypatch.setattr(settling, "PAUSE_SECONDS", 0.2)
    with connect(store.engine, write=True) as connection:
        connection.execute(delete(settled_impacts))
    settings: Settings = get_settings(data_dir=tmp_path, api_settle_impacts=True)
    app = create_app(settings, map_path=MAP, store=store)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, settings


def _settler(client: TestClient) -> settling.Settler:
    settler = client.app.state.service.settler  # type: ignore[attr-defined]
    assert settler is not None
    return settler


def _version(client: TestClient, keys: dict[str, str]) -> str:
    return client.get("/v1/service-map", headers=bearer(keys["read"])).json()["version"]


def test_the_service_settles_at_start_and_reads_answer_the_same(
    settling_client, keys: dict[str, str], store: Store
) -> None:
    client, _ = settling_client
    path = f"/v1/incidents/csv/INC0010002?as_of={LATER}"
    derived = client.get(path, headers=bearer(keys["read"]))  # maybe before the settler ran

    assert _settler(client).wait_idle(timeout=120)
    version = _version(client, keys)
    assert store.count_unsettled(version) == 0
    assert store.settled_impact("csv", "INC0010002", version) is not None
    assert client.get(path, headers=bearer(keys["read"])).json() == derived.json()


def test_a_replaced_map_is_settled_at_once(
    settling_client, keys: dict[str, str], store: Store
) -> None:
    client, _ = settling_client
    assert _settler(client).wait_idle(timeout=120)
    records = yaml.safe_load(MAP.read_text())
    records["business_processes"][0]["criticality"] = 2
    response = client.put(
        "/v1/service-map", content=yaml.safe_dump(records),
        headers={**bearer(keys["admin"]), "content-type": "application/yaml"},
    )  # fmt: skip
    assert response.status_code == 200
    new = response.json()["version"]

    assert _settler(client).wait_idle(timeout=120)
    assert store.count_unsettled(new) == 0
    assert store.settled_impact("csv", "INC0010002", new) is not None


def test_ingested_incidents_are_settled_soon_after(
    settling_client, keys: dict[str, str], store: Store
) -> None:
    client, _ = settling_client
    assert _settler(client).wait_idle(timeout=120)
    record = {"incident_id": "NEW-1", "opened_at": "2026-11-20T10:00:00Z",
              "resolved_at": "2026-11-20T12:00:00Z", "priority": 1, "ci": "erp-db"}  # fmt: skip
    posted = client.post("/v1/incidents", json={"source": "api", "incidents": [record]},
                         headers=bearer(keys["ingest"]))  # fmt: skip
    assert posted.status_code == 200 and posted.json()["new"] == 1
    path = f"/v1/incidents/api/NEW-1?as_of={AS_OF_TEXT}"
    derived = client.get(path, headers=bearer(keys["read"])).json()

    assert _settler(client).wait_idle(timeout=120)
    assert store.settled_impact("api", "NEW-1", _version(client, keys)) is not None
    settled = client.get(path, headers=bearer(keys["read"])).json()
    assert settled == derived
    assert settled["incident"]["impact_minutes"] > 0  # erp-db reaches processes
