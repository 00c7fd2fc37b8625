"""Pulling incidents from ServiceNow's Table API, against a real HTTP server on 127.0.0.1.

The server (`FakeInstance`) speaks the documented Table API over a table of 25 incidents:
``sysparm_query`` (``>=``, ``>``, ``<=``, ``=``, ``IN`` conditions joined by ``^``, and
``ORDERBY``), ``sysparm_limit``/``sysparm_offset``, ``sysparm_display_value``
(true/false/all; date-time display values in the API user's zone, Europe/Berlin, and
format ``dd/MM/yyyy``), ``sysparm_fields``, ``sysparm_exclude_reference_link``, the
``X-Total-Count`` and ``Link`` headers, Basic and Bearer authentication (401 otherwise),
``sys_audit`` and ``sys_user_group``. Faults are queued per request: a status with
headers, or a dropped connection.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from http.server import ThreadingHTTPServer
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from fakes.servicenow import (  # tests/fakes: the Table API on 127.0.0.1
    NETWORK,
    NOW,
    OPS,
    PASSWORD,
    TOKEN,
    USER,
    FakeInstance,
    running_instance,
)
from impactlens.ingest.servicenow_api import (
    FORMAT,
    ServiceNowConfig,
    pull_servicenow,
    watermark_name,
)
from impactlens.ingest.servicenow_table import ServiceNowAccessError, retry_after_seconds
from impactlens.store import Store
from pydantic import SecretStr

from impactlens.errors import InvalidSettingsError, SourceError
from impactlens.settings import Settings


@pytest.fixture
def instance() -> Iterator[FakeInstance]:
    """A fake ServiceNow instance listening on 127.0.0.1 (a free port), for one test."""
    with running_instance() as state:
        yield state


@pytest.fixture
def store(tmp_path) -> Iterator[Store]:
    with Store.open(f"sqlite:///{tmp_path / 'store.db'}") as opened:
        yield opened


def config_for(instance: FakeInstance, **overrides: Any) -> ServiceNowConfig:
    values: dict[str, Any] = {
        "instance": instance.url,
        "user": USER,
        "password": SecretStr(PASSWORD),
        "page_size": 10,
        "overlap": 0,
        "history": False,
        "timeout": 5,
    }
    return ServiceNowConfig(**(values | overrides))


class Waits(list):
    """The injected sleep: records each wait instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def pull(
    store: Store,
    instance: FakeInstance,
    *,
    sleep: Callable[[float], None] | None = None,
    **config: Any,
):
    return pull_servicenow(
        store,
        config=config_for(instance, **config),
        now=NOW,
        sleep=Waits() if sleep is None else sleep,
    )


def stored(store: Store) -> pd.DataFrame:
    return store.load_incidents(source="servicenow").set_index("incident_id")


# --- paging ---------------------------------------------------------------------------


def test_25_records_in_pages_of_10_are_3_pages_and_each_incident_is_stored_once(store, instance):
    report = pull(store, instance)

    pages = instance.incident_requests()
    assert len(pages) == 3
    assert [p["sysparm_limit"] for p in pages] == ["10", "10", "10"]
    assert pages[0]["sysparm_query"] == "ORDERBYsys_updated_on^ORDERBYsys_id"
    # each next page starts, by value, where the one before ended
    assert pages[1]["sysparm_query"] == (
        "sys_updated_on>=2026-11-02 09:30:00^ORDERBYsys_updated_on^ORDERBYsys_id"
    )
    assert pages[2]["sysparm_query"].startswith("sys_updated_on>=2026-11-02 11:00:00^")
    assert all(p["sysparm_exclude_reference_link"] == "true" for p in pages)
    assert all(p["sysparm_display_value"] == "all" for p in pages)  # "true", read as all
    assert (report.new, report.updated, report.unchanged, report.quarantined) == (25, 0, 0, 0)
    assert report.format == FORMAT
    assert report.source_file == f"{instance.url}/api/now/table/incident"
    assert report.notes[0].startswith("pulled 25 incidents (all incidents; 27 records in 3 pages)")
    incidents = stored(store)
    assert len(incidents) == 25 and incidents.index.is_unique
    assert sorted(incidents.index) == [f"INC00100{n:02d}" for n in range(1, 26)]


