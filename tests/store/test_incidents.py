"""Store.save_batch and the Store's readers, on a real SQLite file and the real PostgreSQL."""

from __future__ import annotations

import pandas as pd
import pytest
from impactlens.ingest.batch import HISTORY_COLUMNS, INCIDENT_COLUMNS
from impactlens.store import InvalidBatchError, Store
from impactlens.store.database import connect
from impactlens.store.schema import INCIDENT_DTYPES, incidents, ingest_runs
from sqlalchemy import func, select

pytestmark = pytest.mark.write_paths

FULL_ROW = {
    "incident_id": "INC0010001",
    "opened_at": "2026-11-02T09:15:30.123456Z",
    "resolved_at": "2026-11-02T11:00:00.000001Z",
    "closed_at": "2026-11-05T11:00:00Z",
    "updated_at": "2026-11-05T11:00:00.5Z",
    "state": "Closed",
    "priority": 1,
    "impact": 1,
    "urgency": 2,
    "ci": "PAYAPI01",
    "service_id": "pay-api",
    "category": "Payments",
    "subcategory": "Outage",
    "assignment_group": "Payments Ops",
    "location": "Zürich, HQ",
    "support_tier": "L2",
    "reassignment_count": 3,
    "reopen_count": 0,
    "problem_id": "PRB0001234",
    "caused_by_change": "CHG0040007",
    "short_description": 'Card payments fail: "502", retries; 2nd line\nsee ☕ log',
    "reopened_at": "2026-11-03T08:00:00.25Z",
    "service_component": "WBS000162",
}
SPARSE_ROW = {  # every optional column missing; an empty string is not missing
    "incident_id": "INC0010002",
    "opened_at": "1970-01-01T00:00:00Z",
    "updated_at": None,
    "priority": 5,
    "short_description": "",
}


# A window that holds every incident of these tests ("active" in it: all of them).
EVER = {"since": "1900-01-01", "until": "2300-01-01"}


def save(store: Store, batch, **kwargs):
    return store.save_batch(batch, source_file="export.csv", format="servicenow", **kwargs)


def all_history(store: Store) -> pd.DataFrame:
    return store.load_week(**EVER).history


def test_every_column_comes_back_with_its_value_and_dtype(fresh_store, make_batch):
    store = fresh_store()
    far_future = {"incident_id": "INC0010003", "opened_at": "2199-12-31T23:59:59.999999Z"}
    batch = make_batch(incidents=[FULL_ROW, SPARSE_ROW, far_future])
    save(store, batch)

    stored = store.load_incidents()

    assert list(stored.columns) == list(INCIDENT_COLUMNS)
    assert {name: str(dtype) for name, dtype in stored.dtypes.items()} == INCIDENT_DTYPES
    pd.testing.assert_frame_equal(stored, batch.incidents)
    assert stored.loc[1, "short_description"] == ""
    assert stored.loc[1, "state"] is pd.NA


def test_moments_in_other_zones_and_nanoseconds_are_stored_as_utc_microseconds(
    fresh_store, make_batch
):
    store = fresh_store()
    batch = make_batch(incidents=[{}])
    berlin = pd.Series(pd.to_datetime(["2026-11-02T10:00:00.1234567+01:00"])).dt.tz_convert(
        "Europe/Berlin"
    )
    batch.incidents["opened_at"] = berlin  # datetime64[ns, Europe/Berlin]

    save(store, batch)

    assert store.load_incidents().loc[0, "opened_at"] == pd.Timestamp("2026-11-02T09:00:00.123456Z")


