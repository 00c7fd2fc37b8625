"""The library calls every surface shares (impactlens.analysis, ingest.pipeline), on real
SQLite files: what the map decides is decided at analysis, whatever happened at ingest."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from impactlens.engine.impact import build_impact_model
from impactlens.engine.weekly import ReviewSettings
from impactlens.ingest.pipeline import ingest
from impactlens.service_map.build import build_service_map
from impactlens.service_map.load import load_service_map
from impactlens.store import Store

from impactlens.analysis import UnknownSourceError, read_csv, review, score

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
AS_OF = pd.Timestamp("2026-11-23T00:00:00Z")
NOW = pd.Timestamp("2026-11-23T00:00:00Z")

TIERED_MAP = {
    "version": 1,
    "business_processes": [{"id": "sales", "criticality": 1}],
    "services": [
        {"id": "pay", "aliases": ["PAY01"],
         "support_tiers": {"Front Office": "L1", "Payments Ops": "L2"}},
    ],
    "supports": [{"service": "pay", "process": "sales"}],
}  # fmt: skip
ONE_INCIDENT = """\
incident_id,opened_at,resolved_at,priority,ci,assignment_group
INC1,2026-11-17T10:00:00Z,2026-11-17T11:00:00Z,3,PAY01,Payments Ops
"""
ITS_HISTORY = """\
incident_id,at,assignment_group
INC1,2026-11-17T10:00:00Z,Payments Ops
"""


def open_store(path: Path) -> Store:
    return Store.open(f"sqlite:///{path}")


def test_an_incident_is_escalated_by_the_map_of_the_analysis_not_of_the_ingest(tmp_path):
    # One assignment, to Payments Ops, which the map names L2. Before, the tier was
    # decided at ingest and stored: ingested without the map, the fallback (never
    # reassigned: L1) stuck, and the incident was escalated 0 even when analysed with
    # the map; ingested with it, 1. Now nothing derived is stored; the review's map decides.
    (tmp_path / "incidents.csv").write_text(ONE_INCIDENT)
    (tmp_path / "history.csv").write_text(ITS_HISTORY)
    service_map = build_service_map(TIERED_MAP)
    model = build_impact_model(service_map)
    reviews = {}
    for given in ("with map", "without map"):
        with open_store(tmp_path / f"{given}.db") as store:
            report = ingest(
                tmp_path / "incidents.csv",
                store,
                format="csv",
                history=tmp_path / "history.csv",
                service_map=service_map if given == "with map" else None,
                now=NOW,
            )
            assert report.new == 1
            stored = store.load_incidents()
            assert stored["support_tier"].isna().all()  # what the source said: nothing
            assert stored["service_id"].isna().all()
            reviews[given] = review(
                model, settings=ReviewSettings(), as_of=AS_OF, week="2026-W47", store=store
            )
    assert report.tier_rules["reassignment"] == 1  # the report without the map: the fallback
    for found in reviews.values():
        facts = found.week_incidents
        assert facts[["service_id", "support_tier", "tier_rule"]].values.tolist() == [
            ["pay", "L2", "service map"]
        ]
        assert found.hotspots.set_index("key").loc["pay", "escalated"] == 1
    pd.testing.assert_frame_equal(reviews["with map"].hotspots, reviews["without map"].hotspots)
    # and without a map at analysis, no map tier can apply: the fallback decides
    with open_store(tmp_path / "with map.db") as store:
        plain = review(None, settings=ReviewSettings(), as_of=AS_OF, week="2026-W47", store=store)
    assert plain.week_incidents[["support_tier", "tier_rule"]].values.tolist() == [
        ["L1", "reassignment"]
    ]


@pytest.fixture(scope="module")
def fixture_stores(tmp_path_factory):
    """The fixtures ingested twice: once with the map at ingest, once without."""
    folder = tmp_path_factory.mktemp("stores")
    service_map = load_service_map(FIXTURES / "service_map.yaml")
    for given in ("with map", "without map"):
        with open_store(folder / f"{given}.db") as store:
            ingest(
                FIXTURES / "incidents.csv",
                store,
                format="csv",
                history=FIXTURES / "assignment_history.csv",
                service_map=service_map if given == "with map" else None,
                now=NOW,
            )
    return folder, build_impact_model(service_map)


def test_the_fixture_week_is_the_same_whatever_map_was_given_at_ingest(fixture_stores):
    folder, model = fixture_stores
    found = {}
    for given in ("with map", "without map"):
        with open_store(folder / f"{given}.db") as store:
            found[given] = review(
                model, settings=ReviewSettings(), as_of=AS_OF, week="2026-W47", store=store
            )
    a, b = found["with map"], found["without map"]
    for table in ("hotspots", "kpis", "misprioritised", "costliest", "group_outages"):
        pd.testing.assert_frame_equal(getattr(a, table), getattr(b, table), obj=table)
    assert a.notes == b.notes and a.coverage == b.coverage


def test_the_store_and_the_csv_give_the_same_review(fixture_stores):
    folder, model = fixture_stores
    settings = ReviewSettings()
    read = read_csv(FIXTURES / "incidents.csv", history=FIXTURES / "assignment_history.csv")
    from_csv = review(model, settings=settings, as_of=AS_OF, week="2026-W47", incidents=read)
    with open_store(folder / "without map.db") as store:
        from_store = review(model, settings=settings, as_of=AS_OF, week="2026-W47", store=store)
    for table in ("hotspots", "kpis", "misprioritised", "costliest"):
        pd.testing.assert_frame_equal(
            getattr(from_csv, table), getattr(from_store, table), obj=table
        )
    assert from_csv.map_version == from_store.map_version == model.version


def test_scores_from_the_store_equal_scores_from_the_csv(fixture_stores):
    folder, model = fixture_stores
    from_csv = score(model, as_of=AS_OF, incidents=read_csv(FIXTURES / "incidents.csv"))
    with open_store(folder / "with map.db") as store:
        from_store = score(model, as_of=AS_OF, store=store)
    columns = ["incident_id", "service_id", "impact_score", "value_at_risk", "explanation"]
    a = from_csv.facts.incidents[columns].sort_values("incident_id", ignore_index=True)
    b = from_store.facts.incidents[columns].sort_values("incident_id", ignore_index=True)
    pd.testing.assert_frame_equal(a, b)
    assert len(from_csv.rejected) == 6  # the planted bad rows
    assert from_store.rejected.empty


def test_an_unknown_source_names_the_sources_there_are(fixture_stores):
    folder, model = fixture_stores
    with open_store(folder / "with map.db") as store, pytest.raises(UnknownSourceError) as raised:
        review(model, settings=ReviewSettings(), as_of=AS_OF, store=store, source="jira")
    assert str(raised.value).endswith("holds no incidents of source 'jira' (sources there: csv)")