def test_display_values_are_kept_and_date_times_are_the_utc_values(store, instance):
    pull(store, instance)

    one = stored(store).loc["INC0010001"]
    # opened 07:00 UTC, which the API user's display value says as 08:00 in Berlin
    assert one["opened_at"] == pd.Timestamp("2026-11-02T07:00:00Z")
    assert one["updated_at"] == pd.Timestamp("2026-11-02T08:00:00Z")
    assert (one["priority"], one["state"], one["assignment_group"]) == (
        2,
        "Resolved",
        "Payments Ops",
    )


def test_database_values_when_display_value_is_false(store, instance):
    pull(store, instance, display_value="false")

    assert {p["sysparm_display_value"] for p in instance.incident_requests()} == {"false"}
    one = stored(store).loc["INC0010001"]
    assert one["opened_at"] == pd.Timestamp("2026-11-02T07:00:00Z")
    assert (one["priority"], one["state"], one["assignment_group"]) == (2, "Resolved", OPS)


def test_fields_asked_for_always_include_what_the_pull_needs(store, instance):
    pull(store, instance, fields=("short_description", "number"))

    asked = instance.incident_requests()[0]["sysparm_fields"].split(",")
    assert asked == [
        "short_description",
        "number",
        "sys_id",
        "sys_updated_on",
        "opened_at",
        "priority",
    ]
    assert stored(store).loc["INC0010002", "short_description"] == "Incident 2"
    assert pd.isna(stored(store).loc["INC0010002", "assignment_group"])


# --- retries --------------------------------------------------------------------------


def test_a_429_waits_its_retry_after_and_a_500_backs_off_then_both_are_retried(store, instance):
    instance.faults[2] = (429, {"Retry-After": "7"})
    instance.faults[4] = (500, {})
    instance.faults[5] = (503, {})
    waits = Waits()

    report = pull(store, instance, sleep=waits)

    assert waits == [7.0, 1.0, 2.0]  # Retry-After; then backoff 1 s, doubled
    assert len(instance.incident_requests()) == 6  # 3 pages, 3 retries
    assert report.new == 25 and len(stored(store)) == 25


def test_a_retry_after_given_as_an_http_date_is_taken_against_the_server_clock(store, instance):
    soon = (datetime.now(ZoneInfo("UTC")) + timedelta(seconds=30)).strftime(
        "%a, %d %b %Y %H:%M:%S GMT"
    )
    instance.faults[1] = (429, {"Retry-After": soon})
    waits = Waits()

    pull(store, instance, sleep=waits)

    assert len(waits) == 1 and 25 <= waits[0] <= 31
    assert (
        retry_after_seconds("Wed, 02 Dec 2026 10:01:00 GMT", date="Wed, 02 Dec 2026 10:00:00 GMT")
        == 60.0
    )
    assert (
        retry_after_seconds("Wed, 02 Dec 2026 09:59:00 GMT", date="Wed, 02 Dec 2026 10:00:00 GMT")
        == 0.0
    )


def test_a_dropped_connection_is_retried(store, instance):
    instance.faults[2] = ("drop", {})
    waits = Waits()

    report = pull(store, instance, sleep=waits)

    assert waits == [1.0] and report.new == 25


def test_a_server_that_keeps_failing_is_one_error_after_the_tries_and_stores_nothing(
    store, instance
):
    for number in range(1, 10):
        instance.faults[number] = (500, {})
    waits = Waits()

    with pytest.raises(SourceError) as failed:
        pull(store, instance, sleep=waits, max_attempts=4)

    assert str(failed.value) == (
        f"ServiceNow {instance.url} (table incident): HTTP 500: Injected fault, 4 tries in a row"
    )
    assert waits == [1.0, 2.0, 4.0]
    assert store.get_watermark("servicenow", watermark_name(instance.url)) is None
    assert store.ingest_runs().empty


