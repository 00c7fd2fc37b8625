"""The Store's readers with answers worked out by hand: one incident, a week, the sources,
the extent of the data, runs and quarantine by source and time."""

from __future__ import annotations

import pandas as pd
from impactlens.ingest.batch import HISTORY_COLUMNS, INCIDENT_COLUMNS
from impactlens.store import Store, StoredIncident, StoredIncidents
from impactlens.store.schema import HISTORY_DTYPES, INCIDENT_DTYPES, SOURCE_DTYPES


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text).tz_convert("UTC")


def pairs(frame: pd.DataFrame, *columns: str) -> list[tuple]:
    return list(zip(*(frame[name].tolist() for name in columns), strict=True))


def test_get_incident_returns_the_stored_row_and_its_history_in_order(fresh_store, make_batch):
    store = fresh_store()
    batch = make_batch(
        incidents=[
            {"incident_id": "INC1", "state": "In Progress", "service_id": "pay-api"},
            {"incident_id": "INC2", "state": "New"},
            {"incident_id": "INC1", "source": "jira", "state": "Other source"},
        ],
        history=[
            {"incident_id": "INC1", "at": "2026-11-02T10:00:00Z", "assignment_group": "Desk"},
            {"incident_id": "INC2", "at": "2026-11-02T10:01:00Z", "assignment_group": "Net"},
            {"incident_id": "INC1", "at": "2026-11-02T10:05:00Z", "assignment_group": "Pay Ops"},
            {"incident_id": "INC1", "at": "2026-11-02T10:20:00Z", "assignment_group": "Pay Dev"},
        ],
    )
    store.save_batch(batch, source_file="f.csv", format="servicenow")

    found = store.get_incident("servicenow", "INC1")

    assert isinstance(found, StoredIncident)
    expected = store.load_incidents(source="servicenow").iloc[[0]].reset_index(drop=True)
    pd.testing.assert_frame_equal(found.incident, expected)
    assert list(found.incident.columns) == list(INCIDENT_COLUMNS)
    assert found.incident.loc[0, "state"] == "In Progress"
    assert list(found.history.columns) == list(HISTORY_COLUMNS)
    assert {name: str(dtype) for name, dtype in found.history.dtypes.items()} == HISTORY_DTYPES
    assert found.history["assignment_group"].tolist() == ["Desk", "Pay Ops", "Pay Dev"]
    assert found.history["at"].tolist() == [
        utc("2026-11-02T10:00:00Z"),
        utc("2026-11-02T10:05:00Z"),
        utc("2026-11-02T10:20:00Z"),
    ]


def test_get_incident_without_history_and_of_an_unknown_id(fresh_store, make_batch):
    store = fresh_store()
    store.save_batch(make_batch(incidents=[{}]), source_file="f.csv", format="servicenow")

    found = store.get_incident("servicenow", "INC1")

    assert found is not None and len(found.incident) == 1 and len(found.history) == 0
    assert {name: str(dtype) for name, dtype in found.incident.dtypes.items()} == INCIDENT_DTYPES
    assert store.get_incident("servicenow", "INC404") is None
    assert store.get_incident("jira", "INC1") is None  # the id is another source's


