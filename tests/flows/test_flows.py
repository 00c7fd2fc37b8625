"""One smoke test per flow, run through a real (temporary) Prefect server.

Each checks what the flow's users see: the run's state and name in Prefect's database,
its artifact, the archive it wrote, the incidents it stored, the mail it sent; and that
its figures are the library's (an independent `analysis.review` of the same fixtures).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from aiosmtpd.controller import Controller
from fakes.servicenow import PASSWORD, USER, FakeInstance, running_instance
from impactlens.engine.impact import build_impact_model
from impactlens.ingest.servicenow_api import watermark_name
from impactlens.service_map.load import load_service_map

from impactlens.analysis import read_csv, review
from impactlens.settings import get_settings

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
AS_OF = "2026-11-23T00:00:00Z"


@pytest.fixture
def place(tmp_path) -> dict[str, Any]:
    """Flow parameters that keep the run's store and archive in `tmp_path`."""
    return {
        "database_url": f"sqlite:///{tmp_path / 'impactlens.db'}",
        "reports_dir": str(tmp_path / "reports"),
        "service_map": str(FIXTURES / "service_map.yaml"),
        "settings": {"data_dir": str(tmp_path)},
    }


def fixture_export() -> dict[str, Any]:
    return {
        "export": str(FIXTURES / "incidents.csv"),
        "history": str(FIXTURES / "assignment_history.csv"),
    }


def read_run(state) -> Any:
    from prefect import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(state.state_details.flow_run_id)


def read_artifact(key: str) -> Any:
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
        )
    return found


def independent_review(**period: str):
    model = build_impact_model(load_service_map(FIXTURES / "service_map.yaml"))
    read = read_csv(FIXTURES / "incidents.csv", history=FIXTURES / "assignment_history.csv")
    settings = get_settings().review_settings()
    return review(model, settings=settings, as_of=pd.Timestamp(AS_OF), incidents=read, **period)


def test_the_weekly_flow_archives_the_report_of_its_week_with_the_library_figures(
    prefect_server, place, tmp_path
):
    from impactlens.flows.report import weekly_impact_report

    state = weekly_impact_report(
        week="2026-W47", as_of=AS_OF, **fixture_export(), **place, return_state=True
    )
    assert state.is_completed(), state.message
    run = read_run(state)
    assert run.name == "weekly-impact-report-2026-W47"
    assert run.state.is_completed()

    result = state.result()
    folder = tmp_path / "reports" / "2026-W47"
    assert result["directory"] == str(folder)
    names = {path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()}
    assert {"report.html", "report.md", "review.json", "map_version.txt", "csv/kpis.csv",
            "csv/hotspots.csv"} <= names  # fmt: skip

    expected = independent_review(week="2026-W47")
    document = json.loads((folder / "review.json").read_text(encoding="utf-8"))
    assert document["period"]["label"] == "2026-W47"
    assert document["map_version"] == expected.map_version
    assert (folder / "map_version.txt").read_text().strip() == expected.map_version
    assert [row["key"] for row in document["hotspots"]] == expected.hotspots["key"].tolist()
    assert [row["flag"] for row in document["hotspots"]] == expected.hotspots["flag"].tolist()
    minutes = expected.kpis[
        (expected.kpis["kpi"] == "business_minutes_lost") & (expected.kpis["subject"] == "all")
    ]["value"].iloc[0]
    stored = [
        row["value"]
        for row in document["kpis"]
        if row["kpi"] == "business_minutes_lost" and row["subject"] == "all"
    ]
    assert stored == [pytest.approx(minutes)]
    assert result["incidents"] == expected.coverage.incidents
    assert result["hotspots_flagged"] == int((expected.hotspots["flag"] != "").sum())
    assert [row["key"] for row in result["top_hotspots"]] == expected.hotspots["key"].head(
        5
    ).tolist()

    (artifact,) = read_artifact("weekly-impact-report")
    assert (folder / "report.html").as_uri() in artifact.data
    assert f"{minutes:,.0f}" in artifact.data  # the headline's business minutes lost

    # Re-running the week replaces its archive: a stray file does not survive.
    (folder / "stray.txt").write_text("old", encoding="utf-8")
    again = weekly_impact_report(week="2026-W47", as_of=AS_OF, **place, return_state=True)
    assert again.is_completed(), again.message
    assert not (folder / "stray.txt").exists()
    assert json.loads((folder / "review.json").read_text())["hotspots"] == document["hotspots"]