def test_a_429_asking_for_longer_than_allowed_is_an_error_not_a_wait(store, instance):
    instance.faults[1] = (429, {"Retry-After": "3600"})
    waits = Waits()

    with pytest.raises(SourceError, match="asks to wait 3,600 s, longer than the 300 s allowed"):
        pull(store, instance, sleep=waits)
    assert waits == []


# --- records that change while the pull runs -----------------------------------------


def test_a_record_updated_between_two_pages_is_stored_with_its_newest_values_and_none_is_lost(
    store, instance
):
    # After page 1 (INC0010001-10), INC0010003 is updated: it moves from page 1 to the end,
    # and every later record moves up one place. Offset paging would now skip INC0010011.
    def bump(state: FakeInstance) -> None:
        state.update(
            "INC0010003",
            sys_updated_on="2026-11-02 12:30:00",
            priority="1",
            short_description="Refunds fail again",
        )

    instance.after[1] = bump

    report = pull(store, instance)

    incidents = stored(store)
    assert len(incidents) == 25 and report.new == 25
    assert incidents.loc["INC0010003", "priority"] == 1
    assert incidents.loc["INC0010003", "short_description"] == "Refunds fail again"
    assert incidents.loc["INC0010003", "updated_at"] == pd.Timestamp("2026-11-02T12:30:00Z")
    assert "INC0010011" in incidents.index
    watermark = store.get_watermark("servicenow", watermark_name(instance.url))
    assert watermark == "2026-11-02T12:30:00Z"


def test_a_record_updated_after_the_last_page_is_picked_up_by_the_next_pull(store, instance):
    pages = 3

    def bump(state: FakeInstance) -> None:
        state.update("INC0010004", sys_updated_on="2026-11-02 12:00:00", state="6", priority="4")

    instance.after[pages] = bump
    pull(store, instance)
    assert stored(store).loc["INC0010004", "priority"] == 1  # as it was when read

    second = pull(store, instance)

    assert (second.new, second.updated) == (0, 1)
    assert stored(store).loc["INC0010004", "priority"] == 4


def test_more_records_in_one_second_than_a_page_are_paged_through_that_second(store, instance):
    for number in range(5, 18):  # 13 records updated in one second, pages of 5
        instance.update(f"INC00100{number:02d}", sys_updated_on="2026-11-02 09:00:00")

    report = pull(store, instance, page_size=5)

    assert len(stored(store)) == 25 and report.new == 25
    second = [p for p in instance.incident_requests() if "<=" in p["sysparm_query"]]
    assert [p["sysparm_offset"] for p in second] == ["0", "5", "10"]
    assert second[0]["sysparm_query"] == (
        "sys_updated_on>=2026-11-02 09:00:00^sys_updated_on<=2026-11-02 09:00:00^ORDERBYsys_id"
    )
    after = [p["sysparm_query"] for p in instance.incident_requests()]
    assert "sys_updated_on>2026-11-02 09:00:00^ORDERBYsys_updated_on^ORDERBYsys_id" in after
    assert store.get_watermark("servicenow", watermark_name(instance.url)) == "2026-11-02T12:00:00Z"


def test_a_record_leaving_a_crowded_second_mid_pull_keeps_the_watermark_at_that_second(
    store, instance
):
    for number in range(5, 18):
        instance.update(f"INC00100{number:02d}", sys_updated_on="2026-11-02 09:00:00")

    def bump(state: FakeInstance) -> None:  # the first record of that second is updated
        state.update("INC0010005", sys_updated_on="2026-11-02 12:10:00", priority="1")

    # request 2 is the base page that finds the crowded second; 3 the first page of it
    instance.after[3] = bump

    report = pull(store, instance, page_size=5)

    # INC0010005 left the second and was read at its new time; the record that moved
    # into its place on the page already read was skipped: the pull says so, and the
    # watermark stays at that second
    assert store.get_watermark("servicenow", watermark_name(instance.url)) == "2026-11-02T09:00:00Z"
    assert any("the watermark stays at 2026-11-02 09:00:00 UTC" in note for note in report.notes)
    assert len(stored(store)) == 24
    assert stored(store).loc["INC0010005", "priority"] == 1

    again = pull(store, instance, page_size=5)

    assert again.new == 1 and len(stored(store)) == 25
    assert store.get_watermark("servicenow", watermark_name(instance.url)) == "2026-11-02T12:10:00Z"


