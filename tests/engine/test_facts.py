"""Incident facts (engine/facts.py): one rule each for restoration, tiers, outcomes.

The base map (tests/conftest.py): web -> order-to-cash (1.0, 24x7 UTC, 6000/h,
criticality 1). Incidents open Monday 2026-11-02 10:00 UTC.
"""

from __future__ import annotations

import pandas as pd
import pytest
from impactlens.engine.facts import FACT_COLUMNS, FactRules, incident_facts
from impactlens.engine.impact import build_impact_model

AS_OF = pd.Timestamp("2026-11-03T10:00:00Z")  # a day after they opened


def test_an_incident_closed_without_a_resolution_time_ends_when_it_was_closed(
    make_map, make_canonical
):
    # A: resolved 11:00. B: no resolved_at, closed at 12:00: restored by 12:00 at the
    # latest, not open until as_of. C: neither: open, counted up to as_of (24 h).
    # web P2 (0.6) at exposure 1 to order-to-cash, 24x7:
    #   A 0.6 x 60 = 36; B 0.6 x 120 = 72; C 0.6 x 1440 = 864 impact minutes.
    incidents = make_canonical(
        [
            {"incident_id": "A", "service_id": "web"},
            {"incident_id": "B", "service_id": "web", "resolved_at": None},
            {"incident_id": "C", "service_id": "web", "resolved_at": None},
        ]
    )
    incidents.loc[1, "closed_at"] = pd.Timestamp("2026-11-02T12:00:00Z")
    facts = incident_facts(incidents, None, build_impact_model(make_map()), as_of=AS_OF)
    table = facts.incidents.set_index("incident_id")
    assert table["impact_minutes"].tolist() == pytest.approx([36.0, 72.0, 864.0])
    assert table["ttr_hours"].tolist()[:2] == [1.0, 2.0]
    assert pd.isna(table.loc["C", "ttr_hours"])
    assert table["resolved_at"].tolist()[:2] == [
        pd.Timestamp("2026-11-02T11:00:00Z"),
        pd.Timestamp("2026-11-02T12:00:00Z"),
    ]
    pairs = facts.pairs.set_index("incident_id")["impact_minutes"]
    assert pairs.tolist() == pytest.approx([36.0, 72.0, 864.0])


def test_facts_add_their_columns_and_name_the_map_version(make_map, make_canonical):
    model = build_impact_model(make_map())
    incidents = make_canonical([{"incident_id": "A", "service_id": "web"}])
    facts = incident_facts(incidents, None, model, as_of=AS_OF)
    assert set(FACT_COLUMNS) <= set(facts.incidents.columns)
    assert facts.map_version == model.version
    assert incident_facts(incidents, None, None, as_of=AS_OF).map_version is None


def test_repeats_reopens_and_the_repeat_window(make_map, make_canonical):
    # web at 10:00 on 11-02, again on 11-09 10:00 (7 days) and 11-20 10:00 (11 days);
    # pay-api once. With 14 days both later web incidents repeat; with 7 only the second.
    rows = [
        {"incident_id": "A", "service_id": "web"},
        {"incident_id": "B", "service_id": "web", "opened_at": "2026-11-09T10:00:00Z",
         "resolved_at": "2026-11-09T11:00:00Z", "reopen_count": 2},
        {"incident_id": "C", "service_id": "web", "opened_at": "2026-11-20T10:00:00Z",
         "resolved_at": "2026-11-20T11:00:00Z"},
        {"incident_id": "D", "service_id": "pay-api"},
    ]  # fmt: skip
    incidents = make_canonical(rows)
    incidents["reopen_count"] = pd.array([0, 2, 0, pd.NA], dtype="Int64")
    model = build_impact_model(make_map())
    as_of = pd.Timestamp("2026-11-21T00:00:00Z")
    fortnight = incident_facts(incidents, None, model, as_of=as_of).incidents
    week = incident_facts(incidents, None, model, as_of=as_of, rules=FactRules(repeat_days=7))
    assert fortnight["repeat"].tolist() == [False, True, True, False]
    assert week.incidents["repeat"].tolist() == [False, True, False, False]
    assert fortnight["reopened"].tolist() == [False, True, False, False]
