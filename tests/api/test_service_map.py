"""``/v1/service-map`` (GET, PUT), ``/v1/processes``, ``/v1/processes/{id}/timeline`` and
``/v1/services/{id}/blast-radius``.

`TINY_MAP` is small enough to work its answers out by hand (default weights: priority 1
-> 1.0, 2 -> 0.6; criticality 1 -> 1.0, 2 -> 0.5)::

    pay-gw --1.0--> shop-web --1.0--> sales    (criticality 1, 6000/h, 24x7, UTC)
    pay-gw --0.5--> payroll                    (criticality 2, 1200/h, mon-fri 09:00-17:00 UTC)
    intranet                                   (serves no process)

    exposure(pay-gw, sales) = 1.0, exposure(pay-gw, payroll) = 0.5,
    exposure(shop-web, sales) = 1.0; all others 0.

The API incident tests import it from here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from impactlens.api.app import create_app
from impactlens.api.state import SAVED_MAP_FILE
from impactlens.engine.impact import build_impact_model
from impactlens.service_map.build import build_service_map
from impactlens.service_map.load import load_service_map
from impactlens.store import Store
from test_operations import assert_problem

from conftest import AS_OF_TEXT, MAP, bearer
from impactlens.settings import Settings

TINY_MAP = """\
version: 1
business_processes:
  - {id: sales, name: Online sales, criticality: 1, value_per_hour: 6000, hours: 24x7,
     timezone: UTC}
  - {id: payroll, name: Payroll, criticality: 2, value_per_hour: 1200,
     hours: "mon-fri 09:00-17:00", timezone: UTC}
services:
  - {id: shop-web, name: Shop web, aliases: [SHOPWEB01]}
  - {id: pay-gw, name: Payment gateway, aliases: [PAYGW01]}
  - {id: intranet, name: Intranet}
dependencies:
  - {from: shop-web, to: pay-gw}
supports:
  - {service: shop-web, process: sales}
  - {service: pay-gw, process: payroll, weight: 0.5}
"""
# Five errors, each in its own place: criticality 9, an id with capitals and a space, a
# group member that does not exist, and a support of an unknown service (the bad id is
# no service) for an unknown process.
INVALID_MAP = """\
version: 1
business_processes:
  - {id: sales, name: Sales, criticality: 9, value_per_hour: 100, hours: 24x7, timezone: UTC}
services:
  - {id: Shop Web}
  - {id: db, kind: redundancy_group, members: [db-a], min_up: 1}
supports:
  - {service: shop-web, process: nowhere}