# --- the watermark --------------------------------------------------------------------


def test_a_second_pull_asks_only_from_the_watermark_and_finds_nothing_new(store, instance):
    pull(store, instance)
    name = watermark_name(instance.url)
    assert store.get_watermark("servicenow", name) == "2026-11-02T12:00:00Z"
    before = len(instance.incident_requests())

    second = pull(store, instance)

    (asked,) = instance.incident_requests()[before:]
    assert asked["sysparm_query"] == (
        "sys_updated_on>=2026-11-02 12:00:00^ORDERBYsys_updated_on^ORDERBYsys_id"
    )
    assert (second.new, second.updated, second.unchanged) == (0, 0, 1)
    assert store.get_watermark("servicenow", name) == "2026-11-02T12:00:00Z"


def test_the_overlap_reads_again_before_the_watermark(store, instance):
    pull(store, instance)
    before = len(instance.incident_requests())

    second = pull(store, instance, overlap=1800)

    assert instance.incident_requests()[before]["sysparm_query"].startswith(
        "sys_updated_on>=2026-11-02 11:30:00^"
    )
    assert (second.new, second.updated, second.unchanged) == (0, 0, 4)


def test_the_first_pull_can_start_at_a_moment(store, instance):
    report = pull_servicenow(
        store, config=config_for(instance), since="2026-11-02T11:00:00Z", now=NOW, sleep=Waits()
    )

    assert instance.incident_requests()[0]["sysparm_query"].startswith(
        "sys_updated_on>=2026-11-02 11:00:00^"
    )
    assert report.new == 7


def test_watermarks_are_kept_per_instance_and_source(store, instance):
    pull(store, instance)

    assert (
        store.get_watermark("servicenow", watermark_name("https://other.service-now.com")) is None
    )
    assert store.get_watermark("itsm-eu", watermark_name(instance.url)) is None


# --- credentials ----------------------------------------------------------------------


def test_a_wrong_password_is_one_line_naming_the_user_and_not_the_password(store, instance):
    with pytest.raises(ServiceNowAccessError) as refused:
        pull(store, instance, password=SecretStr("wrong-" + PASSWORD))

    message = str(refused.value)
    assert message == (
        f"ServiceNow {instance.url} refused the credentials of user 'api.reader' (HTTP 401: "
        "User Not Authenticated; Required to provide Auth information): check "
        "IMPACTLENS_SERVICENOW_USER and IMPACTLENS_SERVICENOW_PASSWORD"
    )
    assert PASSWORD not in message and "\n" not in message
    assert PASSWORD not in repr(config_for(instance))
    assert len(instance.requests) == 1  # refused credentials are not retried


def test_a_bearer_token_is_accepted_and_a_wrong_one_is_refused(store, instance):
    report = pull(store, instance, user="", password=None, token=SecretStr(TOKEN))
    assert report.new == 25

    with pytest.raises(
        ServiceNowAccessError, match="refused the credentials of the OAuth token"
    ) as refused:
        pull(store, instance, token=SecretStr("expired"))
    assert "expired" not in str(refused.value)


def test_no_credentials_or_no_instance_is_a_settings_error(store, instance):
    with pytest.raises(InvalidSettingsError, match="no ServiceNow credentials"):
        pull(store, instance, password=None)
    with pytest.raises(InvalidSettingsError, match="IMPACTLENS_SERVICENOW_INSTANCE"):
        ServiceNowConfig.from_settings(Settings())


def test_the_config_comes_from_the_settings(instance):
    settings = Settings(
        servicenow_instance=instance.url + "/",
        servicenow_user=USER,
        servicenow_password=PASSWORD,
        servicenow_page_size=250,
        servicenow_display_value="false",
    )

    config = ServiceNowConfig.from_settings(settings, history=False)

    assert (config.instance, config.page_size, config.display_value) == (instance.url, 250, "false")
    assert config.password is not None and config.password.get_secret_value() == PASSWORD
    assert config.history is False


