"""A fake ServiceNow instance: a real HTTP server on 127.0.0.1 speaking the Table API.

It serves a table of 25 incidents: ``sysparm_query`` (``>=``, ``>``, ``<=``, ``=``,
``IN`` conditions joined by ``^``, and ``ORDERBY``), ``sysparm_limit``/``sysparm_offset``,
``sysparm_display_value`` (true/false/all; date-time display values in the API user's
zone, Europe/Berlin, and format ``dd/MM/yyyy``), ``sysparm_fields``,
``sysparm_exclude_reference_link``, the ``X-Total-Count`` and ``Link`` headers, Basic and
Bearer authentication (401 otherwise), ``sys_audit`` and ``sys_user_group``. Faults are
queued per request: a status with headers, or a dropped connection. Shared by the
connector's tests and the flow tests (``from fakes.servicenow import ...``).
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit
from zoneinfo import ZoneInfo

import pandas as pd

USER, PASSWORD, TOKEN = "api.reader", "pa55-w0rd!x", "oauth-token-42"
NOW = pd.Timestamp("2026-11-30T00:00:00Z")
GROUPS = {
    "a1" * 16: "Service Desk",
    "b2" * 16: "Payments Ops",
    "c3" * 16: "Payments Dev",
    "d4" * 16: "Network 2nd line",  # a former group: no incident holds it now
}
DESK, OPS, DEV, NETWORK = GROUPS
BERLIN = ZoneInfo("Europe/Berlin")
PRIORITIES = {"1": "1 - Critical", "2": "2 - High", "3": "3 - Moderate", "4": "4 - Low"}
STATES = {"2": "In Progress", "6": "Resolved"}
REFERENCES = {"assignment_group": "sys_user_group"}
DATE_TIMES = ("opened_at", "resolved_at", "sys_updated_on", "sys_created_on")


def glide(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def make_incidents() -> list[dict[str, str]]:
    """25 incidents, updated 10 minutes apart from 2026-11-02 08:00 UTC, in raw values."""
    base = datetime(2026, 11, 2, 8, 0, 0)
    incidents = []
    for number in range(1, 26):
        opened = base + timedelta(minutes=10 * (number - 1))
        incidents.append(
            {
                "sys_id": f"{number:032x}",
                "number": f"INC00100{number:02d}",
                "opened_at": glide(opened - timedelta(hours=1)),
                "resolved_at": glide(opened) if number % 3 else "",
                "sys_updated_on": glide(opened),
                "state": "6" if number % 3 else "2",
                "priority": str(1 + number % 4),
                "assignment_group": (DESK, OPS, DEV)[number % 3],
                "category": "software",
                "short_description": f"Incident {number}",
            }
        )
    return incidents


def make_audits() -> list[dict[str, str]]:
    """assignment_group changes of INC0010003 (inserted with ops, to dev, to the desk) and
    INC0010005 (from the former network group to dev; its insert not audited)."""
    three, five = f"{3:032x}", f"{5:032x}"
    rows = [
        (three, "", OPS, "2026-11-02 07:20:00", "0"),
        (three, OPS, DEV, "2026-11-02 07:35:00", "2"),
        (three, DEV, DESK, "2026-11-02 08:20:00", "3"),
        (five, NETWORK, DEV, "2026-11-02 08:10:00", "1"),
    ]
    return [
        {
            "sys_id": f"{index:032x}",
            "tablename": "incident",
            "fieldname": "assignment_group",
            "documentkey": key,
            "oldvalue": old,
            "newvalue": new,
            "sys_created_on": at,
            "record_checkpoint": checkpoint,
        }
        for index, (key, old, new, at, checkpoint) in enumerate(rows, start=100)
    ]


class FakeInstance:
    """The state of the fake instance: its tables, the requests seen, the faults to give."""

    def __init__(self) -> None:
        self.tables: dict[str, list[dict[str, str]]] = {
            "incident": make_incidents(),
            "sys_audit": make_audits(),
            "sys_user_group": [{"sys_id": k, "name": v} for k, v in GROUPS.items()],
        }
        self.forbidden: set[str] = set()
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.faults: dict[int, tuple[int | str, dict[str, str]]] = {}  # request number ->
        self.after: dict[int, Callable[[FakeInstance], None]] = {}  # run after serving it
        self.lock = threading.Lock()
        self.url = ""

    def incident_requests(self) -> list[dict[str, str]]:
        return [params for table, params in self.requests if table == "incident"]

    def update(self, number: str, **fields: str) -> None:
        (row,) = [r for r in self.tables["incident"] if r["number"] == number]
        row.update(fields)

    # --- answering ------------------------------------------------------------------

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        table = parts.path.removeprefix("/api/now/table/")
        with self.lock:
            self.requests.append((table, params))
            number = len(self.requests)
            fault = self.faults.get(number)
            if fault is not None:
                status, headers = fault
                if status == "drop":
                    handler.close_connection = True
                    handler.connection.close()
                    return
                body = {"error": {"message": "Injected fault", "detail": None}, "status": "failure"}
                send(handler, int(status), body, headers)
                return
            if not self.authorised(handler.headers.get("Authorization", "")):
                body = {
                    "error": {
                        "message": "User Not Authenticated",
                        "detail": "Required to provide Auth information",
                    },
                    "status": "failure",
                }
                send(handler, 401, body, {"WWW-Authenticate": 'Basic realm="Service-now"'})
                return
            if table in self.forbidden:
                body = {
                    "error": {"message": "User Not Authorized", "detail": "ACL Exception"},
                    "status": "failure",
                }
                send(handler, 403, body, {})
                return
            if table not in self.tables:
                send(handler, 400, {"error": {"message": "Invalid table " + table}}, {})
                return
            try:
                rows = select(self.tables[table], params.get("sysparm_query", ""))
            except ValueError as error:
                send(handler, 400, {"error": {"message": str(error)}, "status": "failure"}, {})
                return
            limit = int(params.get("sysparm_limit", "10000"))
            offset = int(params.get("sysparm_offset", "0"))
            page = [self.shown(row, table, params) for row in rows[offset : offset + limit]]
            headers = {
                "X-Total-Count": str(len(rows)),
                "Link": links(self.url, table, params, len(rows)),
            }
            send(handler, 200, {"result": page}, headers)
            hook = self.after.get(number)
            if hook is not None:
                hook(self)

    def authorised(self, header: str) -> bool:
        basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        return header in (f"Basic {basic}", f"Bearer {TOKEN}")

    def shown(self, row: dict[str, str], table: str, params: dict[str, str]) -> dict[str, Any]:
        mode = params.get("sysparm_display_value", "false")
        links = params.get("sysparm_exclude_reference_link", "false") != "true"
        fields = params.get("sysparm_fields")
        names = fields.split(",") if fields else list(row)
        shown: dict[str, Any] = {}
        for name in names:
            if name not in row:
                continue  # invalid fields are ignored
            value, display = row[name], display_value(name, row[name])
            reference = REFERENCES.get(name) if table == "incident" else None
            if mode == "true":
                shown[name] = display
            elif mode == "all":
                shown[name] = {"display_value": display, "value": value}
            else:
                shown[name] = value
            if reference and value and links and mode != "true":
                link = f"{self.url}/api/now/table/{reference}/{value}"
                shown[name] = {
                    **({"value": value} if mode == "false" else shown[name]),
                    "link": link,
                }
        return shown


def display_value(name: str, value: str) -> str:
    if not value:
        return ""
    if name in DATE_TIMES:  # the API user's zone and format
        moment = datetime.fromisoformat(value + "+00:00").astimezone(BERLIN)
        return moment.strftime("%d/%m/%Y %H:%M:%S")
    if name == "priority":
        return PRIORITIES[value]
    if name == "state":
        return STATES[value]
    if name == "assignment_group":
        return GROUPS[value]
    return value


def select(rows: list[dict[str, str]], query: str) -> list[dict[str, str]]:
    """The rows an encoded query selects, in its order (ServiceNow's default: as stored)."""
    conditions, order = [], []
    for part in filter(None, query.split("^")):
        if part.startswith("ORDERBY"):
            order.append(part.removeprefix("ORDERBY"))
            continue
        for operator in (">=", "<=", ">", "IN", "="):
            field, found, value = part.partition(operator)
            if found and field.isidentifier():
                conditions.append((field, operator, value))
                break
        else:
            raise ValueError(f"cannot read the condition {part!r}")
    tests = {
        ">=": lambda a, b: a >= b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        "=": lambda a, b: a == b,
        "IN": lambda a, b: a in b.split(","),
    }
    chosen = [r for r in rows if all(tests[op](r.get(f, ""), v) for f, op, v in conditions)]
    for field in reversed(order):
        chosen.sort(key=lambda row, field=field: row.get(field, ""))
    return chosen


def links(base: str, table: str, params: dict[str, str], total: int) -> str:
    limit = int(params.get("sysparm_limit", "10000"))
    offset = int(params.get("sysparm_offset", "0"))
    pages = {"first": 0, "last": max(0, (total - 1) // limit * limit)}
    if offset + limit < total:
        pages["next"] = offset + limit
    if offset > 0:
        pages["prev"] = max(0, offset - limit)
    parts = []
    for rel, at in pages.items():
        query = urlencode({**params, "sysparm_offset": at})
        parts.append(f'<{base}/api/now/table/{table}?{query}>;rel="{rel}"')
    return ",".join(parts)


def send(handler: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str]) -> None:
    data = json.dumps(body).encode()
    handler.send_response(status)  # also sends Date
    handler.send_header("Content-Type", "application/json;charset=UTF-8")
    handler.send_header("Content-Length", str(len(data)))
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(data)


@contextmanager
def running_instance() -> Iterator[FakeInstance]:
    """A fake ServiceNow instance listening on 127.0.0.1 (a free port)."""
    state = FakeInstance()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            state.answer(self)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