def test_load_week_returns_exactly_the_active_incidents_and_their_history(fresh_store, make_batch):
    store = fresh_store()
    store.save_batch(
        make_batch(
            incidents=[
                # opened before the week, still open: active
                {"incident_id": "early", "opened_at": "2026-10-30T12:00:00Z"},
                # resolved before the week began: not active
                {
                    "incident_id": "early-done",
                    "opened_at": "2026-10-30T12:00:00Z",
                    "resolved_at": "2026-10-31T00:00:00Z",
                },
                # resolved at the very start of the week: active (not resolved before it)
                {
                    "incident_id": "at-start",
                    "opened_at": "2026-11-01T12:00:00Z",
                    "resolved_at": "2026-11-02T00:00:00Z",
                },
                {"incident_id": "inside", "opened_at": "2026-11-03T12:00:00Z"},
                # opened when the week ends (until is exclusive): not active
                {"incident_id": "edge", "opened_at": "2026-11-09T00:00:00Z"},
                {"incident_id": "other", "source": "jira", "opened_at": "2026-11-03T12:00:00Z"},
            ],
            history=[
                {"incident_id": "inside", "assignment_group": "Desk"},
                {"incident_id": "early", "assignment_group": "Ops"},
                {"incident_id": "early-done", "assignment_group": "Gone"},
                {"incident_id": "edge", "assignment_group": "Later"},
                {"incident_id": "inside", "assignment_group": "Dev"},
                {"source": "jira", "incident_id": "other", "assignment_group": "Jira Desk"},
            ],
        ),
        source_file="f.csv",
        format="servicenow",
    )
    week = {"since": "2026-11-02", "until": pd.Timestamp("2026-11-09T01:00:00+01:00")}

    everything = store.load_week(**week)
    one_source = store.load_week(**week, source="servicenow")

    assert isinstance(everything, StoredIncidents)
    assert pairs(everything.incidents, "source", "incident_id") == [
        ("jira", "other"),
        ("servicenow", "at-start"),
        ("servicenow", "early"),
        ("servicenow", "inside"),
    ]
    assert pairs(everything.history, "source", "incident_id", "assignment_group") == [
        ("jira", "other", "Jira Desk"),
        ("servicenow", "early", "Ops"),
        ("servicenow", "inside", "Desk"),
        ("servicenow", "inside", "Dev"),
    ]
    assert one_source.incidents["incident_id"].tolist() == ["at-start", "early", "inside"]
    assert pairs(one_source.history, "incident_id", "assignment_group") == [
        ("early", "Ops"),
        ("inside", "Desk"),
        ("inside", "Dev"),
    ]
    assert {n: str(t) for n, t in everything.incidents.dtypes.items()} == INCIDENT_DTYPES
    assert {n: str(t) for n, t in everything.history.dtypes.items()} == HISTORY_DTYPES


def two_runs(store: Store, make_batch):
    """Run 1 (a.csv): servicenow INC1 (open), INC2 (resolved); jira J1 (resolved and
    closed); quarantined: 2 servicenow rows and 1 pagerduty row. Run 2 (b.csv):
    servicenow INC3 (closed, never resolved); 1 servicenow row quarantined."""
    first = store.save_batch(
        make_batch(
            incidents=[
                {
                    "incident_id": "INC1",
                    "opened_at": "2026-11-02T10:00:00Z",
                    "updated_at": "2026-11-02T11:00:00Z",
                },
                {
                    "incident_id": "INC2",
                    "opened_at": "2026-11-03T08:00:00Z",
                    "resolved_at": "2026-11-03T09:00:00Z",
                    "updated_at": "2026-11-03T09:30:00Z",
                },
                {
                    "source": "jira",
                    "incident_id": "J1",
                    "opened_at": "2026-11-01T12:00:00Z",
                    "resolved_at": "2026-11-01T13:00:00Z",
                    "closed_at": "2026-11-02T13:00:00Z",
                    "updated_at": "2026-11-02T13:00:00Z",
                },
            ],
            rejected=[
                {"line": 4, "problem": "p", "reason": "bad priority", "raw": "{}"},
                {"line": 9, "problem": "p", "reason": "bad timestamp", "raw": "{}"},
                {"source": "pagerduty", "line": 2, "problem": "p", "reason": "no id", "raw": "{}"},
            ],
        ),
        source_file="a.csv",
        format="mixed",
    )
    second = store.save_batch(
        make_batch(
            incidents=[
                {
                    "incident_id": "INC3",
                    "opened_at": "2026-11-04T07:00:00Z",
                    "closed_at": "2026-11-05T07:00:00Z",
                    "updated_at": "2026-11-05T07:00:00Z",
                }
            ],
            rejected=[{"line": 3, "problem": "p", "reason": "no opened_at", "raw": "{}"}],
        ),
        source_file="b.csv",
        format="servicenow",
    )
    return first, second