def test_a_table_the_user_may_not_read_is_one_error(store, instance):
    instance.forbidden.add("incident")

    with pytest.raises(ServiceNowAccessError) as refused:
        pull(store, instance)

    assert str(refused.value) == (
        f"ServiceNow {instance.url} (table incident): user 'api.reader' may not read it "
        "(HTTP 403: User Not Authorized; ACL Exception); give it a role that can read incident"
    )


def test_an_answer_that_is_not_table_api_json_is_one_error(store, tmp_path):
    from http.server import SimpleHTTPRequestHandler

    (tmp_path / "api" / "now" / "table").mkdir(parents=True)
    (tmp_path / "api" / "now" / "table" / "incident").write_text(
        "<html>Instance hibernating</html>"
    )

    class Html(SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(tmp_path), **kwargs)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Html)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        config = ServiceNowConfig(
            instance=url, user=USER, password=SecretStr(PASSWORD), history=False
        )
        with pytest.raises(SourceError, match="the answer is not Table API JSON"):
            pull_servicenow(store, config=config, now=NOW, sleep=Waits())
    finally:
        server.shutdown()
        server.server_close()


# --- assignment history from sys_audit -------------------------------------------------


def test_the_assignment_history_comes_from_sys_audit_where_the_instance_gives_it(store, instance):
    report = pull(store, instance, history=True)

    audits = [p for t, p in instance.requests if t == "sys_audit"]
    assert len(audits) == 1
    assert audits[0]["sysparm_query"].startswith(
        "tablename=incident^fieldname=assignment_group^documentkeyIN"
    )
    assert audits[0]["sysparm_display_value"] == "false"
    three = store.get_incident("servicenow", "INC0010003").history
    assert three[["at", "assignment_group"]].astype(str).values.tolist() == [
        ["2026-11-02 07:20:00+00:00", "Payments Ops"],
        ["2026-11-02 07:35:00+00:00", "Payments Dev"],
        ["2026-11-02 08:20:00+00:00", "Service Desk"],
    ]
    five = store.get_incident("servicenow", "INC0010005").history
    assert five[["at", "assignment_group"]].astype(str).values.tolist() == [
        ["2026-11-02 07:40:00+00:00", "Network 2nd line"],  # at opened_at: from oldvalue
        ["2026-11-02 08:10:00+00:00", "Payments Dev"],
    ]
    one = store.get_incident("servicenow", "INC0010001").history
    assert one[["at", "assignment_group"]].astype(str).values.tolist() == [
        ["2026-11-02 07:00:00+00:00", "Payments Ops"],
    ]
    # the former group is named through sys_user_group; the others by the incidents
    (groups,) = [p for t, p in instance.requests if t == "sys_user_group"]
    assert groups["sysparm_query"] == f"sys_idIN{NETWORK}"
    assert any(
        note.startswith("assignment history from sys_audit: 4 group changes of 2 incidents")
        for note in report.notes
    )


def test_a_refused_sys_audit_leaves_the_history_of_current_groups_and_says_so(store, instance):
    instance.forbidden.add("sys_audit")

    report = pull(store, instance, history=True)

    assert report.new == 25
    three = store.get_incident("servicenow", "INC0010003").history
    assert three["assignment_group"].tolist() == ["Service Desk"]
    assert any(
        note.startswith("sys_audit is refused to this user (HTTP 403)") for note in report.notes
    )


def test_a_refused_group_table_keeps_former_groups_as_sys_ids_and_says_so(store, instance):
    instance.forbidden.add("sys_user_group")

    report = pull(store, instance, history=True)

    five = store.get_incident("servicenow", "INC0010005").history
    assert five["assignment_group"].tolist() == [NETWORK, "Payments Dev"]
    assert any("1 former groups are named by their sys_id" in note for note in report.notes)