def test_a_newer_updated_at_wins_and_an_older_or_equal_one_never_overwrites(
    fresh_store, make_batch
):
    store = fresh_store()
    at_11 = {"updated_at": "2026-11-02T11:00:00Z", "state": "New"}
    save(store, make_batch(incidents=[at_11]))

    newer = save(
        store,
        make_batch(incidents=[{"updated_at": "2026-11-02T12:00:00Z", "state": "In Progress"}]),
    )
    older = save(
        store, make_batch(incidents=[{"updated_at": "2026-11-02T10:00:00Z", "state": "Old"}])
    )
    equal = save(
        store, make_batch(incidents=[{"updated_at": "2026-11-02T12:00:00Z", "state": "Same"}])
    )
    missing = save(store, make_batch(incidents=[{"updated_at": None, "state": "Undated"}]))

    assert (newer.new, newer.updated, newer.unchanged) == (0, 1, 0)
    for summary in (older, equal, missing):
        assert (summary.new, summary.updated, summary.unchanged) == (0, 0, 1)
    assert store.load_incidents()["state"].tolist() == ["In Progress"]


def test_any_updated_at_beats_a_stored_row_without_one(fresh_store, make_batch):
    store = fresh_store()
    save(store, make_batch(incidents=[{"updated_at": None, "state": "Undated"}]))

    summary = save(
        store, make_batch(incidents=[{"updated_at": "1999-01-01T00:00:00Z", "state": "Dated"}])
    )

    assert (summary.updated, store.load_incidents()["state"].tolist()) == (1, ["Dated"])


def test_a_mixed_batch_is_counted_row_by_row(fresh_store, make_batch):
    store = fresh_store()
    save(store, make_batch(incidents=[{"incident_id": "A"}, {"incident_id": "B"}]))

    summary = save(
        store,
        make_batch(
            incidents=[
                {"incident_id": "A"},  # same updated_at: unchanged
                {"incident_id": "B", "updated_at": "2026-11-03T00:00:00Z"},  # updated
                {"incident_id": "C"},  # new
                {"incident_id": "A", "source": "jira"},  # same id, other source: new
            ]
        ),
    )

    assert (summary.new, summary.updated, summary.unchanged) == (2, 1, 1)
    assert summary.rows_read == 4
    stored = store.load_incidents()
    assert list(zip(stored["source"], stored["incident_id"], strict=True)) == [
        ("jira", "A"),
        ("servicenow", "A"),
        ("servicenow", "B"),
        ("servicenow", "C"),
    ]


def test_re_ingesting_the_same_batch_changes_nothing(fresh_store, make_batch):
    store = fresh_store()
    batch = make_batch(
        incidents=[FULL_ROW, SPARSE_ROW],
        history=[
            {
                "incident_id": "INC0010001",
                "at": "2026-11-02T09:15:30Z",
                "assignment_group": "Service Desk",
            },
            {
                "incident_id": "INC0010001",
                "at": "2026-11-02T09:40:00Z",
                "assignment_group": "Payments Ops",
            },
        ],
    )
    first = save(store, batch)
    before = (store.load_incidents(), all_history(store))

    again = save(store, batch)

    assert (first.new, first.updated, first.unchanged) == (2, 0, 0)
    assert (again.new, again.updated, again.unchanged) == (0, 0, 2)
    pd.testing.assert_frame_equal(store.load_incidents(), before[0])
    pd.testing.assert_frame_equal(all_history(store), before[1])


def test_history_is_replaced_only_when_its_incident_is_written(fresh_store, make_batch):
    store = fresh_store()

    def batch(updated_at, groups):
        return make_batch(
            incidents=[{"updated_at": updated_at}],
            history=[
                {"incident_id": "INC1", "at": f"2026-11-02T10:0{i}:00Z", "assignment_group": group}
                for i, group in enumerate(groups)
            ],
        )

    save(store, batch("2026-11-02T11:00:00Z", ["Service Desk", "Payments Ops"]))
    save(store, batch("2026-11-02T10:00:00Z", ["Older"]))  # older: history kept
    after_older = all_history(store)["assignment_group"].tolist()
    save(store, batch("2026-11-02T12:00:00Z", ["Network", "Payments Dev", "Network"]))
    after_newer = all_history(store)
    save(store, batch("2026-11-02T13:00:00Z", []))  # newer without history: none now

    assert after_older == ["Service Desk", "Payments Ops"]
    assert list(after_newer.columns) == list(HISTORY_COLUMNS)
    assert after_newer["assignment_group"].tolist() == ["Network", "Payments Dev", "Network"]
    assert after_newer["at"].tolist() == [pd.Timestamp(f"2026-11-02T10:0{i}:00Z") for i in range(3)]
    assert len(all_history(store)) == 0


