"""docs/api.md as a user follows it: every ``sh`` block, in order, in one bash session,
against a real ``impactlens serve`` over the fixture store; and every operation of the
OpenAPI document has its section there.

The blocks run with curl, openssl and jq, as a user's shell has them; where one is
missing the test skips and names it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from serving import Server, environment, free_port

from conftest import REPO

DOC = REPO / "docs" / "api.md"
DOCUMENTED_URL = "http://127.0.0.1:8000"
PAGERDUTY_SECRET = "docs-pagerduty-secret"
JIRA_SECRET = "docs-jira-secret"
MARK = "::block {}::"


def sh_blocks(text: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", text, re.S)


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory, fixture_db: Path) -> list[str]:
    """What each ``sh`` block of the doc printed, run in order in one bash session."""
    missing = [tool for tool in ("bash", "curl", "openssl", "jq") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"the doc's examples need {', '.join(missing)}, not installed here")
    folder = tmp_path_factory.mktemp("docs-server")
    data = folder / "data"
    data.mkdir()
    shutil.copyfile(fixture_db, data / "impactlens.db")
    server = Server(
        data, port=free_port(), log=folder / "server.log",
        IMPACTLENS_PAGERDUTY_WEBHOOK_SECRETS=json.dumps([PAGERDUTY_SECRET]),
        IMPACTLENS_JIRA_WEBHOOK_SECRET=JIRA_SECRET,
    )  # fmt: skip
    try:
        server.wait_until_healthy()
        blocks = sh_blocks(DOC.read_text(encoding="utf-8"))
        script = "set -euo pipefail\n" + "".join(
            f"echo '{MARK.format(number)}'\n{block.replace(DOCUMENTED_URL, server.url)}\n"
            for number, block in enumerate(blocks)
        )
        env = environment(data, PAGERDUTY_SECRET=PAGERDUTY_SECRET, JIRA_SECRET=JIRA_SECRET)
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        done = subprocess.run(
            ["bash", "-c", script], cwd=REPO, env=env, capture_output=True, text=True,
            timeout=300,
        )  # fmt: skip
    finally:
        server.stop()
    printed = re.split(r"::block \d+::\n", done.stdout)[1:]
    assert done.returncode == 0, (
        f"block {len(printed) - 1} of docs/api.md failed:\n"
        f"{blocks[len(printed) - 1]}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    assert len(printed) == len(blocks)
    return printed


def block_printing(outputs: list[str], needle: str) -> str:
    """The output of the one block whose command holds `needle`."""
    blocks = sh_blocks(DOC.read_text(encoding="utf-8"))
    (index,) = [number for number, block in enumerate(blocks) if needle in block]
    return outputs[index]


def test_every_example_runs(outputs: list[str]) -> None:
    """`outputs` holds one output per block only when every block ran and exited 0."""
    assert len(outputs) == len(sh_blocks(DOC.read_text(encoding="utf-8"))) >= 20


def test_the_examples_answer_what_the_doc_says(outputs: list[str]) -> None:
    unauthorised = block_printing(outputs, "grep -i -e '^HTTP'")
    assert unauthorised.splitlines()[0].startswith("HTTP/1.1 401")
    assert unauthorised.lower().splitlines()[1].startswith("www-authenticate: bearer")
    too_many = json.loads(block_printing(outputs, "limit=5000"))
    assert too_many["status"] == 422
    assert too_many["errors"][0]["place"] == "query.limit"

    pushed = json.loads(block_printing(outputs, '"source": "itsm"'))
    assert (pushed["new"], pushed["quarantined"]) == (1, 1)
    assert pushed["quarantined_records"][0]["index"] == 1
    read = json.loads(block_printing(outputs, "/v1/incidents/itsm/INC0099001"))
    assert read["incident"]["service_id"] == "payments-api"
    assert read["incident"]["explanation"] == (
        "payments-api -> cart-checkout -> web-shop -> order-to-cash"
    )
    assert read["suggested_priority"] == 1

    hotspots = json.loads(block_printing(outputs, "hotspots?week=2026-W47&limit=2"))
    assert [row["key"] for row in hotspots["hotspots"]] == ["inventory-sync", "shipping-labels"]
    assert block_printing(outputs, "Accept: text/markdown").startswith(
        "# Impact report, week 2026-W47"
    )

    refused_map = block_printing(outputs, "services: [{id: web}]").split()
    assert refused_map[0] == "422"
    assert "business_processes" in refused_map

    for needle, source in (("webhooks/servicenow", "servicenow"),
                           ("webhooks/pagerduty", "pagerduty"), ("webhooks/jira", "jira")):  # fmt: skip
        reply = json.loads(block_printing(outputs, needle))
        assert (reply["new"], reply["quarantined"]) == (1, 0), (source, reply)

    ingested = block_printing(outputs, "impactlens_incidents_ingested_total")
    assert 'impactlens_incidents_ingested_total{source="itsm"} 1.0' in ingested


def test_every_operation_has_its_section(client: TestClient) -> None:
    """Each operation of /openapi.json is a heading of docs/api.md (path parameters
    may have other names there)."""
    text = DOC.read_text(encoding="utf-8")
    headings = {
        re.sub(r"\{[^}]*\}", "{}", match.split("?")[0].split("[")[0])
        for match in re.findall(r"^### `([A-Z]+ [^`]+)`", text, re.M)
    }
    bullets = set(re.findall(r"^- `(GET /[a-z]+)`", text, re.M))
    paths = client.get("/openapi.json").json()["paths"]
    operations = {
        f"{method.upper()} {re.sub(r'{[^}]*}', '{}', path)}"
        for path, methods in paths.items()
        for method in methods
    }
    assert operations - headings - bullets == set()
