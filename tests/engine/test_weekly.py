"""The weekly review (engine/weekly.py): one call, every table, and the notes a reader needs.

The base map (tests/conftest.py): pay-api -> web -> order-to-cash (1.0, 24x7 UTC,
6000/h, criticality 1); pay-api -0.4-> hr-app -0.5-> payroll (0.2; mon-fri 09:00-17:00
UTC, 1200/h, criticality 2). Week 2026-W45 (UTC) is Monday 2026-11-02 to Monday 11-09.
"""

from __future__ import annotations

import pandas as pd
import pytest
from impactlens.engine.facts import FactRules
from impactlens.engine.hotspots import HotspotRules
from impactlens.engine.impact import build_impact_model
from impactlens.engine.misprioritised import misprioritised
from impactlens.engine.weekly import ReviewSettings, review_week, review_window
from impactlens.service_map.version import map_version

from impactlens.errors import InvalidSettingsError, InvalidWeekError
from tests.conftest import empty_history

AS_OF = pd.Timestamp("2026-11-20T00:00:00Z")
SETTINGS = ReviewSettings(hotspots=HotspotRules(baseline_weeks=2, chronic_weeks=2), trend_weeks=3)


def review(incidents, model, *, history=None, week="2026-W45", settings=SETTINGS, **options):
    return review_week(
        incidents,
        empty_history() if history is None else history,
        model,
        week=week,
        settings=settings,
        as_of=options.pop("as_of", AS_OF),
        **options,
    )


@pytest.fixture
def week_rows():
    # A web P1 Mon 10:00-11:00 (60 min of order-to-cash at 1.0: score 60, 6000.00)
    # B pay-api P2 Tue 10:00-12:00 (order-to-cash 0.6 x 120 = 72; payroll 0.6 x 0.2 x 120
    #   = 14.4 in its hours; score 72 + 0.5 x 14.4 = 79.2; value 7200 + 288 = 7488)
    # C an unknown CI, Wed (unmapped: scored 0)
    # D web P3 the week before (baseline), 11-01 23:00 -> 11-02 00:30: repeats? A is 10.5 h
    #   after D, on the same service: A is a repeat
    # E web P2 opened after as_of: left out
    return [
        {"incident_id": "A", "service_id": "web", "priority": 1},
        {"incident_id": "B", "service_id": "pay-api", "priority": 2,
         "opened_at": "2026-11-03T10:00:00Z", "resolved_at": "2026-11-03T12:00:00Z"},
        {"incident_id": "C", "ci": "FAX-9", "priority": 3,
         "opened_at": "2026-11-04T10:00:00Z", "resolved_at": "2026-11-04T11:00:00Z"},
        {"incident_id": "D", "service_id": "web", "priority": 3,
         "opened_at": "2026-11-01T23:00:00Z", "resolved_at": "2026-11-02T00:30:00Z"},
        {"incident_id": "E", "service_id": "web", "priority": 2,
         "opened_at": "2026-11-21T10:00:00Z", "resolved_at": None},
    ]  # fmt: skip


def test_the_window_is_the_week_its_baseline_and_trend_and_the_repeat_lookback():
    window = review_window("2026-W45", SETTINGS)
    assert (window.start, window.end) == (
        pd.Timestamp("2026-11-02T00:00Z"),
        pd.Timestamp("2026-11-09T00:00Z"),
    )
    assert window.hotspot_bounds[0] == pd.Timestamp("2026-10-19T00:00Z")  # 2 baseline weeks
    assert window.trend_bounds[0] == pd.Timestamp("2026-10-19T00:00Z")  # 3 trend weeks
    assert window.since == pd.Timestamp("2026-10-05T00:00Z")  # 10-19 less 14 days


def test_one_review_holds_every_table_of_the_week(make_map, make_canonical, week_rows):
    model = build_impact_model(make_map())
    found = review(make_canonical(week_rows), model)

    assert found.week == "2026-W45"
    assert found.map_version == map_version(model.service_map) == model.version
    assert set(found.facts.incidents["incident_id"]) == {"A", "B", "C", "D"}  # not E
    assert found.week_incidents["incident_id"].tolist() == ["A", "B", "C"]
    assert found.costliest["incident_id"].tolist() == ["B", "A"]  # C scored 0
    assert found.costliest["impact_score"].tolist() == pytest.approx([79.2, 60.0])
    assert found.costliest["value_at_risk"].tolist() == pytest.approx([7488.0, 6000.0])
    assert found.costliest["explanation"].tolist() == [
        "pay-api -> web -> order-to-cash",
        "web -> order-to-cash",
    ]
    coverage = found.coverage
    assert (coverage.incidents, coverage.by_ci, coverage.by_match, coverage.unmapped) == (
        3, 3 - 1, 0, 1,
    )  # fmt: skip
    assert coverage.unknown_cis == (("FAX-9", 1),)
    hotspots = found.hotspots.set_index("key")
    assert hotspots.loc["web", ["incidents", "repeats"]].tolist() == [1, 1]  # A repeats D
    assert hotspots.loc["pay-api", "repeats"] == 0
    kpis = found.kpis.set_index(["kpi", "subject"])
    assert kpis.loc[("incidents", "all"), "trend"] == [0.0, 1.0, 3.0]  # D in W44, A B C in W45
    assert kpis.loc[("repeat_rate", "all"), "value"] == pytest.approx(1 / 3)  # the same A
    # order-to-cash's timeline in W45: D's last 30 minutes (0.3 x 30 = 9), then A and B,
    # which do not overlap: 9 + 60 + 72
    assert kpis.loc[("business_minutes_lost", "Order to cash"), "value"] == pytest.approx(141.0)
    assert found.group_outages.empty and len(found.timelines) == 2 * 3  # 2 processes x 3 weeks
    assert found.process_names == {"order-to-cash": "Order to cash", "payroll": "Payroll"}
    assert found.notes == (
        "the baseline starts 2026-10-19, before the first incident (2026-11-01); weeks "
        "without data count as quiet weeks",
        "1 of the week's 3 incidents (33.3%) could not be placed on a service of the map; "
        "the most frequent unknown CIs: FAX-9 (1)",
    )