"""


def map_version(text: str) -> str:
    """The version the map `text` has, worked out without the service."""
    return build_impact_model(build_service_map(yaml.safe_load(text))).version


def tiny_service(settings: Settings, store: Store, tmp_path: Path) -> Iterator[TestClient]:
    """The service over the fixture store, scoring with `TINY_MAP` (from a file): the
    ``tiny_client`` fixture here and in the incident tests."""
    path = tmp_path / "tiny_map.yaml"
    path.write_text(TINY_MAP)
    app = create_app(settings, map_path=path, store=store)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


tiny_client_fixture = pytest.fixture(name="tiny_client")(tiny_service)


def put_map(client: TestClient, key: str, text: str, media: str = "application/yaml"):  # type: ignore[no-untyped-def]
    return client.put(
        "/v1/service-map", content=text, headers={**bearer(key), "content-type": media}
    )


# --- GET /v1/service-map ------------------------------------------------------------------


def test_service_map_is_the_graph_of_the_map_file(client: TestClient, keys: dict[str, str]) -> None:
    response = client.get("/v1/service-map", headers=bearer(keys["read"]))
    assert response.status_code == 200
    body = response.json()
    records = yaml.safe_load(MAP.read_text())
    assert body["version"] == build_impact_model(load_service_map(MAP)).version
    kinds = {node["id"]: node["kind"] for node in body["nodes"]}
    for process in records["business_processes"]:
        assert kinds[process["id"]] == "process"
    for service in records["services"]:
        assert service["id"] in kinds
    groups = [s["id"] for s in records["services"] if s.get("kind") == "redundancy_group"]
    assert groups and all(kinds[group] == "redundancy_group" for group in groups)
    assert len(kinds) == len(records["business_processes"]) + len(records["services"])
    # The deliberate cycle and the services that serve nothing (the map file's comments).
    edges = {(edge["from"], edge["to"]) for edge in body["edges"]}
    assert ("wms", "inventory-sync") in edges and ("inventory-sync", "wms") in edges
    quality = " ".join(body["quality"])
    assert "legacy-intranet" in quality and "end-user-computing" in quality
    assert "cycle" in quality.lower()


def test_service_map_of_the_tiny_map(tiny_client: TestClient, keys: dict[str, str]) -> None:
    body = tiny_client.get("/v1/service-map", headers=bearer(keys["read"])).json()
    assert body["version"] == map_version(TINY_MAP)
    assert {node["id"]: node["kind"] for node in body["nodes"]} == {
        "sales": "process", "payroll": "process",
        "shop-web": "service", "pay-gw": "service", "intranet": "service",
    }  # fmt: skip
    # Edges point the way impact flows: from a provider to what it serves.
    assert sorted((e["from"], e["to"], e["factor"], e["relation"]) for e in body["edges"]) == [
        ("pay-gw", "payroll", 0.5, "supports"),
        ("pay-gw", "shop-web", 1.0, "dependency"),
        ("shop-web", "sales", 1.0, "supports"),
    ]
    assert len(body["quality"]) == 1 and "intranet" in body["quality"][0]


def test_service_map_without_a_map(settings: Settings, store: Store, keys: dict[str, str]) -> None:
    with TestClient(create_app(settings, store=store), raise_server_exceptions=False) as client:
        body = client.get("/v1/service-map", headers=bearer(keys["read"])).json()
        assert body == {"version": None, "nodes": [], "edges": [], "quality": []}
        for path in (
            "/v1/processes",
            "/v1/processes/sales/timeline",
            "/v1/services/web-shop/blast-radius",
        ):
            assert_problem(client.get(path, headers=bearer(keys["read"])), 404, "no service map")


# --- PUT /v1/service-map --------------------------------------------------------------------


def test_put_map_replaces_it_saves_it_and_readyz_shows_it(
    client: TestClient, keys: dict[str, str], settings: Settings
) -> None:
    fixture_map = MAP.read_bytes()
    old = client.get("/v1/service-map", headers=bearer(keys["read"])).json()["version"]
    response = put_map(client, keys["admin"], TINY_MAP)
    assert response.status_code == 200
    new = map_version(TINY_MAP)
    assert new != old
    assert response.json()["version"] == new
    assert client.get("/v1/service-map", headers=bearer(keys["read"])).json()["version"] == new
    assert client.get("/readyz").json()["checks"]["service_map"] == f"version {new}"
    processes = client.get("/v1/processes", headers=bearer(keys["read"])).json()
    assert [process["id"] for process in processes] == ["sales", "payroll"]
    # Saved under the data folder; the file the service was started with is not touched.
    assert (settings.data_dir / SAVED_MAP_FILE).read_text() == TINY_MAP
    assert MAP.read_bytes() == fixture_map


def test_put_map_as_json(client: TestClient, keys: dict[str, str]) -> None:
    text = json.dumps(yaml.safe_load(TINY_MAP))
    response = put_map(client, keys["admin"], text, media="application/json")
    assert response.status_code == 200
    assert response.json()["version"] == map_version(TINY_MAP)


def test_a_saved_map_survives_a_restart(
    client: TestClient, keys: dict[str, str], settings: Settings, store: Store
) -> None:
    assert put_map(client, keys["admin"], TINY_MAP).status_code == 200
    with TestClient(create_app(settings, store=store)) as restarted:
        assert restarted.get("/readyz").json()["checks"]["service_map"] == (
            f"version {map_version(TINY_MAP)}"
        )
        body = restarted.get("/v1/service-map", headers=bearer(keys["read"])).json()
        assert body["version"] == map_version(TINY_MAP)


def test_invalid_map_is_refused_with_every_error_and_the_old_map_stays(
    client: TestClient, keys: dict[str, str], settings: Settings
) -> None:
    old = client.get("/v1/service-map", headers=bearer(keys["read"])).json()
    response = put_map(client, keys["admin"], INVALID_MAP)
    body = assert_problem(response, 422, "service map")
    assert not body["detail"].endswith(":")
    places = {error["place"]: error["message"] for error in body["errors"]}
    assert set(places) == {
        "business_processes[0].criticality",
        "services[0].id",
        "services[1].members[0]",
        "supports[0].service",
        "supports[0].process",
    }
    assert "9" in places["business_processes[0].criticality"]
    assert "'Shop Web'" in places["services[0].id"]
    assert "db-a" in places["services[1].members[0]"]
    assert "nowhere" in places["supports[0].process"]
    assert "(5 errors)" in body["detail"]
    assert client.get("/v1/service-map", headers=bearer(keys["read"])).json() == old
    assert client.get("/readyz").json()["checks"]["service_map"] == f"version {old['version']}"
    assert not (settings.data_dir / SAVED_MAP_FILE).exists()


def test_map_that_is_not_yaml_is_refused_with_its_place(
    client: TestClient, keys: dict[str, str]
) -> None:
    body = assert_problem(put_map(client, keys["admin"], "version: [1,\n"), 422)
    assert len(body["errors"]) == 1
    assert body["errors"][0]["place"].startswith("line ")
    assert "YAML" in body["errors"][0]["message"]


@pytest.mark.parametrize("text", ["[]", "null", "", "42"])
def test_map_that_is_not_a_mapping_is_refused(
    client: TestClient, keys: dict[str, str], text: str
) -> None:
    body = assert_problem(put_map(client, keys["admin"], text, "application/json"), 422)
    assert body["errors"][0]["place"] == "(top level)"


def test_map_of_another_media_type_is_415(client: TestClient, keys: dict[str, str]) -> None:
    assert_problem(put_map(client, keys["admin"], TINY_MAP, "image/png"), 415, "YAML or JSON")
    assert_problem(
        client.put("/v1/service-map", content=TINY_MAP.encode(), headers=bearer(keys["admin"])),
        415,
    )


def test_map_that_is_not_utf8_is_400(client: TestClient, keys: dict[str, str]) -> None:
    response = client.put(
        "/v1/service-map",
        content="version: 1\nname: caf\xe9\n".encode("latin-1"),
        headers={**bearer(keys["admin"]), "content-type": "text/yaml"},
    )
    assert_problem(response, 400, "UTF-8")


# --- GET /v1/processes ----------------------------------------------------------------------


def test_processes_are_the_maps_most_critical_first(
    client: TestClient, keys: dict[str, str]
) -> None:
    response = client.get("/v1/processes", headers=bearer(keys["read"]))
    assert response.status_code == 200
    written = yaml.safe_load(MAP.read_text())["business_processes"]
    expected = sorted(written, key=lambda process: (process["criticality"], process["id"]))
    assert response.json() == [
        {
            "id": process["id"],
            "name": process["name"],
            "criticality": process["criticality"],
            "value_per_hour": float(process["value_per_hour"]),
            "hours": process["hours"],
            "timezone": process["timezone"],
        }
        for process in expected
    ]
    assert response.json()[0]["id"] == "order-to-cash"


# --- GET /v1/processes/{id}/timeline --------------------------------------------------------


def test_timeline_counts_overlapping_incidents_once(
    tiny_client: TestClient, keys: dict[str, str]
) -> None:
    """On 17 Nov, shop-web: P1 10:00-12:00 (level 1.0) and P2 11:00-13:00 (0.6): sales
    loses 1.0 x 120 + 0.6 x 60 = 156 minutes over 180 minutes hit, 156/60 x 6000 =
    15,600. On 16 Nov, pay-gw P2 08:00-10:00: 0.6 x 1.0 x 120 = 72 minutes, 7,200."""
    records = [
        {"incident_id": "T1", "opened_at": "2026-11-16T08:00:00Z",
         "resolved_at": "2026-11-16T10:00:00Z", "priority": 2, "ci": "PAYGW01"},
        {"incident_id": "T2", "opened_at": "2026-11-17T10:00:00Z",
         "resolved_at": "2026-11-17T12:00:00Z", "priority": 1, "ci": "shop-web"},
        {"incident_id": "T3", "opened_at": "2026-11-17T11:00:00Z",
         "resolved_at": "2026-11-17T13:00:00Z", "priority": 2, "ci": "SHOPWEB01"},
    ]  # fmt: skip
    posted = tiny_client.post(
        "/v1/incidents", json={"source": "t", "incidents": records}, headers=bearer(keys["ingest"])
    )
    assert posted.json()["new"] == 3
    response = tiny_client.get(
        "/v1/processes/sales/timeline?from=2026-11-16T00:00:00Z&to=2026-11-19T00:00:00Z"
        f"&as_of={AS_OF_TEXT}",
        headers=bearer(keys["read"]),
    )
    assert response.status_code == 200
    body = response.json()
    assert body["process_id"] == "sales"
    days = {day["day"]: day for day in body["days"]}
    assert list(days) == ["2026-11-16", "2026-11-17", "2026-11-18"]
    assert days["2026-11-16"]["impact_minutes"] == pytest.approx(72)
    assert days["2026-11-16"]["value_at_risk"] == pytest.approx(7200)
    assert days["2026-11-16"]["business_minutes_hit"] == pytest.approx(120)
    assert days["2026-11-17"]["impact_minutes"] == pytest.approx(156)
    assert days["2026-11-17"]["value_at_risk"] == pytest.approx(15600)
    assert days["2026-11-17"]["business_minutes_hit"] == pytest.approx(180)
    assert days["2026-11-18"]["impact_minutes"] == 0
    # payroll (mon-fri 09:00-17:00, exposure 0.5 from pay-gw): 09:00-10:00 on 16 Nov.
    payroll = tiny_client.get(
        "/v1/processes/payroll/timeline?from=2026-11-16T00:00:00Z&to=2026-11-17T00:00:00Z"
        f"&as_of={AS_OF_TEXT}",
        headers=bearer(keys["read"]),
    ).json()["days"]
    assert len(payroll) == 1
    assert payroll[0]["impact_minutes"] == pytest.approx(0.6 * 0.5 * 60)
    assert payroll[0]["value_at_risk"] == pytest.approx(18 / 60 * 1200)


def test_timeline_defaults_to_the_week_before_as_of(
    client: TestClient, keys: dict[str, str]
) -> None:
    response = client.get(
        f"/v1/processes/order-to-cash/timeline?as_of={AS_OF_TEXT}", headers=bearer(keys["read"])
    )
    assert response.status_code == 200
    assert [day["day"] for day in response.json()["days"]] == [
        f"2026-11-{day}" for day in range(16, 23)
    ]


def test_timeline_of_an_unknown_process_is_404(client: TestClient, keys: dict[str, str]) -> None:
    response = client.get(
        f"/v1/processes/no-such-process/timeline?as_of={AS_OF_TEXT}", headers=bearer(keys["read"])
    )
    assert_problem(response, 404, "no-such-process")


@pytest.mark.parametrize(
    ("query", "status", "detail"),
    [
        ("from=2026-11-20T00:00:00Z&to=2026-11-10T00:00:00Z", 400, "until after since"),
        ("from=2025-01-01T00:00:00Z&to=2026-11-20T00:00:00Z", 400, "at most 400 days"),
        ("from=0001-01-01T00:00:00Z", 422, "query.from"),
        ("to=9999-12-31T00:00:00Z", 422, "query.to"),
        ("from=last-monday", 422, "query.from"),
    ],
)
def test_timeline_bad_range(
    client: TestClient, keys: dict[str, str], query: str, status: int, detail: str
) -> None:
    response = client.get(
        f"/v1/processes/order-to-cash/timeline?{query}&as_of={AS_OF_TEXT}",
        headers=bearer(keys["read"]),
    )
    assert_problem(response, status, detail)


# --- GET /v1/services/{id}/blast-radius ----------------------------------------------------


@pytest.mark.parametrize("name", ["pay-gw", "PAYGW01", "paygw01"])
def test_blast_radius_by_id_or_alias(
    tiny_client: TestClient, keys: dict[str, str], name: str
) -> None:
    response = tiny_client.get(f"/v1/services/{name}/blast-radius", headers=bearer(keys["read"]))
    assert response.status_code == 200
    assert response.json() == {
        "service": "pay-gw",
        "map_version": map_version(TINY_MAP),
        "processes": [
            {"process_id": "sales", "process": "Online sales", "criticality": 1,
             "exposure": 1.0, "value_per_hour_at_risk": 6000.0,
             "path": "pay-gw -> shop-web -> sales"},
            {"process_id": "payroll", "process": "Payroll", "criticality": 2,
             "exposure": 0.5, "value_per_hour_at_risk": 600.0,
             "path": "pay-gw -> payroll (x0.5)"},
        ],
    }  # fmt: skip


def test_blast_radius_of_a_service_that_serves_nothing(
    tiny_client: TestClient, keys: dict[str, str]
) -> None:
    response = tiny_client.get("/v1/services/intranet/blast-radius", headers=bearer(keys["read"]))
    assert response.status_code == 200
    assert response.json()["processes"] == []


def test_blast_radius_on_the_fixture_map(client: TestClient, keys: dict[str, str]) -> None:
    """web-shop serves order-to-cash directly (12,000/h) and nothing else."""
    response = client.get("/v1/services/NWWEB01/blast-radius", headers=bearer(keys["read"]))
    body = response.json()
    assert body["service"] == "web-shop"
    assert [
        (p["process_id"], p["exposure"], p["value_per_hour_at_risk"]) for p in body["processes"]
    ] == [("order-to-cash", 1.0, 12000.0)]


def test_blast_radius_of_an_unknown_service_is_404(
    client: TestClient, keys: dict[str, str]
) -> None:
    response = client.get("/v1/services/no-such-thing/blast-radius", headers=bearer(keys["read"]))
    assert_problem(response, 404, "no-such-thing")


def test_blast_radius_of_a_process_is_400(client: TestClient, keys: dict[str, str]) -> None:
    response = client.get("/v1/services/order-to-cash/blast-radius", headers=bearer(keys["read"]))
    assert_problem(response, 400, "business process")
