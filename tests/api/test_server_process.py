"""``impactlens serve`` as it runs in production: a real uvicorn process on 127.0.0.1.

Keys are made with ``impactlens keys create``, the server is started with ``impactlens
serve`` on a free port over its own data folder, and spoken to over HTTP. A 2xx to a
push means the incidents are stored: the process is killed with SIGKILL right after one,
restarted on the same folder, and the incident read back. A server that cannot open its
map or its store stops with one message and exit code 2 before it listens.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest
from serving import (
    COMMAND_SECONDS,
    IMPACTLENS,
    Server,
    create_key,
    environment,
    free_port,
    listening,
)

from conftest import AS_OF_TEXT, MAP, bearer

INCIDENT = {
    "incident_id": "INC0012345",
    "opened_at": "2026-11-16T09:12:00Z",
    "resolved_at": "2026-11-16T11:40:00Z",
    "updated_at": "2026-11-16T11:45:00Z",
    "priority": 2,
    "ci": "PAYAPI01",
    "category": "Payments",
    "assignment_group": "Payments Ops",
    "short_description": "Card payments time out",
}


@pytest.fixture(scope="module")
def keyed_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A data folder whose store holds one ingest key, made by ``impactlens keys create``
    (once: each test serves a copy of the folder)."""
    folder = tmp_path_factory.mktemp("keyed")
    return folder, create_key(folder, "ingest", "servicenow-prod")


@pytest.fixture
def data_dir(tmp_path: Path, keyed_store: tuple[Path, str]) -> Path:
    """This test's data folder: a copy of `keyed_store`'s."""
    folder = tmp_path / "data"
    shutil.copytree(keyed_store[0], folder)
    return folder


@pytest.fixture
def key(keyed_store: tuple[Path, str]) -> str:
    return keyed_store[1]


@pytest.fixture
def serve(data_dir: Path, tmp_path: Path) -> Iterator[Callable[[], Server]]:
    """Start servers over `data_dir`, each healthy before it is returned; all are
    stopped (terminated, else killed) at the end, whatever happened."""
    started: list[Server] = []

    def start() -> Server:
        server = Server(data_dir, port=free_port(), log=tmp_path / f"server-{len(started)}.log")
        started.append(server)
        server.wait_until_healthy()
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()


def test_an_acknowledged_incident_survives_sigkill(key: str, serve: Callable[[], Server]) -> None:
    server = serve()
    assert Path(f"/proc/{server.process.pid}/cmdline").read_bytes().find(b"serve") > 0
    reply = httpx.post(f"{server.url}/v1/incidents", headers=bearer(key), timeout=30,
                       json={"source": "itsm", "incidents": [INCIDENT]})  # fmt: skip
    os.kill(server.process.pid, signal.SIGKILL)  # at once: no shutdown, no flush
    assert reply.status_code == 200, reply.text
    assert reply.json()["new"] == 1
    assert server.process.wait(timeout=10) == -signal.SIGKILL

    again = serve()
    found = httpx.get(f"{again.url}/v1/incidents/itsm/INC0012345", headers=bearer(key),
                      params={"as_of": AS_OF_TEXT}, timeout=30)  # fmt: skip
    assert found.status_code == 200, found.text
    body = found.json()
    incident = body["incident"]
    assert (incident["source"], incident["incident_id"]) == ("itsm", "INC0012345")
    assert incident["opened_at"] == "2026-11-16T09:12:00+00:00"
    assert incident["resolved_at"] == "2026-11-16T11:40:00+00:00"
    assert incident["priority"] == 2
    assert incident["ci"] == "PAYAPI01"
    assert incident["service_id"] == "payments-api"  # placed by the map at ingest
    assert incident["assignment_group"] == "Payments Ops"
    assert incident["short_description"] == "Card payments time out"
    assert body["as_of"] == "2026-11-23T00:00:00+00:00"
    assert "order-to-cash" in {process["process_id"] for process in body["processes"]}