def test_mis_prioritised_incidents_come_from_the_facts_own_pairs(make_map, make_canonical):
    # A P4 on web for an hour: criticality 1 at exposure 1 suggests P1, a gap of 3; it was
    # reopened, a sign that the business was hit
    model = build_impact_model(make_map())
    rows = [{"incident_id": "A", "service_id": "web", "priority": 4, "reopen_count": 1}]
    found = review(make_canonical(rows), model)
    direct = misprioritised(found.week_incidents.reset_index(drop=True), model, as_of=AS_OF)
    pd.testing.assert_frame_equal(found.misprioritised, direct)
    assert found.misprioritised["suggested_priority"].tolist() == [1]


def test_the_same_incident_counts_the_same_whatever_the_source(make_map, make_canonical):
    # ids repeat across sources: the review keeps them apart
    model = build_impact_model(make_map())
    rows = [
        {"incident_id": "1", "service_id": "web", "priority": 4, "source": source,
         "reopen_count": 1}  # reopened: a sign the business was hit
        for source in ("jira", "snow")
    ]  # fmt: skip
    found = review(make_canonical(rows), model)
    assert len(found.week_incidents) == 2
    assert found.misprioritised["incident_id"].tolist() == ["1", "1"]


def test_a_week_without_incidents_says_where_the_data_ends(make_map, make_canonical, week_rows):
    found = review(make_canonical(week_rows), build_impact_model(make_map()), week="2026-W48",
                   as_of=pd.Timestamp("2026-12-01T00:00Z"))  # fmt: skip
    assert found.week_incidents.empty and found.hotspots.empty and found.costliest.empty
    assert "no incidents were opened in week 2026-W48; the data ends 2026-11-21" in found.notes


def test_a_week_not_over_yet_is_partial_and_no_map_is_said(make_canonical, week_rows):
    found = review(make_canonical(week_rows), None, as_of=pd.Timestamp("2026-11-03T11:00Z"))
    assert found.notes[1:3] == (
        "week 2026-W45 is not over (as of 2026-11-03 11:00 UTC): its figures are partial",
        "1 incident opened after as_of 2026-11-03 11:00 UTC is left out",  # C
    )
    assert found.week_incidents["incident_id"].tolist() == ["A", "B"]  # B still open
    assert found.notes[-1].startswith("no service map: incidents are not placed")
    assert found.map_version is None
    assert found.timelines.empty and found.misprioritised.empty and found.costliest.empty
    # without a map the key is the CI, else the category: A, B, D have CIs from make_canonical
    assert set(found.hotspots["key"]) == {"web", "pay-api"}


def test_no_data_at_all_is_said(make_map, make_canonical):
    empty = make_canonical([{"incident_id": "A", "service_id": "web"}]).iloc[:0]
    found = review(empty, build_impact_model(make_map()))
    assert found.notes[0] == "there are no incidents at all: ingest some first"


def test_a_week_that_starts_after_as_of_is_refused(make_canonical, week_rows):
    with pytest.raises(InvalidWeekError, match="week 2026-W49 starts after as_of"):
        review(make_canonical(week_rows), None, week="2026-W49")


def test_the_default_week_is_the_last_full_week_before_as_of(make_canonical, week_rows):
    found = review(make_canonical(week_rows), None, week=None)
    assert found.week == "2026-W46"  # as of Friday 2026-11-20


def test_support_tiers_follow_the_map_of_the_review(make_map, make_canonical):
    # The source said only which groups handled the incident. The map in hand names
    # Payments Ops as L3; without its tiers no rule knows the groups, and the fallback
    # says "reassigned away from its first group": L2. The map decides, at analysis.
    rows = [{"incident_id": "A", "service_id": "pay-api", "priority": 3}]
    history = pd.DataFrame(
        {
            "source": "t",
            "incident_id": ["A", "A"],
            "at": pd.to_datetime(["2026-11-02T10:00Z", "2026-11-02T10:10Z"]),
            "assignment_group": ["Front Office", "Payments Ops"],
            "support_tier": pd.array([pd.NA, pd.NA], dtype="string"),
        }
    )
    tiered = make_map(
        services=[
            {"id": "pay-api", "support_tiers": {"Front Office": "L1", "Payments Ops": "L3"}},
            {"id": "web"},
            {"id": "hr-app"},
        ]
    )
    with_tiers = review(make_canonical(rows), build_impact_model(tiered), history=history)
    plain = review(make_canonical(rows), build_impact_model(make_map()), history=history)
    assert with_tiers.facts.incidents[["support_tier", "tier_rule"]].values.tolist() == [
        ["L3", "service map"]
    ]
    assert plain.facts.incidents[["support_tier", "tier_rule"]].values.tolist() == [
        ["L2", "reassignment"]
    ]
    assert with_tiers.hotspots["reached_l3"].tolist() == [1]
    assert plain.hotspots["reached_l3"].tolist() == [0]


def test_settings_are_checked():
    with pytest.raises(InvalidSettingsError, match="cannot group hotspots by 'colour'"):
        ReviewSettings(group_by=("colour",))
    with pytest.raises(InvalidSettingsError, match="trend_weeks must be 1 or more, not 0"):
        ReviewSettings(trend_weeks=0)
    assert ReviewSettings().facts == FactRules()