def test_sources_count_what_the_store_holds_per_source(fresh_store, make_batch):
    store = fresh_store()
    first, second = two_runs(store, make_batch)
    runs = store.ingest_runs().set_index("id")
    first_done, second_done = (
        runs.loc[first.run_id, "finished_at"],
        runs.loc[second.run_id, "finished_at"],
    )

    sources = store.sources()

    assert {name: str(dtype) for name, dtype in sources.dtypes.items()} == SOURCE_DTYPES
    assert sources.to_dict("records") == [
        {
            "source": "jira",
            "incidents": 1,
            "open": 0,
            "first_opened": utc("2026-11-01T12:00:00Z"),
            "last_opened": utc("2026-11-01T12:00:00Z"),
            "last_updated": utc("2026-11-02T13:00:00Z"),
            "last_ingest": first_done,
            "quarantined": 0,
        },
        {
            "source": "pagerduty",  # only quarantined rows so far
            "incidents": 0,
            "open": 0,
            "first_opened": pd.NaT,
            "last_opened": pd.NaT,
            "last_updated": pd.NaT,
            "last_ingest": first_done,
            "quarantined": 1,
        },
        {
            "source": "servicenow",
            "incidents": 3,
            "open": 1,  # INC1; INC2 is resolved, INC3 closed
            "first_opened": utc("2026-11-02T10:00:00Z"),
            "last_opened": utc("2026-11-04T07:00:00Z"),
            "last_updated": utc("2026-11-05T07:00:00Z"),
            "last_ingest": second_done,
            "quarantined": 3,
        },
    ]
    assert first_done <= second_done


def test_sources_of_an_empty_store(fresh_store):
    sources = fresh_store().sources()

    assert len(sources) == 0
    assert {name: str(dtype) for name, dtype in sources.dtypes.items()} == SOURCE_DTYPES


def test_data_extent_is_the_first_and_last_opened_at(fresh_store, make_batch):
    store = fresh_store()
    assert store.data_extent() == (None, None)

    two_runs(store, make_batch)

    assert store.data_extent() == (utc("2026-11-01T12:00:00Z"), utc("2026-11-04T07:00:00Z"))
    assert store.data_extent(source="jira") == (
        utc("2026-11-01T12:00:00Z"),
        utc("2026-11-01T12:00:00Z"),
    )
    assert store.data_extent(source="servicenow") == (
        utc("2026-11-02T10:00:00Z"),
        utc("2026-11-04T07:00:00Z"),
    )
    assert store.data_extent(source="pagerduty") == (None, None)


def test_ingest_runs_of_one_source_are_those_that_took_its_rows(fresh_store, make_batch):
    store = fresh_store()
    first, _ = two_runs(store, make_batch)

    def files(source: str | None = None) -> list[str]:
        return store.ingest_runs(source=source)["file"].tolist()

    assert store.ingest_runs()["source"].tolist() == ["jira,pagerduty,servicenow", "servicenow"]
    assert files() == ["a.csv", "b.csv"]
    assert files("servicenow") == ["a.csv", "b.csv"]
    assert files("jira") == ["a.csv"]
    assert files("pagerduty") == ["a.csv"]  # its rows were all quarantined: still its run
    assert files("unknown") == []
    # Parts of names and LIKE's wildcards match nothing.
    assert files("service") == files("s_rvicenow") == files("%") == files("_") == []
    assert store.ingest_runs(source="jira")["id"].tolist() == [first.run_id]


def test_quarantine_by_run_source_and_time(fresh_store, make_batch):
    store = fresh_store()
    first, second = two_runs(store, make_batch)
    second_started = store.ingest_runs().set_index("id").loc[second.run_id, "started_at"]

    def reasons(**selection) -> list[str]:
        return store.quarantine(**selection)["reason"].tolist()

    assert reasons() == ["bad priority", "bad timestamp", "no id", "no opened_at"]
    assert reasons(source="servicenow") == ["bad priority", "bad timestamp", "no opened_at"]
    assert reasons(source="pagerduty") == ["no id"]
    assert reasons(run_id=first.run_id, source="servicenow") == ["bad priority", "bad timestamp"]
    assert reasons(since=second_started) == ["no opened_at"]  # received when run 2 started
    assert reasons(since=second_started.tz_convert("Europe/Zurich")) == ["no opened_at"]
    assert reasons(source="pagerduty", since=second_started) == []
    assert reasons(since=second_started + pd.Timedelta(microseconds=1)) == []
    assert (
        store.quarantine(since="2000-01-01")["run_id"] == [first.run_id] * 3 + [second.run_id]
    ).all()
