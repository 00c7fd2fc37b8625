"""The hotspot dashboard (``/dashboard``): sessions, CSRF, and pages that show the API's
numbers.

Pages are parsed (html5lib) and read by their structure: each figure is a ``<data>``
element whose ``value`` is the exact number and whose text is what a person reads, so
both are compared with the JSON API's answer for the same week and moment. Tests that
only read share one signed-in service (`shared`), so the week is reviewed once.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit
from xml.etree.ElementTree import Element

import html5lib
import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from impactlens.api.app import create_app
from impactlens.api.dashboard.sessions import SESSION_SECONDS, safe_next, session_secret
from impactlens.store import Store

from conftest import AS_OF_TEXT, MAP, WEEK, bearer
from impactlens.settings import Settings, get_settings

Q = {"week": WEEK, "as_of": AS_OF_TEXT}
HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>"
HOSTILE_GROUP = "<b>Evil</b> & Co"
SVG = "{http://www.w3.org/2000/svg}"  # html5lib keeps inline SVG in its namespace
PAGES = (
    "/dashboard",
    f"/dashboard?{urlencode(Q)}",
    "/dashboard/hotspots/inventory-sync",
    "/dashboard/incidents/csv/INC0014676",
    "/dashboard/processes/order-to-cash",
    "/dashboard/map",
    "/dashboard/report",
    "/dashboard/report/html",
)


# Helpers.


def parse(text: str) -> Element:
    document: Element = html5lib.parse(text, namespaceHTMLElements=False)
    return document


def text_of(element: Element | None) -> str:
    assert element is not None
    return "".join(element.itertext())


def has_class(element: Element, name: str) -> bool:
    return name in element.get("class", "").split()


def figure(container: Element | None, name: str) -> Element:
    """The ``<data>`` of the cell of class `name` in `container`."""
    assert container is not None
    for cell in container.iter("td"):
        if has_class(cell, name):
            found = cell.find(".//data")
            assert found is not None, f"cell {name} holds no <data>"
            return found
    raise AssertionError(f"no cell {name}")


def value(container: Element | None, name: str) -> float:
    return float(figure(container, name).get("value", "nan"))


def by_id(document: Element, element_id: str) -> Element:
    found = document.find(f".//*[@id='{element_id}']")
    assert found is not None, f"no element #{element_id}"
    return found


def rows(table: Element, attribute: str) -> dict[str, Element]:
    return {row.get(attribute, ""): row for row in table.iter("tr") if row.get(attribute)}


def svg_groups(svg: Element) -> list[str]:
    """The names of the handoff graph's boxes (each box's title)."""
    return [
        text_of(g.find(f"{SVG}title")) for g in svg.iter(f"{SVG}g") if g.get("class") == "group"
    ]


def form_token(page: httpx.Response) -> str:
    field = parse(page.text).find(".//input[@name='csrf_token']")
    assert field is not None
    return field.get("value", "")


def sign_in(client: TestClient, key: str, *, next: str = "") -> httpx.Response:
    """Open the sign-in form and send it with `key`, as a browser does."""
    token = form_token(client.get("/dashboard/sign-in"))
    return client.post(
        "/dashboard/sign-in",
        data={"key": key, "csrf_token": token, "next": next},
        follow_redirects=False,
    )


def set_cookies(response: httpx.Response) -> dict[str, str]:
    """Name -> the whole Set-Cookie header of each cookie `response` sets."""
    return {h.split("=", 1)[0]: h for h in response.headers.get_list("set-cookie")}


def assert_page(response: httpx.Response, status: int) -> Element:
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")
    assert "Traceback" not in response.text
    return parse(response.text)


@dataclass
class Shared:
    client: TestClient
    store: Store
    keys: dict[str, str]

    def api(self, path: str, **params: Any) -> Any:
        reply = self.client.get(path, params=params, headers=bearer(self.keys["read"]))
        assert reply.status_code == 200, reply.text
        return reply.json()

    def page(self, path: str, params: dict[str, str], *, status: int = 200) -> Element:
        return assert_page(self.client.get(path, params=params, follow_redirects=False), status)


@pytest.fixture(scope="module")
def shared(fixture_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shared]:
    """One signed-in service over its own copy of the fixture store, for tests that
    only read."""
    folder = tmp_path_factory.mktemp("dashboard")
    shutil.copyfile(fixture_db, folder / "impactlens.db")
    settings = get_settings(data_dir=folder)
    with Store.open(settings.database_url) as store:
        keys = {scope: store.create_api_key(f"dash-{scope}", scope)[1]
                for scope in ("read", "ingest")}  # fmt: skip
        app = create_app(settings, map_path=MAP, store=store)
        with TestClient(app, raise_server_exceptions=False) as client:
            assert sign_in(client, keys["read"]).status_code == 303
            yield Shared(client, store, keys)


# Signing in and out.


@pytest.mark.parametrize("path", PAGES)
def test_a_page_without_a_session_sends_the_browser_to_sign_in(
    client: TestClient, path: str
) -> None:
    reply = client.get(path, follow_redirects=False)
    assert reply.status_code == 303
    target = urlsplit(reply.headers["location"])
    assert target.path == "/dashboard/sign-in"
    assert parse_qs(target.query)["next"] == [path]


def test_the_sign_in_form_carries_a_token_tied_to_its_cookie(client: TestClient) -> None:
    page = client.get("/dashboard/sign-in?next=/dashboard/map")
    document = assert_page(page, 200)
    form = document.find(".//form[@action='/dashboard/sign-in']")
    assert form is not None and form.get("method") == "post"
    assert form.find(".//input[@name='next']").get("value") == "/dashboard/map"  # type: ignore[union-attr]
    assert len(form_token(page)) >= 32
    cookie = set_cookies(page)["impactlens_sign_in"]
    assert "HttpOnly" in cookie and "Path=/dashboard" in cookie and "SameSite=lax" in cookie
    # The same browser gets the same token while its cookie lasts.
    assert form_token(client.get("/dashboard/sign-in")) == form_token(page)


def test_signing_in_sets_a_signed_session_cookie_that_does_not_hold_the_key(
    client: TestClient, keys: dict[str, str]
) -> None:
    reply = sign_in(client, keys["read"], next=f"/dashboard/map?{urlencode(Q)}")
    assert reply.status_code == 303
    assert reply.headers["location"] == f"/dashboard/map?{urlencode(Q)}"
    cookies = set_cookies(reply)
    session = cookies["impactlens_session"]
    flags = [part.strip() for part in session.split(";")]
    assert "HttpOnly" in flags and "Path=/dashboard" in flags and "SameSite=lax" in flags
    assert "Secure" not in flags  # plain http here (see the https test)
    assert f"Max-Age={SESSION_SECONDS}" in flags
    value = flags[0].split("=", 1)[1]
    payload = json.loads(base64.urlsafe_b64decode(value.split(".")[0] + "=="))
    assert payload["n"] == "read-key" and isinstance(payload["k"], int)
    assert payload["e"] > time.time()
    for key in keys.values():
        assert key not in session and key[3:] not in session and key not in json.dumps(payload)
    # The pre-session cookie is dropped, and the pages open.
    assert "Max-Age=0" in cookies["impactlens_sign_in"]
    page = assert_page(client.get("/dashboard/map"), 200)
    assert "Signed in as read-key" in text_of(page.find(".//header"))


def test_the_session_cookie_is_secure_over_https(app: FastAPI, keys: dict[str, str]) -> None:
    with TestClient(app, base_url="https://testserver") as client:
        reply = sign_in(client, keys["read"])
        assert reply.status_code == 303
        flags = [part.strip() for part in set_cookies(reply)["impactlens_session"].split(";")]
        assert "Secure" in flags


@pytest.mark.parametrize("scope", ["ingest", "admin"])
def test_any_key_that_allows_read_may_sign_in(
    client: TestClient, keys: dict[str, str], scope: str
) -> None:
    assert sign_in(client, keys[scope]).status_code == 303
    assert client.get("/dashboard/map", follow_redirects=False).status_code == 200


@pytest.mark.parametrize("key", ["", "il_not-a-key", "Bearer x", "x" * 400])
def test_a_wrong_key_gets_the_form_again_with_a_401(client: TestClient, key: str) -> None:
    reply = sign_in(client, key, next="/dashboard/map")
    document = assert_page(reply, 401)
    assert "unknown or revoked" in text_of(document.find(".//p[@role='alert']"))
    assert document.find(".//input[@name='next']").get("value") == "/dashboard/map"  # type: ignore[union-attr]
    assert "impactlens_session" not in set_cookies(reply)
    assert client.get("/dashboard", follow_redirects=False).status_code == 303


def test_a_revoked_keys_session_stops_working(
    client: TestClient, store: Store, keys: dict[str, str]
) -> None:
    assert sign_in(client, keys["read"]).status_code == 303
    assert client.get("/dashboard/map", follow_redirects=False).status_code == 200
    store.revoke_api_key("read-key")
    reply = client.get("/dashboard/map", follow_redirects=False)
    assert reply.status_code == 303 and reply.headers["location"].startswith("/dashboard/sign-in")
    # And the revoked key cannot sign in again.
    assert sign_in(client, keys["read"]).status_code == 401


def test_a_tampered_or_expired_session_is_refused(
    client: TestClient, keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert sign_in(client, keys["read"]).status_code == 303
    good = client.cookies["impactlens_session"]
    payload, rest = good.split(".", 1)
    forged = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged["n"] = "admin-key"
    forged_payload = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("=")
    for cookie in (forged_payload + "." + rest, good[:-3] + "abc", "garbage"):
        client.cookies.set("impactlens_session", cookie, path="/dashboard")
        assert client.get("/dashboard/map", follow_redirects=False).status_code == 303
    client.cookies.set("impactlens_session", good, path="/dashboard")
    assert client.get("/dashboard/map", follow_redirects=False).status_code == 200
    later = time.time() + SESSION_SECONDS + 60
    monkeypatch.setattr(time, "time", lambda: later)
    assert client.get("/dashboard/map", follow_redirects=False).status_code == 303


def test_signing_out_ends_the_session(client: TestClient, keys: dict[str, str]) -> None:
    assert sign_in(client, keys["read"]).status_code == 303
    page = client.get("/dashboard/map")
    form = parse(page.text).find(".//form[@action='/dashboard/sign-out']")
    assert form is not None and form.get("method") == "post"
    reply = client.post("/dashboard/sign-out", data={"csrf_token": form_token(page)},
                        follow_redirects=False)  # fmt: skip
    assert reply.status_code == 303 and reply.headers["location"] == "/dashboard/sign-in"
    assert "Max-Age=0" in set_cookies(reply)["impactlens_session"]
    assert client.get("/dashboard/map", follow_redirects=False).status_code == 303


# CSRF.


@pytest.mark.parametrize("token", [None, "", "not-the-token"])
def test_sign_in_without_the_forms_token_is_refused(
    client: TestClient, keys: dict[str, str], token: str | None
) -> None:
    client.get("/dashboard/sign-in")  # the pre-session cookie is set
    data = {"key": keys["read"]} | ({} if token is None else {"csrf_token": token})
    reply = client.post("/dashboard/sign-in", data=data, follow_redirects=False)
    assert_page(reply, 403)
    assert "impactlens_session" not in set_cookies(reply)


def test_sign_in_with_a_token_of_another_browser_is_refused(
    app: FastAPI, keys: dict[str, str]
) -> None:
    with TestClient(app) as attacker, TestClient(app) as victim:
        token = form_token(attacker.get("/dashboard/sign-in"))
        victim.get("/dashboard/sign-in")
        reply = victim.post("/dashboard/sign-in", data={"key": keys["read"], "csrf_token": token},
                            follow_redirects=False)  # fmt: skip
        assert_page(reply, 403)
        # Nor without any pre-session cookie (a cross-site form post that has none).
        victim.cookies.clear()
        reply = victim.post("/dashboard/sign-in", data={"key": keys["read"], "csrf_token": token},
                            follow_redirects=False)  # fmt: skip
        assert_page(reply, 403)


@pytest.mark.parametrize("token", [None, "", "forged"])
def test_sign_out_without_the_sessions_token_is_refused(
    client: TestClient, keys: dict[str, str], token: str | None
) -> None:
    assert sign_in(client, keys["read"]).status_code == 303
    data = {} if token is None else {"csrf_token": token}
    assert_page(client.post("/dashboard/sign-out", data=data, follow_redirects=False), 403)
    assert client.get("/dashboard/map", follow_redirects=False).status_code == 200


# Where sign-in may send the browser.


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/dashboard", "//evil.example/dashboard", "/\\evil.example",
     "/v1/hotspots", "/dashboardx", "/dashboard/../v1/service-map", "/dashboard/%2e%2e/v1",
     "javascript:alert(1)", "/dashboard\r\nSet-Cookie: x=y", "dashboard", ""],
)  # fmt: skip
def test_sign_in_never_sends_the_browser_off_the_dashboard(
    client: TestClient, keys: dict[str, str], target: str
) -> None:
    reply = sign_in(client, keys["read"], next=target)
    assert reply.status_code == 303 and reply.headers["location"] == "/dashboard"
    assert safe_next(target) == "/dashboard"


def test_sign_in_returns_to_the_page_asked_for(client: TestClient, keys: dict[str, str]) -> None:
    asked = client.get(f"/dashboard/hotspots/wms?{urlencode(Q)}", follow_redirects=False)
    next_page = parse_qs(urlsplit(asked.headers["location"]).query)["next"][0]
    form = client.get(asked.headers["location"])
    field = parse(form.text).find(".//input[@name='next']")
    assert field is not None and field.get("value") == next_page
    reply = sign_in(client, keys["read"], next=next_page)
    assert reply.headers["location"] == f"/dashboard/hotspots/wms?{urlencode(Q)}"


# The session secret.


def test_the_session_secret_is_made_once_private_and_kept(tmp_path: Path) -> None:
    settings = get_settings(data_dir=tmp_path / "data")
    first = session_secret(settings)
    path = settings.data_dir / "session-secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 40 and session_secret(settings) == first
    assert [p.name for p in settings.data_dir.iterdir()] == ["session-secret"]  # no leftovers


def test_a_session_survives_a_restart(
    settings: Settings, store: Store, keys: dict[str, str]
) -> None:
    with TestClient(create_app(settings, map_path=MAP, store=store)) as before:
        assert sign_in(before, keys["read"]).status_code == 303
        cookie = before.cookies["impactlens_session"]
    with TestClient(create_app(settings, map_path=MAP, store=store)) as after:
        after.cookies.set("impactlens_session", cookie, path="/dashboard")
        assert after.get("/dashboard/map", follow_redirects=False).status_code == 200


def test_the_session_secret_setting_signs_the_cookies(
    tmp_path: Path, store: Store, keys: dict[str, str]
) -> None:
    settings = get_settings(data_dir=tmp_path / "one", session_secret="s" * 32)
    other = get_settings(data_dir=tmp_path / "two", session_secret="t" * 32)
    assert session_secret(settings) == "s" * 32
    assert not (settings.data_dir / "session-secret").exists()
    with TestClient(create_app(settings, map_path=MAP, store=store)) as signed:
        assert sign_in(signed, keys["read"]).status_code == 303
        cookie = signed.cookies["impactlens_session"]
    with TestClient(create_app(other, map_path=MAP, store=store)) as elsewhere:
        elsewhere.cookies.set("impactlens_session", cookie, path="/dashboard")
        assert elsewhere.get("/dashboard/map", follow_redirects=False).status_code == 303


# Pages: the API's numbers.


def test_the_hotspot_list_shows_the_apis_hotspots(shared: Shared) -> None:
    api = shared.api("/v1/hotspots", limit=1000, **Q)
    document = shared.page("/dashboard", Q)
    assert text_of(document.find(".//h1")) == f"Escalation hotspots, week {WEEK}"
    listed = rows(by_id(document, "hotspots"), "data-key")
    assert list(listed) == [hotspot["key"] for hotspot in api["hotspots"]]
    for hotspot in api["hotspots"]:
        row = listed[hotspot["key"]]
        for name in ("incidents", "escalated", "reached_l3", "repeats", "ping_pong", "reopens",
                     "repeat_impact"):  # fmt: skip
            assert value(row, name) == hotspot[name], (hotspot["key"], name)
            assert figure(row, name).text == f"{hotspot[name]:,.0f}"
        link = row.find(".//td[@class='key']/a")
        assert link is not None and text_of(link) == hotspot["key"]
        target = urlsplit(link.get("href", ""))
        assert target.path == "/dashboard/hotspots/" + quote(hotspot["key"], safe="")
        assert parse_qs(target.query)["week"] == [WEEK]
    # The notes a reader needs come along.
    notes = [text_of(note) for note in document.iter("p") if has_class(note, "note")]
    assert notes == [f"Note: {note}" for note in api["notes"]]


def test_the_hotspot_list_filters_and_sorts_as_the_api_does(shared: Shared) -> None:
    api = shared.api("/v1/hotspots", limit=1000, sort="escalated", **Q)["hotspots"]
    document = shared.page("/dashboard", {**Q, "sort": "escalated"})
    assert list(rows(by_id(document, "hotspots"), "data-key")) == [h["key"] for h in api]
    flagged = shared.page("/dashboard", {**Q, "flagged": "true"})
    keys = list(rows(by_id(flagged, "hotspots"), "data-key"))
    assert keys == [h["key"] for h in shared.api("/v1/hotspots", limit=1000, **Q)["hotspots"]
                    if h["flag"]]  # fmt: skip
    assert keys == ["inventory-sync", "shipping-labels"]
    # An empty form field means the default, as a browser sends it.
    again = shared.page("/dashboard", {**Q, "group_by": "", "sort": ""})
    assert len(rows(by_id(again, "hotspots"), "data-key")) == len(
        shared.api("/v1/hotspots", limit=1000, **Q)["hotspots"]
    )


def test_the_hotspot_list_groups_by_other_key_fields(shared: Shared) -> None:
    api = shared.api("/v1/hotspots", limit=1000, group_by="category,support_tier", **Q)
    document = shared.page("/dashboard", {**Q, "group_by": "category,support_tier"})
    listed = rows(by_id(document, "hotspots"), "data-key")
    assert list(listed) == [hotspot["key"] for hotspot in api["hotspots"]]
    # A key with a slash in it still has its page.
    key = next(iter(listed))
    assert " / " in key
    link = listed[key].find(".//td[@class='key']/a")
    assert link is not None
    page = assert_page(shared.client.get(link.get("href", "")), 200)
    assert value(by_id(page, "figures"), "escalated") == api["hotspots"][0]["escalated"]


def test_a_hotspot_page_shows_the_apis_hotspot(shared: Shared) -> None:
    api = shared.api("/v1/hotspots/inventory-sync", **Q)
    document = shared.page("/dashboard/hotspots/inventory-sync", Q)
    figures = by_id(document, "figures")
    for name in ("incidents", "escalated", "reached_l3", "repeats", "ping_pong", "reopens",
                 "impact_score", "repeat_impact", "escalation_rate"):  # fmt: skip
        assert value(figures, name) == api["hotspot"][name], name
    assert api["hotspot"]["reasons"] in text_of(document)
    assert api["hotspot"]["problem_record"] in text_of(document)
    # The week's incidents, costliest first, each linking to its page.
    listed = rows(by_id(document, "incident-list"), "data-incident")
    assert list(listed) == [incident["incident_id"] for incident in api["incidents"]]
    for incident in api["incidents"]:
        row = listed[incident["incident_id"]]
        assert value(row, "impact_score") == incident["impact_score"]
        assert value(row, "value_at_risk") == incident["value_at_risk"]
        link = row.find(".//a")
        assert link is not None
        assert (
            urlsplit(link.get("href", "")).path
            == f"/dashboard/incidents/csv/{incident['incident_id']}"
        )
    # The handoff graph: one box per group, one arrow per handoff, with its count.
    svg = document.find(f".//{SVG}svg[@class='handoff-graph']")
    assert svg is not None
    groups = {g["from_group"] for g in api["handoffs"]} | {g["to_group"] for g in api["handoffs"]}
    assert sorted(svg_groups(svg)) == sorted(groups)
    arrows = [g for g in svg.iter(f"{SVG}g") if g.get("class") == "handoff"]
    assert sorted(text_of(a.find(f"{SVG}text")) for a in arrows) == sorted(
        str(h["handoffs"]) for h in api["handoffs"]
    )
    # Processes hurt (linking to their pages) and the week-by-week trend.
    processes = by_id(document, "process-list")
    minutes = [float(d.get("value", "")) for td in processes.iter("td")
               if has_class(td, "impact_minutes") for d in td.iter("data")]  # fmt: skip
    assert minutes == [p["impact_minutes"] for p in api["processes"]]
    trend = by_id(document, "trend-list")
    escalated = [float(d.get("value", "")) for td in trend.iter("td")
                 if has_class(td, "escalated") for d in td.iter("data")]  # fmt: skip
    assert escalated == [week["escalated"] for week in api["trend"]]


def test_an_incident_page_shows_the_apis_impact(shared: Shared) -> None:
    api = shared.api("/v1/incidents/csv/INC0014676", as_of=AS_OF_TEXT)
    document = shared.page("/dashboard/incidents/csv/INC0014676", {"as_of": AS_OF_TEXT})
    impact = by_id(document, "impact")
    for name in ("impact_score", "value_at_risk", "impact_minutes"):
        assert value(impact, name) == api["incident"][name], name
    assert figure(impact, "impact_score").text == f"{api['incident']['impact_score']:,.0f}"
    assert figure(impact, "value_at_risk").text == f"{api['incident']['value_at_risk']:,.2f}"
    assert value(impact, "suggested_priority") == api["suggested_priority"] == 2
    assert "understated" in text_of(impact)
    steps = [text_of(li) for li in by_id(document, "path").iter("li")]
    assert " -> ".join(steps) == api["incident"]["explanation"]
    listed = rows(by_id(document, "incident-processes"), "data-process")
    assert list(listed) == [p["process_id"] for p in api["processes"]]
    for process in api["processes"]:
        for name in ("exposure", "business_minutes", "impact_minutes", "value_at_risk"):
            assert value(listed[process["process_id"]], name) == process[name]
    # Links to its hotspot (its week) and to the processes it hurts.
    hrefs = [a.get("href", "") for a in document.iter("a")]
    assert any(h.startswith("/dashboard/hotspots/inventory-sync?week=2026-W47") for h in hrefs)
    assert any(h.startswith("/dashboard/processes/order-to-cash?") for h in hrefs)


def test_a_process_page_shows_the_apis_timeline(shared: Shared) -> None:
    api = shared.api("/v1/processes/order-to-cash/timeline", as_of=AS_OF_TEXT)
    document = shared.page("/dashboard/processes/order-to-cash", {"as_of": AS_OF_TEXT})
    listed = rows(by_id(document, "timeline"), "data-day")
    assert list(listed) == [day["day"] for day in api["days"]]
    for day in api["days"]:
        for name in ("impact_minutes", "value_at_risk", "business_minutes_hit"):
            assert value(listed[day["day"]], name) == day[name]
    assert document.find(f".//{SVG}svg[@class='bar-chart']") is not None
    # The incidents that reached it, as GET /v1/incidents?process= lists them.
    since = "2026-11-16T00:00:00Z"
    incidents = shared.api("/v1/incidents", process="order-to-cash", since=since,
                           until=AS_OF_TEXT, as_of=AS_OF_TEXT, limit=100)["incidents"]  # fmt: skip
    links = [a for a in by_id(document, "process-incidents").iter("a")]
    assert [text_of(a) for a in links] == [i["incident_id"] for i in incidents]


def test_the_map_page_shows_version_quality_coverage_and_blast_radius(shared: Shared) -> None:
    api = shared.api("/v1/service-map")
    blast = shared.api("/v1/services/inventory-sync/blast-radius")
    document = shared.page("/dashboard/map", {**Q, "service": "inventory-sync"})
    assert text_of(document.find(".//strong[@class='version']")) == api["version"]
    findings = [text_of(li) for li in document.find(".//ul[@class='findings']").iter("li")]  # type: ignore[union-attr]
    assert findings == api["quality"]
    share = document.find(".//strong[@class='coverage_share']/data")
    assert share is not None and share.text == "96.0%"
    table = by_id(document, "blast")
    exposures = [float(d.get("value", "")) for td in table.iter("td")
                 if has_class(td, "exposure") for d in td.iter("data")]  # fmt: skip
    assert exposures == [row["exposure"] for row in blast["processes"]]
    # An unknown service: the map page still, with the reason.
    missing = shared.page("/dashboard/map", {"service": "no-such-service"}, status=404)
    assert "unknown service" in text_of(missing.find(".//p[@role='alert']"))
    assert missing.find(".//strong[@class='version']") is not None


def test_the_report_page_holds_the_weeks_report(shared: Shared) -> None:
    report = shared.client.get(f"/v1/reports/{WEEK}", params={"as_of": AS_OF_TEXT, "format": "html"},
                               headers=bearer(shared.keys["read"])).text  # fmt: skip
    document = shared.page("/dashboard/report", Q)
    frame = document.find(".//iframe")
    assert frame is not None and frame.get("sandbox") == ""
    assert frame.get("srcdoc") == report
    alone = shared.client.get("/dashboard/report/html", params=Q)
    assert alone.status_code == 200 and alone.text == report


def test_pages_link_to_each_other(shared: Shared) -> None:
    document = shared.page("/dashboard/hotspots/inventory-sync", Q)
    hrefs = [a.get("href", "") for a in document.iter("a")]
    for page in ("/dashboard/incidents/csv/", "/dashboard/processes/order-to-cash", "/dashboard?",
                 "/dashboard/map", "/dashboard/report"):  # fmt: skip
        assert any(h.startswith(page) for h in hrefs), page
    for href in hrefs:  # every link of the page opens
        if href.startswith("/dashboard") and "/incidents/" not in href:
            assert shared.client.get(href).status_code == 200, href


def test_pages_forbid_scripts_and_framing(shared: Shared) -> None:
    reply = shared.client.get("/dashboard", params=Q)
    policy = reply.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "script-src" not in policy  # so no script at all (default-src 'none')
    assert reply.headers["x-frame-options"] == "DENY"
    assert reply.headers["cache-control"] == "no-store"
    css = shared.client.get("/dashboard/static/dashboard.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


# Errors are pages.


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/dashboard/hotspots/no-such-key", 404, "had no incident in week 2026-W47"),
        ("/dashboard/incidents/csv/INC-NONE", 404, "no incident 'INC-NONE' of source 'csv'"),
        ("/dashboard/incidents/nosource/INC0014676", 404, "no incident"),
        ("/dashboard/processes/no-such-process", 404, "no-such-process"),
        ("/dashboard/no/such/page", 404, "no such page"),
    ],
)
def test_unknown_things_are_404_pages(shared: Shared, path: str, status: int, says: str) -> None:
    document = shared.page(path, Q, status=status)
    assert says in text_of(document.find(".//p[@role='alert']"))


@pytest.mark.parametrize(
    ("params", "status", "says"),
    [
        ({"week": "2026-47"}, 422, "week"),
        ({"week": "2026-W60"}, 400, "2026 has no week 60"),
        ({"as_of": "yesterday-ish"}, 422, "as_of"),
        ({"sort": "colour"}, 422, "sort"),
        ({"group_by": "colour"}, 400, "cannot group_by 'colour'"),
        ({"limit": "0"}, 422, "limit"),
    ],
)
def test_bad_query_parameters_are_error_pages(
    shared: Shared, params: dict[str, str], status: int, says: str
) -> None:
    document = shared.page("/dashboard", params, status=status)
    assert says in text_of(document.find(".//p[@role='alert']"))


# Hostile text.


def test_a_hostile_incident_is_shown_as_text(client: TestClient, keys: dict[str, str]) -> None:
    body = {
        "source": "csv",
        "incidents": [{
            "incident_id": "INC-HOSTILE-1", "opened_at": "2026-11-18T10:00:00Z",
            "resolved_at": "2026-11-18T12:00:00Z", "priority": 2, "ci": "inventory-sync-prod",
            "category": HOSTILE, "assignment_group": HOSTILE_GROUP, "short_description": HOSTILE,
        }],
        "history": [
            {"incident_id": "INC-HOSTILE-1", "at": "2026-11-18T10:00:00Z", "assignment_group": "Service Desk"},
            {"incident_id": "INC-HOSTILE-1", "at": "2026-11-18T10:20:00Z", "assignment_group": HOSTILE_GROUP},
        ],
    }  # fmt: skip
    posted = client.post("/v1/incidents", json=body, headers=bearer(keys["ingest"]))
    assert posted.status_code == 200 and posted.json()["new"] == 1
    assert sign_in(client, keys["read"]).status_code == 303

    page = client.get("/dashboard/incidents/csv/INC-HOSTILE-1", params={"as_of": AS_OF_TEXT})
    document = assert_page(page, 200)
    assert HOSTILE not in page.text and HOSTILE_GROUP not in page.text
    assert text_of(document.find(".//p[@class='description']")) == HOSTILE
    assert HOSTILE_GROUP in text_of(by_id(document, "fields"))
    assert_inert(document)

    page = client.get("/dashboard/hotspots/inventory-sync", params=Q)
    document = assert_page(page, 200)
    assert HOSTILE not in page.text and HOSTILE_GROUP not in page.text
    row = rows(by_id(document, "incident-list"), "data-incident")["INC-HOSTILE-1"]
    assert HOSTILE in text_of(row)
    svg = document.find(f".//{SVG}svg[@class='handoff-graph']")
    assert svg is not None and HOSTILE_GROUP in svg_groups(svg)
    assert_inert(document)

    # Grouped by category, the hostile text is a hotspot's key: listed and linked as text.
    page = client.get("/dashboard", params={**Q, "group_by": "category"})
    document = assert_page(page, 200)
    assert HOSTILE not in page.text
    row = rows(by_id(document, "hotspots"), "data-key")[HOSTILE]
    link = row.find(".//td[@class='key']/a")
    assert link is not None and text_of(link) == HOSTILE
    assert_inert(document)
    hotspot = assert_page(client.get(link.get("href", "")), 200)
    assert text_of(hotspot.find(".//h1/span[@class='key']")) == HOSTILE
    assert_inert(hotspot)


def assert_inert(document: Element) -> None:
    """No element came out of incident text: no script, image or bold of a source's."""
    assert list(document.iter("script")) == []
    assert list(document.iter("img")) == []
    assert [b for b in document.iter("b")] == []
    for element in document.iter():
        assert not any(name.startswith("on") for name in element.attrib), element.tag


def test_the_session_secret_file_is_not_world_readable(settings: Settings, app: FastAPI) -> None:
    path = settings.data_dir / "session-secret"
    assert path.is_file()
    assert os.stat(path).st_mode & 0o077 == 0


def test_without_a_service_map_the_pages_say_so(
    settings: Settings, store: Store, keys: dict[str, str]
) -> None:
    with TestClient(create_app(settings, store=store), raise_server_exceptions=False) as client:
        assert sign_in(client, keys["read"]).status_code == 303
        document = assert_page(client.get("/dashboard/map", params=Q), 200)
        assert "No service map is loaded" in text_of(document)
        document = assert_page(client.get("/dashboard/processes/order-to-cash"), 404)
        assert "no service map" in text_of(document.find(".//p[@role='alert']"))
        assert_page(client.get("/dashboard", params=Q), 200)
        document = assert_page(client.get("/dashboard/incidents/csv/INC0014676"), 200)
        assert value(by_id(document, "impact"), "impact_score") == 0


def test_the_dashboard_with_a_trailing_slash_is_the_dashboard(shared: Shared) -> None:
    reply = shared.client.get("/dashboard/", follow_redirects=False)
    assert reply.status_code == 307 and reply.headers["location"] == "/dashboard"