def test_history_of_an_incident_not_in_the_batch_is_not_stored(fresh_store, make_batch):
    store = fresh_store()
    batch = make_batch(
        incidents=[{"incident_id": "INC1"}],
        history=[
            {"incident_id": "INC1", "assignment_group": "Desk"},
            {"incident_id": "INC9", "assignment_group": "Nobody's"},  # its row was rejected
        ],
    )

    save(store, batch)

    assert all_history(store)["incident_id"].tolist() == ["INC1"]


def test_rejected_rows_are_quarantined_with_reason_and_raw_text_per_run(fresh_store, make_batch):
    store = fresh_store()
    big = "x" * 1_000_000
    raw = '{"number": "INC7", "opened_at": "yesterday", "note": "two\\nlines, «quotes» \\"q\\""}'
    batch = make_batch(
        incidents=[{}],
        rejected=[
            {
                "line": 7,
                "problem": "bad timestamp",
                "reason": "opened_at 'yesterday' is not a timestamp",
                "raw": raw,
            },
            {"line": None, "problem": "too long", "reason": "field over 1 MB", "raw": big},
        ],
    )

    first = save(store, batch)
    second = save(store, batch)

    assert (first.quarantined, second.quarantined) == (2, 0)
    assert (first.already_quarantined, second.already_quarantined) == (0, 2)
    rows = store.quarantine(run_id=first.run_id)
    assert rows["raw"].tolist() == [raw, big]
    assert rows["reason"].tolist()[0] == "opened_at 'yesterday' is not a timestamp"
    assert rows["line"].tolist() == [7, pd.NA]
    assert rows["received_at"].notna().all() and (rows["run_id"] == first.run_id).all()
    assert len(store.quarantine()) == 2  # the same rows again are not quarantined twice


def test_each_batch_records_a_run_with_its_counts(fresh_store, make_batch):
    store = fresh_store()
    summary = store.save_batch(
        make_batch(
            incidents=[{}, {}], rejected=[{"line": 3, "problem": "p", "reason": "r", "raw": "{}"}]
        ),
        source_file="/exports/incident.csv",
        format="servicenow",
        rows_read=40,
    )

    runs = store.ingest_runs()

    assert runs.to_dict("records")[0] | {"started_at": None, "finished_at": None} == {
        "id": summary.run_id,
        "source": "servicenow",
        "file": "/exports/incident.csv",
        "format": "servicenow",
        "started_at": None,
        "finished_at": None,
        "rows_read": 40,
        "new": 2,
        "updated": 0,
        "unchanged": 0,
        "quarantined": 1,
    }
    assert runs.loc[0, "started_at"] <= runs.loc[0, "finished_at"]
    with connect(store.engine) as connection:
        run_ids = connection.execute(select(incidents.c.run_id).distinct()).scalars().all()
    assert run_ids == [summary.run_id]


def test_two_rows_of_one_incident_in_a_batch_keep_the_newer(fresh_store, make_batch):
    store = fresh_store()
    batch = make_batch(
        incidents=[
            {"incident_id": "A", "updated_at": "2026-11-02T10:00:00Z", "state": "old"},
            {"incident_id": "A", "updated_at": "2026-11-02T12:00:00Z", "state": "new"},
            {
                "incident_id": "A",
                "updated_at": "2026-11-02T12:00:00Z",
                "state": "same time, later row",
            },
        ]
    )

    summary = save(store, batch)

    assert (summary.new, summary.unchanged) == (1, 2)
    assert store.load_incidents()["state"].tolist() == ["new"]


