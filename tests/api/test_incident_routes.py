"""``POST /v1/incidents``, ``GET /v1/incidents/{source}/{id}`` and ``GET /v1/incidents``.

(Named ``test_incident_routes`` because ``tests/store/test_incidents.py`` holds the
basename ``test_incidents`` and these folders are not packages.)

Impacts are checked twice: by hand on `TINY_MAP` (see `test_service_map`), and on the
fixture store against the library's own scoring of every stored incident
(`impactlens.analysis.score`), which reads and scores the store by another way than the
API's lookups. Tests that only read share one service (`shared`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from impactlens.engine.impact import ImpactModel, build_impact_model
from impactlens.engine.misprioritised import suggested_priorities
from impactlens.service_map.load import load_service_map
from impactlens.store import Store
from test_operations import Shared, assert_problem, shared_service
from test_service_map import TINY_MAP, map_version, tiny_service

from conftest import AS_OF, AS_OF_TEXT, MAP, bearer
from impactlens.analysis import Scores, score

shared_fixture = pytest.fixture(scope="module", name="shared")(shared_service)
tiny_client_fixture = pytest.fixture(name="tiny_client")(tiny_service)

WINDOW = "since=2026-11-16T00:00:00Z&until=2026-11-23T00:00:00Z"
WINDOW_START = pd.Timestamp("2026-11-16", tz="UTC")
WINDOW_END = pd.Timestamp("2026-11-23", tz="UTC")


@pytest.fixture(scope="module")
def model() -> ImpactModel:
    return build_impact_model(load_service_map(MAP))


@pytest.fixture(scope="module")
def scored(shared: Shared, model: ImpactModel) -> Scores:
    """Every incident of the shared store scored by the library as of `AS_OF`."""
    return score(model, as_of=AS_OF, store=shared.store)


def post(
    client: TestClient, key: str, records: list[dict[str, Any]], source: str = "itsm", **extra: Any
):  # type: ignore[no-untyped-def]
    return client.post(
        "/v1/incidents", json={"source": source, "incidents": records, **extra}, headers=bearer(key)
    )


def get_incident(
    client: TestClient, key: str, source: str, incident_id: str, as_of: str = AS_OF_TEXT
):  # type: ignore[no-untyped-def]
    return client.get(f"/v1/incidents/{source}/{incident_id}?as_of={as_of}", headers=bearer(key))


# --- one incident's impact ------------------------------------------------------------------


def test_impact_worked_out_by_hand(tiny_client: TestClient, keys: dict[str, str]) -> None:
    """pay-gw down 08:00-10:00 on Monday 16 Nov at priority 2 (severity 0.6):
    sales 0.6 x 1.0 x 120 = 72 minutes, 72/60 x 6000 = 7,200; payroll (from 09:00)
    0.6 x 0.5 x 60 = 18 minutes, 18/60 x 1200 = 360; score 1.0 x 72 + 0.5 x 18 = 81."""
    record = {"incident_id": "P1", "opened_at": "2026-11-16T08:00:00Z",
              "resolved_at": "2026-11-16T10:00:00Z", "priority": 2, "ci": "PAYGW01"}  # fmt: skip
    assert post(tiny_client, keys["ingest"], [record]).json()["new"] == 1
    response = get_incident(tiny_client, keys["read"], "itsm", "P1")
    assert response.status_code == 200
    body = response.json()
    incident = body["incident"]
    assert incident["service_id"] == "pay-gw" and incident["mapped"] is True
    assert incident["impact_score"] == pytest.approx(81)
    assert incident["impact_minutes"] == pytest.approx(90)
    assert incident["value_at_risk"] == pytest.approx(7560)
    assert incident["top_process"] == "sales"
    assert incident["explanation"] == "pay-gw -> shop-web -> sales"
    assert [
        (
            p["process_id"],
            p["exposure"],
            p["business_minutes"],
            p["impact_minutes"],
            p["value_at_risk"],
        )
        for p in body["processes"]
    ] == [
        ("sales", 1.0, pytest.approx(120), pytest.approx(72), pytest.approx(7200)),
        ("payroll", 0.5, pytest.approx(60), pytest.approx(18), pytest.approx(360)),
    ]
    assert body["map_version"] == map_version(TINY_MAP)
    assert body["as_of"] == "2026-11-23T00:00:00+00:00"
    assert body["suggested_priority"] in {1, 2, 3, 4, 5}


@pytest.mark.parametrize(
    ("as_of", "minutes"),
    [
        ("2026-11-16T09:30:00Z", 90),
        ("2026-11-16T09:30:00", 90),  # naive: UTC
        ("2026-11-16T10:30:00%2B01:00", 90),  # the same moment in +01:00
        ("2026-11-16T10:00:00Z", 120),
        ("2026-11-16T07:00:00Z", 0),  # before it opened
    ],
)
def test_open_incident_counts_up_to_as_of(
    tiny_client: TestClient, keys: dict[str, str], as_of: str, minutes: float
) -> None:
    """shop-web down since 08:00 at priority 1: sales loses 1.0 x 1.0 x minutes so far."""
    record = {"incident_id": "OPEN1", "opened_at": "2026-11-16T08:00:00Z", "priority": 1,
              "ci": "SHOPWEB01"}  # fmt: skip
    assert post(tiny_client, keys["ingest"], [record]).json()["new"] == 1
    body = get_incident(tiny_client, keys["read"], "itsm", "OPEN1", as_of=as_of).json()
    assert body["incident"]["resolved_at"] is None
    assert body["incident"]["impact_score"] == pytest.approx(minutes)
    assert body["incident"]["value_at_risk"] == pytest.approx(minutes / 60 * 6000)
    assert body["as_of"].startswith(as_of[:10])


def test_impact_of_stored_incidents_is_the_librarys_score(
    shared: Shared, scored: Scores, model: ImpactModel
) -> None:
    table, pairs = scored.facts.incidents, scored.facts.pairs
    assert (table["source"] == "csv").all()
    pair_counts = pairs[pairs["impact_minutes"] > 0].groupby("row").size()
    chosen = {
        "costliest": int(table["impact_score"].idxmax()),
        "several processes": int(pair_counts[pair_counts >= 2].index[0]),
        "unmapped": int(table.index[~table["mapped"].astype(bool)][0]),
        "zero impact on a mapped service": int(
            table.index[table["mapped"].astype(bool) & (table["impact_score"] == 0)][0]
        ),
    }
    suggested = suggested_priorities(table, model, pairs=pairs)
    for what, row in chosen.items():
        expected = table.loc[row]
        response = get_incident(
            shared.client, shared.keys["read"], "csv", str(expected["incident_id"])
        )
        assert response.status_code == 200, what
        body = response.json()
        incident = body["incident"]
        for name in ("impact_score", "impact_minutes", "value_at_risk"):
            assert incident[name] == pytest.approx(float(expected[name]), abs=1e-9), (what, name)
        for name in ("top_process", "explanation", "service_id"):
            value = expected[name]
            assert incident[name] == (None if pd.isna(value) else str(value)), (what, name)
        assert incident["mapped"] == bool(expected["mapped"]), what
        assert incident["priority"] == int(expected["priority"]), what
        mine = pairs[pairs["row"] == row]
        assert {p["process_id"]: p["impact_minutes"] for p in body["processes"]} == {
            str(p): pytest.approx(float(m))
            for p, m in zip(mine["process_id"], mine["impact_minutes"], strict=True)
        }, what
        minutes = [p["impact_minutes"] for p in body["processes"]]
        assert minutes == sorted(minutes, reverse=True), what
        expected_suggestion = suggested.loc[row]
        assert body["suggested_priority"] == (
            None if pd.isna(expected_suggestion) else int(expected_suggestion)
        ), what
        assert body["map_version"] == model.version


def test_unknown_incident_is_404(shared: Shared) -> None:
    read = shared.keys["read"]
    assert_problem(get_incident(shared.client, read, "csv", "NO-SUCH"), 404, "NO-SUCH")
    assert_problem(get_incident(shared.client, read, "nowhere", "INC0010001"), 404, "nowhere")


@pytest.mark.parametrize(
    ("as_of", "status"),
    [
        ("yesterday", 422),
        ("2026-13-01T00:00:00Z", 422),
        ("0001-01-01T00:00:00Z", 422),
        ("9999-12-31T00:00:00Z", 422),
    ],
)
def test_bad_as_of_is_refused(shared: Shared, as_of: str, status: int) -> None:
    response = get_incident(shared.client, shared.keys["read"], "csv", "INC0010001", as_of)
    body = assert_problem(response, status)
    assert body["errors"][0]["place"] == "query.as_of"


def test_incident_id_with_a_slash(client: TestClient, keys: dict[str, str]) -> None:
    record = {"incident_id": "OPS/2026/7", "opened_at": "2026-11-20T09:00:00Z", "priority": 3}
    assert post(client, keys["ingest"], [record], source="jira").json()["new"] == 1
    response = get_incident(client, keys["read"], "jira", "OPS/2026/7")
    assert response.status_code == 200
    assert response.json()["incident"]["incident_id"] == "OPS/2026/7"


# --- POST /v1/incidents -----------------------------------------------------------------------

FULL_RECORD = {
    "incident_id": "API-1",
    "opened_at": "2026-11-20T09:15:00Z",
    "resolved_at": "2026-11-20T10:45:00Z",
    "priority": 2,
    "ci": "NWWEB01",
    "category": "Application",
    "assignment_group": "Web Ops",
    "short_description": "Checkout <b>slow</b> & flaky",
    "updated_at": "2026-11-20T10:45:00Z",
}


def test_post_then_get_round_trips(client: TestClient, keys: dict[str, str], store: Store) -> None:
    response = post(client, keys["ingest"], [FULL_RECORD])
    assert response.status_code == 200
    reply = response.json()
    assert reply["received"] == 1 and reply["new"] == 1 and reply["quarantined"] == 0
    assert reply["quarantined_records"] == []
    assert reply["run_id"] == store.revision()
    incident = get_incident(client, keys["read"], "itsm", "API-1").json()["incident"]
    assert incident["source"] == "itsm"
    assert incident["opened_at"] == "2026-11-20T09:15:00+00:00"
    assert incident["resolved_at"] == "2026-11-20T10:45:00+00:00"
    for name in ("priority", "ci", "category", "assignment_group", "short_description"):
        assert incident[name] == FULL_RECORD[name], name
    assert incident["service_id"] == "web-shop"  # NWWEB01 is web-shop's alias
    # 90 minutes of order-to-cash (24x7, exposure 1.0) at severity 0.6: 54 minutes.
    assert incident["impact_score"] == pytest.approx(54)
    assert incident["value_at_risk"] == pytest.approx(54 / 60 * 12000)


def test_same_post_twice_changes_nothing(
    client: TestClient, keys: dict[str, str], store: Store
) -> None:
    records = [FULL_RECORD, {**FULL_RECORD, "incident_id": "API-2", "priority": 3}]
    first = post(client, keys["ingest"], records).json()
    assert (first["new"], first["updated"], first["unchanged"]) == (2, 0, 0)
    second = post(client, keys["ingest"], records).json()
    assert (second["new"], second["updated"], second["unchanged"]) == (0, 0, 2)
    assert second["received"] == 2 and second["quarantined"] == 0


def test_newest_updated_at_wins(client: TestClient, keys: dict[str, str]) -> None:
    assert post(client, keys["ingest"], [FULL_RECORD]).json()["new"] == 1
    newer = {**FULL_RECORD, "priority": 1, "short_description": "down",
             "updated_at": "2026-11-20T12:00:00Z"}  # fmt: skip
    reply = post(client, keys["ingest"], [newer]).json()
    assert (reply["new"], reply["updated"], reply["unchanged"]) == (0, 1, 0)
    older = {**FULL_RECORD, "priority": 4, "short_description": "stale",
             "updated_at": "2026-11-20T11:00:00Z"}  # fmt: skip
    reply = post(client, keys["ingest"], [older]).json()
    assert (reply["new"], reply["updated"], reply["unchanged"]) == (0, 0, 1)
    incident = get_incident(client, keys["read"], "itsm", "API-1").json()["incident"]
    assert (incident["priority"], incident["short_description"]) == (1, "down")


def test_bad_records_are_quarantined_with_index_and_reason(
    client: TestClient, keys: dict[str, str], store: Store
) -> None:
    records = [
        {"incident_id": "Q0", "opened_at": "2026-11-20T09:00:00Z", "priority": 3},
        {"incident_id": "Q1", "opened_at": "2026-11-20T09:00:00Z", "priority": 9},
        {"incident_id": "Q2", "priority": 2},
        {"incident_id": "Q3", "opened_at": "2026-11-20T09:00:00Z", "priority": 4},
        {"incident_id": "Q4", "opened_at": "not a time", "priority": 4},
    ]
    reply = post(client, keys["ingest"], records).json()
    assert (reply["received"], reply["new"], reply["quarantined"]) == (5, 2, 3)
    quarantined = {record["index"]: record for record in reply["quarantined_records"]}
    assert sorted(quarantined) == [1, 2, 4]
    assert "priority 9" in quarantined[1]["reason"]
    assert "opened_at" in quarantined[2]["reason"] and "missing" in quarantined[2]["reason"]
    assert "'not a time'" in quarantined[4]["reason"]
    assert all(record["problem"] for record in quarantined.values())
    for incident_id, status in (("Q0", 200), ("Q1", 404), ("Q2", 404), ("Q3", 200), ("Q4", 404)):
        assert get_incident(client, keys["read"], "itsm", incident_id).status_code == status
    held = store.quarantine(run_id=reply["run_id"])
    assert len(held) == 3


def test_an_empty_batch_is_fine(client: TestClient, keys: dict[str, str]) -> None:
    reply = post(client, keys["ingest"], []).json()
    assert (reply["received"], reply["new"], reply["quarantined"]) == (0, 0, 0)


def test_more_than_10000_records_are_refused_whole(
    client: TestClient, keys: dict[str, str], store: Store
) -> None:
    records = [{"incident_id": f"N{number}", "priority": 3} for number in range(10_001)]
    before = store.revision()
    body = assert_problem(post(client, keys["ingest"], records), 422, "10000")
    assert body["errors"][0]["place"] == "body.incidents"
    assert store.revision() == before
    assert store.get_incident("itsm", "N0") is None


def test_body_that_is_not_json_is_400(client: TestClient, keys: dict[str, str]) -> None:
    response = client.post(
        "/v1/incidents",
        content=b'{"source": "itsm", "incidents": [',
        headers={**bearer(keys["ingest"]), "content-type": "application/json"},
    )
    assert_problem(response, 400, "not JSON")


@pytest.mark.parametrize(
    ("body", "place"),
    [
        ([{"incident_id": "A"}], "body"),
        ({"incidents": []}, "body.source"),
        ({"source": "itsm"}, "body.incidents"),
        ({"source": "", "incidents": []}, "body.source"),
        ({"source": "it\nsm", "incidents": []}, "body.source"),
        ({"source": "itsm", "incidents": ["INC1"]}, "body.incidents.0"),
        ({"source": "itsm", "incidents": {"incident_id": "A"}}, "body.incidents"),
    ],
)
def test_body_of_the_wrong_shape_is_422(
    client: TestClient, keys: dict[str, str], body: Any, place: str
) -> None:
    problem = assert_problem(
        client.post("/v1/incidents", json=body, headers=bearer(keys["ingest"])), 422
    )
    assert place in [error["place"] for error in problem["errors"]]


# --- GET /v1/incidents ------------------------------------------------------------------------


def _page_all(client: TestClient, key: str, query: str, limit: int) -> Iterator[dict[str, Any]]:
    """Every page of `query`, following next_cursor; checks each page's size."""
    cursor = None
    while True:
        url = f"/v1/incidents?{query}&limit={limit}&as_of={AS_OF_TEXT}"
        response = client.get(url + (f"&cursor={cursor}" if cursor else ""), headers=bearer(key))
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["incidents"]) <= limit
        yield body
        cursor = body["next_cursor"]
        if cursor is None:
            return
        assert len(body["incidents"]) == limit