def test_the_weekly_flow_names_its_run_after_the_default_week(prefect_server, place):
    from impactlens.flows.report import weekly_impact_report

    # Monday 2026-11-30 07:00 UTC: last week is 2026-W48; the fixtures have none of it.
    state = weekly_impact_report(as_of="2026-11-30T07:00:00Z", **place, return_state=True)
    assert state.is_completed(), state.message
    assert read_run(state).name == "weekly-impact-report-2026-W48"
    result = state.result()
    assert result["period"] == "2026-W48"
    assert result["incidents"] == 0
    assert result["top_hotspots"] == []


def test_the_monthly_flow_reviews_a_calendar_month(prefect_server, place, tmp_path):
    from impactlens.flows.report import monthly_impact_report

    state = monthly_impact_report(
        month="2026-10", as_of=AS_OF, **fixture_export(), formats=["json"], **place,
        return_state=True,
    )  # fmt: skip
    assert state.is_completed(), state.message
    assert read_run(state).name == "monthly-impact-report-2026-10"
    document = json.loads((tmp_path / "reports" / "2026-10" / "review.json").read_text())
    expected = independent_review(month="2026-10")
    assert document["period"]["kind"] == "month"
    assert document["period"]["start"] == "2026-10-01T00:00:00+00:00"
    assert [row["key"] for row in document["hotspots"]] == expected.hotspots["key"].tolist()
    assert state.result()["incidents"] == expected.coverage.incidents


def test_the_ingest_flow_stores_an_export_once(prefect_server, place):
    from impactlens.flows.ingest import ingest_export
    from impactlens.store import Store

    parameters = {
        "path": str(FIXTURES / "incidents.csv"),
        "format": "csv",
        "history": str(FIXTURES / "assignment_history.csv"),
        "database_url": place["database_url"],
        "settings": place["settings"],
    }
    first = ingest_export(**parameters, return_state=True)
    assert first.is_completed(), first.message
    assert read_run(first).name == "ingest-csv"
    report = first.result()
    valid = len(read_csv(FIXTURES / "incidents.csv").incidents)
    assert (report.new, report.updated, report.unchanged) == (valid, 0, 0)
    second = ingest_export(**parameters).unchanged
    assert second == valid
    with Store.open(place["database_url"]) as store:
        assert len(store.load_incidents()) == valid


@pytest.fixture
def servicenow() -> Iterator[FakeInstance]:
    with running_instance() as instance:
        yield instance


def test_the_servicenow_flow_pulls_the_table_into_the_store(prefect_server, place, servicenow,
                                                            monkeypatch):  # fmt: skip
    from impactlens.flows.ingest import pull_servicenow
    from impactlens.store import Store

    monkeypatch.setenv("IMPACTLENS_SERVICENOW_USER", USER)
    monkeypatch.setenv("IMPACTLENS_SERVICENOW_PASSWORD", PASSWORD)  # from the environment only
    state = pull_servicenow(
        instance=servicenow.url,
        database_url=place["database_url"],
        settings={**place["settings"], "servicenow_page_size": 10},
        return_state=True,
    )
    assert state.is_completed(), state.message
    table = servicenow.tables["incident"]
    assert state.result().new == len(table)
    with Store.open(place["database_url"]) as store:
        assert len(store.load_incidents(source="servicenow")) == len(table)
        assert store.get_watermark("servicenow", watermark_name(servicenow.url)) == max(
            f"{row['sys_updated_on'].replace(' ', 'T')}Z" for row in table
        )
    assert PASSWORD not in json.dumps(read_run(state).parameters)


