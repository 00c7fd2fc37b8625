"""The dashboard in a real browser: the service on 127.0.0.1 (uvicorn), headless Chromium
driven through its DevTools protocol, as a person would use it: open a page, be sent to
sign in, type the API key, press Enter, read the hotspots.

A screenshot of the hotspot list is kept as a test artefact,
``.impactlens/test-artefacts/dashboard.png`` (git-ignored), for a person to look at.
Skipped where Debian's chromium is absent (``.ci/run`` installs it).
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import html5lib
import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from websockets.sync.client import connect
from websockets.sync.connection import Connection

from conftest import AS_OF_TEXT, WEEK, bearer

CHROMIUM = shutil.which("chromium")
REPO = Path(__file__).resolve().parents[2]
ARTEFACT = REPO / ".impactlens" / "test-artefacts" / "dashboard.png"
HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>"
HOSTILE_GROUP = "<b>Evil</b> & Co"
NS = "{http://www.w3.org/1999/xhtml}"
WEEK_QUERY = urlencode({"week": WEEK, "as_of": AS_OF_TEXT})

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)"
)


@pytest.fixture
def server(app: FastAPI) -> Iterator[str]:
    """The service of `app` on a free port of 127.0.0.1, in a thread; its base URL."""
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.bind(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not running.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        running.should_exit = True
        thread.join(timeout=20)
        listening.close()


class DevTools:
    """One page of a headless Chromium, driven over the DevTools protocol (CDP)."""

    def __init__(self, connection: Connection, session: str) -> None:
        self._connection = connection
        self._session = session
        self._ids = itertools.count(1000)
        self.events: list[dict[str, Any]] = []

    @classmethod
    def attach(cls, connection: Connection) -> DevTools:
        browser = cls(connection, "")
        target = browser.send("Target.createTarget", url="about:blank")["targetId"]
        session = browser.send("Target.attachToTarget", targetId=target, flatten=True)
        page = cls(connection, session["sessionId"])
        page.send("Page.enable")
        page.send("Runtime.enable")
        return page

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        number = next(self._ids)
        message: dict[str, Any] = {"id": number, "method": method, "params": params}
        if self._session:
            message["sessionId"] = self._session
        self._connection.send(json.dumps(message))
        while True:
            reply = self._receive(timeout=60)
            if reply.get("id") == number:
                assert "error" not in reply, f"{method}: {reply['error']}"
                result: dict[str, Any] = reply.get("result", {})
                return result

    def wait_for(self, event: str, *, timeout: float = 60) -> dict[str, Any]:
        """The first `event` of this page not yet waited for."""
        deadline = time.monotonic() + timeout
        while True:
            for index, seen in enumerate(self.events):
                if seen["method"] == event:
                    del self.events[: index + 1]
                    return seen
            left = deadline - time.monotonic()
            assert left > 0, f"no {event} within {timeout} s"
            self._receive(timeout=left)

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def open(self, url: str) -> None:
        self._forget("Page.loadEventFired")
        self.send("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")

    def press_enter(self) -> None:
        """Enter in the focused field: the browser submits its form (no script runs)."""
        self._forget("Page.loadEventFired")
        keys = {"key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13}
        self.send("Input.dispatchKeyEvent", type="keyDown", text="\r", **keys)
        self.send("Input.dispatchKeyEvent", type="keyUp", **keys)
        self.wait_for("Page.loadEventFired")

    def dom(self) -> Any:
        """The document as the browser built it, parsed (html5lib)."""
        return html5lib.parse(self.evaluate("document.documentElement.outerHTML"))

    def screenshot(self, path: Path) -> None:
        shot = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))

    def dialogs(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e["method"] == "Page.javascriptDialogOpening"]

    def _forget(self, event: str) -> None:
        self.events = [seen for seen in self.events if seen["method"] != event]

    def _receive(self, *, timeout: float) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(self._connection.recv(timeout=timeout))
        if "method" in message and message.get("sessionId", "") == self._session:
            self.events.append(message)
        return message


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[DevTools]:
    """A headless Chromium with its own profile, and a page in it."""
    assert CHROMIUM is not None
    profile = tmp_path / "profile"
    process = subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-extensions", "--window-size=1280,1000",
         "--remote-debugging-port=0", f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        active = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (active.is_file() and len(active.read_text().splitlines()) >= 2):
            if process.poll() is not None or time.monotonic() > deadline:
                errors = process.stderr.read().decode(errors="replace") if process.stderr else ""
                pytest.fail(f"chromium did not open its DevTools port: {errors[-2000:]}")
            time.sleep(0.1)
        port, path = active.read_text().splitlines()[:2]
        with connect(f"ws://127.0.0.1:{port}{path}", max_size=None, open_timeout=30) as devtools:
            yield DevTools.attach(devtools)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)


def _post_hostile_incident(server: str, ingest_key: str) -> None:
    """An incident of the week on inventory-sync whose text and groups are markup."""
    body = {
        "source": "csv",
        "incidents": [{
            "incident_id": "INC-HOSTILE-1", "opened_at": "2026-11-18T10:00:00Z",
            "resolved_at": "2026-11-18T12:00:00Z", "priority": 2, "ci": "inventory-sync-prod",
            "category": "Application", "assignment_group": HOSTILE_GROUP,
            "short_description": HOSTILE,
        }],
        "history": [
            {"incident_id": "INC-HOSTILE-1", "at": "2026-11-18T10:00:00Z", "assignment_group": "Service Desk"},
            {"incident_id": "INC-HOSTILE-1", "at": "2026-11-18T10:20:00Z", "assignment_group": HOSTILE_GROUP},
        ],
    }  # fmt: skip
    reply = httpx.post(f"{server}/v1/incidents", json=body, headers=bearer(ingest_key), timeout=60)
    assert reply.status_code == 200 and reply.json()["new"] == 1, reply.text


def _cell(row: Any, name: str) -> Any:
    """The <data> of the cell of class `name` in `row` (html5lib element)."""
    for cell in row.iter(f"{NS}td"):
        if name in cell.get("class", "").split():
            found = cell.find(f"{NS}data")
            assert found is not None, f"cell {name} has no <data>"
            return found
    raise AssertionError(f"no cell {name}")


def _text(element: Any) -> str:
    return "".join(element.itertext())


def test_a_person_signs_in_and_reads_the_hotspots(
    server: str, browser: DevTools, keys: dict[str, str]
) -> None:
    _post_hostile_incident(server, keys["ingest"])
    api = httpx.get(f"{server}/v1/hotspots?{WEEK_QUERY}&limit=1000", headers=bearer(keys["read"]),
                    timeout=120).json()["hotspots"]  # fmt: skip

    # Not signed in: the browser lands on the sign-in page, the page it asked for kept.
    browser.open(f"{server}/dashboard?{WEEK_QUERY}")
    assert browser.evaluate("location.pathname") == "/dashboard/sign-in"
    assert "next=" in browser.evaluate("location.search")
    browser.evaluate("document.getElementById('key').focus()")
    browser.send("Input.insertText", text=keys["read"])
    browser.press_enter()
    assert browser.evaluate("location.pathname + location.search") == f"/dashboard?{WEEK_QUERY}"
    # The session cookie is HttpOnly: the page's scripts (were there any) cannot read it.
    assert "impactlens_session" not in browser.evaluate("document.cookie")

    document = browser.dom()
    assert _text(document.find(f".//{NS}h1")) == f"Escalation hotspots, week {WEEK}"
    rows = {row.get("data-key"): row for row in document.iter(f"{NS}tr") if row.get("data-key")}
    assert list(rows) == [hotspot["key"] for hotspot in api]
    top = api[0]
    assert top["key"] == "inventory-sync"
    link = rows[top["key"]].find(f".//{NS}a")
    assert link is not None and _text(link) == top["key"]
    for name in ("incidents", "escalated", "reached_l3", "repeats", "repeat_impact"):
        shown = _cell(rows[top["key"]], name)
        assert float(shown.get("value")) == top[name], name
        assert shown.text == f"{top[name]:,.0f}", name
    # The stylesheet and the layout loaded: the dark header bar is drawn.
    header = "getComputedStyle(document.querySelector('header.top')).backgroundColor"
    assert browser.evaluate(header) == "rgb(29, 39, 51)"
    browser.screenshot(ARTEFACT)
    assert ARTEFACT.stat().st_size > 20_000

    # Follow the link to the hotspot: its graph is drawn, the hostile incident is text.
    href = link.get("href")
    browser.open(server + href)
    detail = httpx.get(f"{server}/v1/hotspots/inventory-sync?{WEEK_QUERY}",
                       headers=bearer(keys["read"]), timeout=120).json()  # fmt: skip
    document = browser.dom()
    figures = {name: _cell(document.find(f".//{NS}table[@id='figures']"), name)
               for name in ("incidents", "escalated", "reached_l3")}  # fmt: skip
    for name, shown in figures.items():
        assert float(shown.get("value")) == detail["hotspot"][name], name
    width = browser.evaluate("document.querySelector('svg.handoff-graph').getBBox().width")
    assert width > 300
    labels = browser.evaluate(
        "[...document.querySelectorAll('svg.handoff-graph g.group title')].map(t => t.textContent)"
    )
    assert HOSTILE_GROUP in labels
    _assert_inert(browser)
    descriptions = browser.evaluate(
        "[...document.querySelectorAll('#incident-list .description')].map(d => d.textContent)"
    )
    assert HOSTILE in descriptions

    # The hostile incident's own page: the description is text in the DOM Chromium built.
    browser.open(
        f"{server}/dashboard/incidents/csv/{quote('INC-HOSTILE-1')}?as_of={quote(AS_OF_TEXT)}"
    )
    assert browser.evaluate("document.querySelector('p.description').textContent") == HOSTILE
    _assert_inert(browser)
    incident = httpx.get(f"{server}/v1/incidents/csv/INC-HOSTILE-1?as_of={quote(AS_OF_TEXT)}",
                         headers=bearer(keys["read"]), timeout=60).json()["incident"]  # fmt: skip
    score = browser.evaluate("document.querySelector('#impact .impact_score data').value")
    assert float(score) == incident["impact_score"]

    # The week's report renders inside the dashboard (its frame holds the report's title).
    browser.open(f"{server}/dashboard/report?{WEEK_QUERY}")
    tree = browser.send("DOM.getDocument", depth=-1, pierce=True)
    assert f"Impact report, week {WEEK}" in json.dumps(tree)


def _assert_inert(browser: DevTools) -> None:
    """No script ran and no element came out of incident text."""
    assert browser.dialogs() == []
    assert browser.evaluate("document.scripts.length") == 0
    assert browser.evaluate("document.querySelectorAll('img').length") == 0
    assert browser.evaluate("document.querySelectorAll('main b').length") == 0