def _window(store: Store) -> list[tuple[str, str]]:
    """(source, id) of the incidents opened in the window, oldest first: a direct read."""
    stored = store.load_incidents(since=WINDOW_START, until=WINDOW_END)
    ordered = stored.sort_values(["opened_at", "source", "incident_id"], kind="stable")
    return list(zip(ordered["source"], ordered["incident_id"], strict=True))


def test_paging_visits_every_incident_once_in_order(shared: Shared) -> None:
    expected = _window(shared.store)
    assert len(expected) > 300
    pages = list(_page_all(shared.client, shared.keys["read"], WINDOW, limit=100))
    seen = [(i["source"], i["incident_id"]) for page in pages for i in page["incidents"]]
    assert seen == expected
    assert len(pages) == -(-len(expected) // 100)
    opened = [i["opened_at"] for page in pages for i in page["incidents"]]
    assert opened == sorted(opened)


def test_paging_stays_right_while_incidents_arrive(
    client: TestClient, keys: dict[str, str], store: Store
) -> None:
    expected = _window(store)
    first = client.get(
        f"/v1/incidents?{WINDOW}&limit=100&as_of={AS_OF_TEXT}", headers=bearer(keys["read"])
    ).json()
    # One incident before the cursor (not shown: that page was read) and one after it.
    late = [
        {"incident_id": "EARLY", "opened_at": "2026-11-16T00:00:01Z", "priority": 3},
        {"incident_id": "LATE", "opened_at": "2026-11-22T23:59:00Z", "priority": 3},
    ]
    assert post(client, keys["ingest"], late).json()["new"] == 2
    seen = [(i["source"], i["incident_id"]) for i in first["incidents"]]
    cursor = first["next_cursor"]
    while cursor:
        body = client.get(
            f"/v1/incidents?{WINDOW}&limit=100&as_of={AS_OF_TEXT}&cursor={cursor}",
            headers=bearer(keys["read"]),
        ).json()
        seen += [(i["source"], i["incident_id"]) for i in body["incidents"]]
        cursor = body["next_cursor"]
    assert seen.count(("itsm", "LATE")) == 1 and ("itsm", "EARLY") not in seen
    assert [item for item in seen if item[0] == "csv"] == expected


def test_default_window_is_the_30_days_before_as_of(shared: Shared) -> None:
    stored = shared.store.load_incidents(since=AS_OF - pd.Timedelta(days=30), until=AS_OF)
    ordered = stored.sort_values(["opened_at", "source", "incident_id"])
    first = shared.read(f"/v1/incidents?limit=1&as_of={AS_OF_TEXT}").json()
    assert first["incidents"][0]["incident_id"] == ordered["incident_id"].iloc[0]
    last = shared.read(f"/v1/incidents?since=2026-11-22T00:00:00Z&limit=1000&as_of={AS_OF_TEXT}")
    assert last.json()["incidents"][-1]["incident_id"] == ordered["incident_id"].iloc[-1]


def _ids(client: TestClient, key: str, query: str) -> list[str]:
    return [
        i["incident_id"] for page in _page_all(client, key, query, 1000) for i in page["incidents"]
    ]


def _in_window(scored: Scores) -> pd.DataFrame:
    table = scored.facts.incidents
    opened = pd.to_datetime(table["opened_at"], utc=True)
    return table[(opened >= WINDOW_START) & (opened < WINDOW_END)].sort_values(
        ["opened_at", "source", "incident_id"], kind="stable"
    )


def test_filter_by_service(shared: Shared, scored: Scores) -> None:
    window = _in_window(scored)
    expected = window.loc[window["service_id"] == "web-shop", "incident_id"].tolist()
    assert expected
    assert _ids(shared.client, shared.keys["read"], f"{WINDOW}&service=web-shop") == expected
    assert _ids(shared.client, shared.keys["read"], f"{WINDOW}&service=NWWEB01") == []


def test_filter_by_process(shared: Shared, scored: Scores) -> None:
    window = _in_window(scored)
    pairs = scored.facts.pairs
    hit = set(
        pairs.loc[
            (pairs["process_id"] == "warehouse-dispatch") & (pairs["impact_minutes"] > 0), "row"
        ]
    )
    expected = window.loc[window.index.isin(hit), "incident_id"].tolist()
    assert 0 < len(expected) < len(window)
    query = f"{WINDOW}&process=warehouse-dispatch"
    assert _ids(shared.client, shared.keys["read"], query) == expected


def test_filter_by_min_score(shared: Shared, scored: Scores) -> None:
    window = _in_window(scored)
    expected = window.loc[window["impact_score"] >= 100, "incident_id"].tolist()
    assert 0 < len(expected) < len(window)
    assert _ids(shared.client, shared.keys["read"], f"{WINDOW}&min_score=100") == expected


def test_filter_by_source(client: TestClient, keys: dict[str, str]) -> None:
    record = {"incident_id": "S1", "opened_at": "2026-11-18T09:00:00Z", "priority": 3}
    assert post(client, keys["ingest"], [record], source="pagerduty").json()["new"] == 1
    assert _ids(client, keys["read"], f"{WINDOW}&source=pagerduty") == ["S1"]
    assert "S1" not in _ids(client, keys["read"], f"{WINDOW}&source=csv")
    assert _ids(client, keys["read"], f"{WINDOW}&source=nothing") == []


def _cursor(parts: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "%25%25%25",
        _cursor([1, 2, 3]),
        _cursor([None, "csv", "INC1"]),
        _cursor(["not a moment", "csv", "INC1"]),
        _cursor({"opened": "2026-11-16T00:00:00Z"}),
        _cursor(["2026-11-16T00:00:00Z", "csv"]),
    ],
)
def test_bad_cursor_is_400(shared: Shared, cursor: str) -> None:
    response = shared.read(f"/v1/incidents?{WINDOW}&as_of={AS_OF_TEXT}&cursor={cursor}")
    assert_problem(response, 400, "cursor")


@pytest.mark.parametrize(
    ("query", "place"),
    [
        ("limit=0", "query.limit"),
        ("limit=1001", "query.limit"),
        ("limit=ten", "query.limit"),
        ("min_score=-1", "query.min_score"),
        ("since=last-week", "query.since"),
        ("since=0001-01-01T00:00:00Z", "query.since"),
        ("until=9999-01-01T00:00:00Z", "query.until"),
        (f"cursor={'A' * 2001}", "query.cursor"),
    ],
)
def test_bad_list_query_is_422(shared: Shared, query: str, place: str) -> None:
    body = assert_problem(shared.read(f"/v1/incidents?{query}&as_of={AS_OF_TEXT}"), 422, place)
    assert body["errors"][0]["place"] == place