class Sink:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append(envelope.content)
        return "250 OK"


def test_the_weekly_flow_mails_the_report_when_delivery_is_configured(prefect_server, place):
    import email
    import email.policy

    from impactlens.flows.report import weekly_impact_report

    sink = Sink()
    with socket.socket() as probe:  # a free port: aiosmtpd cannot take port 0
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        state = weekly_impact_report(
            week="2026-W47", as_of=AS_OF, **fixture_export(), **{**place, "settings": {
                **place["settings"], "smtp_host": "127.0.0.1", "smtp_port": port,
                "smtp_starttls": False, "smtp_from": "impactlens@example.org",
                "smtp_to": ["lead@example.org"]}},
            return_state=True,
        )  # fmt: skip
    finally:
        controller.stop()
    assert state.is_completed(), state.message
    (raw,) = sink.messages
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Subject"] == "Impact report, week 2026-W47"
    assert message["To"] == "lead@example.org"
    attached = [part.get_filename() for part in message.iter_attachments()]
    assert attached == ["report.html"]


def test_asking_for_delivery_without_a_mail_server_fails_the_run_with_the_reason(
    prefect_server, place
):
    from impactlens.flows.report import weekly_impact_report

    state = weekly_impact_report(
        week="2026-W47", as_of=AS_OF, deliver=True, **place, return_state=True
    )
    assert state.is_failed()
    assert "no mail delivery is configured" in str(state.result(raise_on_failure=False))


def test_only_io_failures_are_retried():
    from impactlens.flows.tasks import retry_on_io
    from prefect.states import Failed

    from impactlens.errors import DeliveryError, DeliveryUnreachableError, InputFileError

    def retried(error: Exception) -> bool:
        return retry_on_io(None, None, Failed(data=error))  # type: ignore[arg-type]

    assert retried(DeliveryUnreachableError("cannot reach mail server x:25"))
    assert retried(ConnectionResetError("reset"))
    assert not retried(DeliveryError("mail server x:25 refused every recipient"))
    assert not retried(InputFileError("no such file"))


def test_flows_serve_registers_the_report_schedules_in_the_settings_time_zone(
    prefect_server, tmp_path
):
    from prefect import get_client
    from prefect.exceptions import ObjectNotFound

    environment = {
        **os.environ,
        "PREFECT_API_URL": prefect_server,
        "IMPACTLENS_TIMEZONE": "Europe/Berlin",
        "IMPACTLENS_DATA_DIR": str(tmp_path),
    }
    serving = subprocess.Popen(
        [sys.executable, "-m", "impactlens.cli", "flows", "serve"],
        cwd=tmp_path, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        found: dict[str, Any] = {}
        deadline = time.monotonic() + 90
        with get_client(sync_client=True) as client:
            while time.monotonic() < deadline and len(found) < 2:
                for name in ("weekly-impact-report/weekly", "monthly-impact-report/monthly"):
                    with contextlib.suppress(ObjectNotFound):  # not registered yet
                        found[name] = client.read_deployment_by_name(name)
                if serving.poll() is not None:
                    break
                time.sleep(0.5)
        assert len(found) == 2, serving.stdout.read().decode() if serving.poll() else "timeout"
    finally:
        os.killpg(serving.pid, signal.SIGINT)
        try:
            serving.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(serving.pid, signal.SIGKILL)
            serving.wait()
    (weekly,) = found["weekly-impact-report/weekly"].schedules
    assert weekly.schedule.cron == "0 7 * * 1"
    assert weekly.schedule.timezone == "Europe/Berlin"
    (monthly,) = found["monthly-impact-report/monthly"].schedules
    assert monthly.schedule.cron == "0 7 1-7 * 1"
    assert monthly.schedule.day_or is False
    assert monthly.schedule.timezone == "Europe/Berlin"
