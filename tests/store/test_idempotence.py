"""Properties of save_batch: newest wins, re-ingesting changes nothing, row order is moot.

One database per backend for the whole test; each hypothesis example writes under
sources of its own, so examples never see each other's rows.
"""

from __future__ import annotations

import itertools
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from impactlens.store import Store

pytestmark = pytest.mark.write_paths

IDS = ("INC1", "INC2", "INC3", "INC4")
MOMENTS = (None, "2026-11-02T10:00:00Z", "2026-11-02T11:00:00Z", "2026-11-02T12:00:00Z")
_examples = itertools.count()

incident_rows = st.fixed_dictionaries(
    {
        "incident_id": st.sampled_from(IDS),
        "updated_at": st.sampled_from(MOMENTS),
        "state": st.sampled_from(["New", "In Progress", "Resolved"]),
        "priority": st.integers(1, 5),
        "groups": st.lists(st.sampled_from(["Desk", "Ops", "Dev"]), max_size=3),
    }
)
# Adapters never emit one incident twice in a batch (they quarantine such rows).
batches = st.lists(incident_rows, max_size=4, unique_by=lambda row: row["incident_id"])


def newer(candidate: str | None, stored: str | None) -> bool:
    return candidate is not None and (stored is None or candidate > stored)


def expected_store(sequence: list[list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """The rule, stated plainly: each incident as the batch with the newest updated_at
    had it (the first of equals), with that batch's history."""
    kept: dict[str, dict[str, Any]] = {}
    for batch in sequence:
        for row in batch:
            stored = kept.get(row["incident_id"])
            if stored is None or newer(row["updated_at"], stored["updated_at"]):
                kept[row["incident_id"]] = row
    return kept


def to_batch(make_batch, rows: list[dict[str, Any]], source: str):
    return make_batch(
        incidents=[
            {key: row[key] for key in ("incident_id", "updated_at", "state", "priority")}
            | {"source": source}
            for row in rows
        ],
        history=[
            {
                "source": source,
                "incident_id": row["incident_id"],
                "at": f"2026-11-02T09:0{step}:00Z",
                "assignment_group": group,
            }
            for row in rows
            for step, group in enumerate(row["groups"])
        ],
    )


def stored(store: Store, source: str) -> tuple[list[tuple], list[tuple]]:
    # Every incident here is open ("active" in any window): the week holds them all.
    week = store.load_week(source=source, since="2026-01-01", until="2027-01-01")
    incidents, history = week.incidents, week.history
    return (
        list(
            zip(
                incidents["incident_id"],
                incidents["updated_at"].astype(object).where(incidents["updated_at"].notna(), None),
                incidents["state"],
                incidents["priority"],
                strict=True,
            )
        ),
        list(zip(history["incident_id"], history["assignment_group"], strict=True)),
    )


def as_expected(kept: dict[str, dict[str, Any]]) -> tuple[list[tuple], list[tuple]]:
    ids = sorted(kept)
    return (
        [
            (
                key,
                None if kept[key]["updated_at"] is None else pd.Timestamp(kept[key]["updated_at"]),
                kept[key]["state"],
                kept[key]["priority"],
            )
            for key in ids
        ],
        [(key, group) for key in ids for group in kept[key]["groups"]],
    )


def test_any_sequence_of_batches_ingested_twice_or_reordered_gives_the_same_store(
    store_url, make_batch
):
    store = Store.open(store_url)

    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(sequence=st.lists(batches, min_size=1, max_size=4), data=st.data())
    def check(sequence: list[list[dict[str, Any]]], data: st.DataObject) -> None:
        example = next(_examples)
        once, twice, shuffled = (f"{name}-{example}" for name in ("once", "twice", "shuffled"))

        for rows in sequence:
            store.save_batch(to_batch(make_batch, rows, once), source_file="f", format="t")
        for rows in sequence:
            store.save_batch(to_batch(make_batch, rows, twice), source_file="f", format="t")
        for rows in sequence:
            again = store.save_batch(to_batch(make_batch, rows, twice), source_file="f", format="t")
            assert (again.new, again.updated, again.unchanged) == (0, 0, len(rows))
        for rows in sequence:
            order = data.draw(st.permutations(range(len(rows))))
            reordered = [rows[position] for position in order]
            store.save_batch(to_batch(make_batch, reordered, shuffled), source_file="f", format="t")

        expected = as_expected(expected_store(sequence))
        assert stored(store, once) == expected
        assert stored(store, twice) == expected
        assert stored(store, shuffled) == expected

    try:
        check()
    finally:
        store.close()
