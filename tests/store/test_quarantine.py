"""The quarantine keeps each rejected row once: re-ingesting a file does not grow it.

On a real SQLite file and the real PostgreSQL; and across migration 0002, which
fingerprints the rows an older store quarantined.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from impactlens.store import Store, create_engine_for, upgrade_database
from impactlens.store.database import connect
from impactlens.store.quarantine import fingerprint
from sqlalchemy import text

pytestmark = pytest.mark.write_paths

BAD_TIME = {"line": 4, "problem": "bad timestamp", "reason": "Open Time 'soon' is not a date",
            "raw": '{"Incident ID": "IM1", "Open Time": "soon"}'}  # fmt: skip
MISSING_ID = {"line": 9, "problem": "missing value", "reason": "missing Incident ID",
              "raw": '{"Incident ID": null, "Open Time": "5-2-2012 13:32"}'}  # fmt: skip


def save(store: Store, batch):
    return store.save_batch(batch, source_file="Detail_Incident.csv", format="csv")


def test_rows_quarantined_before_are_not_quarantined_again(fresh_store, make_batch):
    store = fresh_store()
    batch = make_batch(incidents=[{}], rejected=[BAD_TIME, MISSING_ID])

    first, second, third = save(store, batch), save(store, batch), save(store, batch)

    assert [r.quarantined for r in (first, second, third)] == [2, 0, 0]
    assert [r.already_quarantined for r in (first, second, third)] == [0, 2, 2]
    stored = store.quarantine()
    assert stored["reason"].tolist() == [BAD_TIME["reason"], MISSING_ID["reason"]]
    assert (stored["run_id"] == first.run_id).all()
    runs = store.ingest_runs()
    assert runs["quarantined"].tolist() == [2, 0, 0]  # what each run put in the quarantine
    assert store.sources().loc[0, "quarantined"] == 2


def test_a_row_is_the_same_only_with_the_same_source_reason_and_raw_text(fresh_store, make_batch):
    store = fresh_store()
    save(store, make_batch(incidents=[{}], rejected=[BAD_TIME]))

    summary = save(
        store,
        make_batch(
            rejected=[
                BAD_TIME | {"line": 40},  # the same row, moved in the file: still the same
                BAD_TIME | {"source": "jira"},
                BAD_TIME | {"reason": "Open Time 'soon' is not a date (day-first)"},
                BAD_TIME | {"raw": '{"Incident ID": "IM2", "Open Time": "soon"}'},
            ]
        ),
    )

    assert (summary.quarantined, summary.already_quarantined) == (3, 1)
    assert len(store.quarantine()) == 4


def test_two_equal_bad_rows_of_one_file_are_both_kept_once(fresh_store, make_batch):
    store = fresh_store()
    batch = make_batch(rejected=[BAD_TIME, BAD_TIME | {"line": 5}])

    save(store, batch)
    again = save(store, batch)

    assert again.already_quarantined == 2
    assert store.quarantine()["line"].tolist() == [4, 5]


def test_rows_quarantined_before_migration_0002_are_fingerprinted_by_it(store_url, make_batch):
    upgrade_database(store_url, revision="0001")
    engine = create_engine_for(store_url)
    with connect(engine, write=True) as connection:
        connection.execute(
            text(
                "INSERT INTO ingest_runs (source, file, format, started_at) "
                "VALUES ('servicenow', 'old.csv', 'csv', :at)"
            ),
            {"at": 1_700_000_000_000_000 if engine.dialect.name == "sqlite" else "2023-11-14"},
        )
        connection.execute(
            text(
                "INSERT INTO quarantine (run_id, source, line, problem, reason, raw, received_at)"
                " VALUES (1, 'servicenow', 4, 'bad timestamp', :reason, :raw, :at)"
            ),
            {
                "reason": BAD_TIME["reason"],
                "raw": BAD_TIME["raw"],
                "at": 1_700_000_000_000_000 if engine.dialect.name == "sqlite" else "2023-11-14",
            },
        )
    upgrade_database(engine)
    with connect(engine) as connection:
        stored = connection.execute(text("SELECT fingerprint FROM quarantine")).scalar_one()
    engine.dispose()
    assert stored == fingerprint("servicenow", BAD_TIME["reason"], BAD_TIME["raw"])

    with Store.open(store_url) as store:
        summary = save(store, make_batch(rejected=[BAD_TIME]))
        assert summary.already_quarantined == 1
        assert len(store.quarantine()) == 1


def test_a_number_the_store_cannot_hold_quarantines_its_row_not_the_batch(fresh_store, make_batch):
    # A count column mapped from the wrong field (a phone number) and a priority beyond a
    # smallint: each row is quarantined with its file line; the good row lands.
    store = fresh_store()
    batch = make_batch(
        incidents=[
            {"reassignment_count": 2},
            {"reassignment_count": 4_915_112_345_678, "reopen_count": -(2**31) - 1},
            {"priority": 40_000},
        ],
        history=[{"incident_id": f"INC{n}", "assignment_group": "g"} for n in (1, 2, 3)],
    )
    batch = dataclasses.replace(batch, lines=np.array([2, 3, 4]))

    summary = save(store, batch)

    assert (summary.new, summary.quarantined, summary.rows_read) == (1, 2, 3)
    assert store.load_incidents()["incident_id"].tolist() == ["INC1"]
    stored_week = store.load_week(since="2000-01-01", until="2100-01-01")
    assert stored_week.history["incident_id"].tolist() == ["INC1"]
    stored = store.quarantine()
    assert stored["line"].tolist() == [3, 4]
    assert stored["problem"].tolist() == ["out of range", "out of range"]
    assert stored["reason"].tolist() == [
        "reassignment_count 4915112345678 is out of range "
        "(the store holds -2,147,483,648 to 2,147,483,647)",
        "priority 40000 is out of range (the store holds -32,768 to 32,767)",
    ]
    assert json.loads(stored["raw"][0])["incident_id"] == "INC2"
    # The same file again: the rows are known, not quarantined twice.
    again = save(store, batch)
    assert (again.unchanged, again.quarantined, again.already_quarantined) == (1, 0, 2)