def test_keys_health_openapi_and_metrics(key: str, serve: Callable[[], Server]) -> None:
    server = serve()
    with httpx.Client(base_url=server.url, timeout=30) as client:
        anonymous = client.get("/v1/service-map")
        assert anonymous.status_code == 401
        assert anonymous.headers["content-type"] == "application/problem+json"
        assert anonymous.headers["www-authenticate"].startswith("Bearer")
        assert client.get("/v1/service-map", headers=bearer("il_not-a-key")).status_code == 401
        assert client.get("/v1/service-map", headers=bearer(key)).status_code == 200

        document = client.get("/openapi.json")
        assert document.status_code == 200
        openapi = document.json()
        assert openapi["info"]["title"] == "impactlens"
        assert {"/v1/incidents", "/v1/hotspots", "/healthz"} <= set(openapi["paths"])

        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["status"] == "ready"
        assert ready.json()["checks"]["store"] == "ok"

        metrics = client.get("/metrics")
        assert metrics.status_code == 200
        assert metrics.headers["content-type"].startswith("text/plain")
        # The requests above, counted by route template and status.
        assert re.search(
            r'impactlens_http_requests_total\{method="GET",route="/v1/service-map",status="401"\} 2\.0',
            metrics.text,
        ), metrics.text


class Refusal(NamedTuple):
    returncode: int
    stderr: str
    listened: bool


REFUSALS: dict[str, Callable[[Path], tuple[list[str], dict[str, str]]]] = {
    "missing map": lambda folder: (["--map", str(folder / "nowhere.yaml")], {}),
    "invalid map": lambda folder: (["--map", str(folder / "bad.yaml")], {}),
    "database is a folder": lambda folder: (
        ["--map", str(MAP)],
        {"IMPACTLENS_DATABASE_URL": f"sqlite:///{folder}"},
    ),
    "unknown database scheme": lambda folder: (
        ["--map", str(MAP)],
        {"IMPACTLENS_DATABASE_URL": "nosuch://x"},
    ),
}


@pytest.fixture(scope="module")
def refusals(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Refusal]]:
    """Each of `REFUSALS` run as ``impactlens serve`` in a folder of its own, all at once
    (each takes seconds to import); with how it ended."""
    running = {}
    for name, arguments in REFUSALS.items():
        folder = tmp_path_factory.mktemp(name.replace(" ", "-"))
        (folder / "bad.yaml").write_text("services: [\n")
        args, settings = arguments(folder)
        port = free_port()
        process = subprocess.Popen(
            [*IMPACTLENS, "serve", "--host", "127.0.0.1", "--port", str(port), *args],
            env=environment(folder, **settings), cwd=folder, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        running[name] = (folder, port, process)
    ended = {}
    for name, (folder, port, process) in running.items():
        try:
            _, stderr = process.communicate(timeout=COMMAND_SECONDS)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        ended[name] = (folder, Refusal(process.returncode, stderr, listening(port)))
    return ended


def refused(refusals: dict[str, tuple[Path, Refusal]], name: str) -> tuple[Path, list[str]]:
    """The folder and stderr lines of a start that must stop before listening."""
    folder, refusal = refusals[name]
    assert refusal.returncode == 2, refusal
    assert "Traceback" not in refusal.stderr
    assert "impactlens API on" not in refusal.stderr  # printed just before listening
    assert not refusal.listened
    return folder, refusal.stderr.strip().splitlines()


def test_a_missing_map_stops_serve_with_one_line(refusals: dict[str, tuple[Path, Refusal]]) -> None:
    folder, lines = refused(refusals, "missing map")
    assert lines == [f"error: service map {folder / 'nowhere.yaml'}: no such file"]


def test_an_invalid_map_stops_serve_with_its_errors(
    refusals: dict[str, tuple[Path, Refusal]],
) -> None:
    folder, lines = refused(refusals, "invalid map")
    # One line saying what is wrong, then each error in the map, indented, with its place.
    assert lines[0] == f"error: service map in {folder / 'bad.yaml'} is invalid (1 error):"
    assert len(lines) == 2
    assert lines[1].startswith("  line 2, column 1: not valid YAML")


def test_a_bad_database_url_stops_serve_with_one_line(
    refusals: dict[str, tuple[Path, Refusal]],
) -> None:
    folder, lines = refused(refusals, "database is a folder")
    assert lines == [f"error: database {folder} is a folder, not a SQLite database file"]
    _, lines = refused(refusals, "unknown database scheme")
    assert len(lines) == 1
    assert lines[0].startswith("error: database nosuch://x: impactlens stores incidents in SQLite")