def test_an_empty_batch_records_a_run_and_nothing_else(fresh_store, make_batch):
    from impactlens.ingest.batch import empty_batch

    store = fresh_store()
    summary = save(store, empty_batch())

    assert (summary.new, summary.updated, summary.unchanged, summary.quarantined) == (0, 0, 0, 0)
    assert len(store.load_incidents()) == 0 and len(store.ingest_runs()) == 1


@pytest.mark.parametrize(
    ("column", "values", "message"),
    [
        ("opened_at", pd.Series(pd.to_datetime(["2026-11-02T10:00:00"])), "timezone-aware"),
        ("priority", pd.Series([pd.NA], dtype="Int64"), "priority: missing"),
        ("reopen_count", pd.Series([1.5]), "not a whole number"),
        ("incident_id", pd.Series([None], dtype="string"), "incident_id: 1 rows have no value"),
    ],
)
def test_a_batch_that_breaks_the_canonical_model_is_refused_whole(
    fresh_store, make_batch, column, values, message
):
    store = fresh_store()
    batch = make_batch(incidents=[{}])
    batch.incidents[column] = values

    with pytest.raises(InvalidBatchError, match=message):
        save(store, batch)

    with connect(store.engine) as connection:
        assert connection.execute(select(func.count()).select_from(ingest_runs)).scalar() == 0


def test_load_selects_by_source_and_window(fresh_store, make_batch):
    store = fresh_store()
    save(
        store,
        make_batch(
            incidents=[
                {"incident_id": "early", "opened_at": "2026-10-30T12:00:00Z", "resolved_at": None},
                {
                    "incident_id": "early-done",
                    "opened_at": "2026-10-30T12:00:00Z",
                    "resolved_at": "2026-10-31T00:00:00Z",
                },
                {"incident_id": "inside", "opened_at": "2026-11-03T12:00:00Z"},
                {"incident_id": "edge", "opened_at": "2026-11-09T00:00:00Z"},
                {"incident_id": "other", "source": "jira", "opened_at": "2026-11-03T12:00:00Z"},
            ],
            history=[
                {"incident_id": "inside", "assignment_group": "Desk"},
                {"incident_id": "early", "assignment_group": "Ops"},
            ],
        ),
    )
    week = {"since": "2026-11-02", "until": pd.Timestamp("2026-11-09T01:00:00+01:00")}

    def ids(**kwargs):
        return store.load_incidents(**kwargs)["incident_id"].tolist()

    assert ids(source="servicenow", **week) == ["inside"]
    assert ids(source="servicenow", by="active", **week) == ["early", "inside"]
    assert ids(**week) == ["other", "inside"]
    assert ids(since="2026-11-09") == ["edge"]
    with pytest.raises(ValueError, match="by="):
        store.load_incidents(by="closed")  # type: ignore[arg-type]


def test_progress_is_reported_per_chunk(fresh_store, make_batch, monkeypatch):
    import impactlens.store.bulk

    monkeypatch.setattr(impactlens.store.bulk, "CHUNK_ROWS", 2)
    store = fresh_store()
    seen: list[tuple[int, int]] = []

    save(
        store,
        make_batch(incidents=[{}] * 5),
        on_progress=lambda done, total: seen.append((done, total)),
    )

    assert seen == [(2, 5), (4, 5), (5, 5)]


def test_nul_characters_do_not_sink_a_batch(fresh_store, store_url, make_batch):
    """PostgreSQL text cannot hold NUL: there it becomes U+FFFD; SQLite keeps it."""
    store = fresh_store()
    raw = '{"number": "INC\x00\x01", "garbage": "\x00\x00"}'
    save(
        store,
        make_batch(
            incidents=[{"short_description": "before\x00after"}],
            rejected=[{"line": 2, "problem": "binary", "reason": "not text", "raw": raw}],
        ),
    )

    kept = "\x00" if store_url.startswith("sqlite") else "\ufffd"
    assert store.load_incidents().loc[0, "short_description"] == f"before{kept}after"
    assert store.quarantine().loc[0, "raw"] == raw.replace("\x00", kept)
