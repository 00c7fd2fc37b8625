"""What-if (engine/whatif.py), every number worked out by hand.

The base map (tests/conftest.py):

    pay-api --1.0--> web    --1.0--> order-to-cash  (criticality 1, 24x7 UTC, 6000/h)
    pay-api --0.4--> hr-app --0.5--> payroll        (criticality 2, mon-fri 09:00-17:00
                                                     UTC, 1200/h)
    priority weights 1: 1.0, 2: 0.6, 3: 0.3, 4: 0.1, 5: 0.0

The week is 2026-W45 (UTC): Monday 2026-11-02 to Monday 2026-11-09; incidents are on
Monday 2026-11-02, inside payroll's hours.
"""

from __future__ import annotations

import pandas as pd
import pytest
from impactlens.engine.impact import build_impact_model
from impactlens.engine.weekly import ReviewSettings, review_week
from impactlens.engine.whatif import (
    WHATIF_COLUMNS,
    UnknownHotspotError,
    compare_timelines,
    savings_sentence,
    whatif_map,
    whatif_without,
)

from impactlens.errors import InvalidSettingsError
from tests.conftest import empty_history

WEEK = "2026-W45"
AS_OF = pd.Timestamp("2026-11-20T00:00:00Z")


def reviewed(incidents: pd.DataFrame, model):
    """Week 2026-W45 of canonical `incidents`, reviewed with `model`."""
    return review_week(
        incidents, empty_history(), model, week=WEEK, settings=ReviewSettings(), as_of=AS_OF
    )


def timelines(rows: list[tuple[str, int, float, float]]) -> pd.DataFrame:
    return pd.DataFrame.from_records(
        rows, columns=["process_id", "period", "impact_minutes", "value_at_risk"]
    )


def records(diff: pd.DataFrame) -> list[dict]:
    return diff.to_dict("records")


# --- compare_timelines ------------------------------------------------------------------


def test_compare_timelines_joins_sums_drops_zero_rows_and_sorts():
    before = timelines(
        [
            ("otc", 0, 30.0, 3000.0),
            ("otc", 1, 60.0, 6000.0),  # otc: 90 minutes, 9000 over the two periods
            ("pay", 0, 10.0, 200.0),
            ("abc", 0, 10.0, 150.0),
            ("zero", 0, 0.0, 0.0),  # no impact either way: left out
        ]
    )
    after = timelines(
        [
            ("otc", 0, 20.0, 2000.0),
            ("mkt", 0, 5.0, 50.0),  # only after (a process of the new map)
            ("zero", 0, 0.0, 0.0),
        ]
    )
    diff = compare_timelines(
        before, after, process_names={"otc": "Order to cash", "pay": "Payroll"}
    )
    assert tuple(diff.columns) == WHATIF_COLUMNS
    # saved: otc 90 - 20 = 70 (9000 - 2000 = 7000); abc 10 (150) and pay 10 (200), tied
    # on minutes: by id; mkt 0 - 5 = -5 (-50). Names: ids where none is given.
    assert records(diff) == [
        {"process_id": "otc", "process": "Order to cash", "impact_minutes_before": 90.0,
         "impact_minutes_after": 20.0, "minutes_saved": 70.0, "value_at_risk_before": 9000.0,
         "value_at_risk_after": 2000.0, "value_saved": 7000.0},
        {"process_id": "abc", "process": "abc", "impact_minutes_before": 10.0,
         "impact_minutes_after": 0.0, "minutes_saved": 10.0, "value_at_risk_before": 150.0,
         "value_at_risk_after": 0.0, "value_saved": 150.0},
        {"process_id": "pay", "process": "Payroll", "impact_minutes_before": 10.0,
         "impact_minutes_after": 0.0, "minutes_saved": 10.0, "value_at_risk_before": 200.0,
         "value_at_risk_after": 0.0, "value_saved": 200.0},
        {"process_id": "mkt", "process": "mkt", "impact_minutes_before": 0.0,
         "impact_minutes_after": 5.0, "minutes_saved": -5.0, "value_at_risk_before": 0.0,
         "value_at_risk_after": 50.0, "value_saved": -50.0},
    ]  # fmt: skip


def test_compare_timelines_with_nothing_either_way_is_empty():
    empty = timelines([("otc", 0, 0.0, 0.0)])
    diff = compare_timelines(empty, empty, process_names={})
    assert tuple(diff.columns) == WHATIF_COLUMNS
    assert diff.empty


# --- savings_sentence -------------------------------------------------------------------


def diff_of(rows: list[tuple[str, float, float]]) -> pd.DataFrame:
    return pd.DataFrame.from_records(rows, columns=["process", "minutes_saved", "value_saved"])


def test_sentence_when_minutes_are_saved():
    diff = diff_of([("Order to cash", 70.0, 7000.0), ("Payroll", 10.0, 200.0), ("X", 0.0, 0.0)])
    # the top row is named; in all 70 + 10 = 80 minutes and 7000 + 200 = 7,200.00
    assert savings_sentence(diff, "fixing hotspot pay-api") == (
        "fixing hotspot pay-api would have saved 70 business minutes of Order to cash "
        "(7,000.00 of value at risk); 80 business minutes and 7,200.00 in all"
    )


def test_sentence_when_minutes_are_added():
    diff = diff_of([("Payroll", -1234.0, -24680.5)])
    sentence = savings_sentence(diff, "the map new.yaml")
    assert sentence.startswith(
        "the map new.yaml would have added 1,234 business minutes of Payroll "
        "(24,680.50 of value at risk); "
    )


def test_sentence_when_minutes_are_added_to_several_processes():
    # A change that only adds: compare_timelines lists the least added first (most saved
    # first: -5 before -30). The sentence should name the process with the most added,
    # Sales (30), and say the total added in the verb's own sign: 5 + 30 = 35 minutes,
    # 100 + 3000 = 3,100.00.
    diff = diff_of([("Payroll", -5.0, -100.0), ("Sales", -30.0, -3000.0)])
    assert savings_sentence(diff, "the map new.yaml") == (
        "the map new.yaml would have added 30 business minutes of Sales (3,000.00 of value "
        "at risk); 35 business minutes and 3,100.00 in all"
    )


@pytest.mark.parametrize(
    "rows", [[], [("Payroll", 0.0, 0.0)], [("Payroll", 0.004, 0.08), ("Sales", -0.005, -1.0)]]
)
def test_sentence_when_nothing_changes(rows):
    # changes of at most 0.005 minutes are no change
    assert savings_sentence(diff_of(rows), "fixing hotspot web") == (
        "fixing hotspot web would have changed no business impact"
    )


# --- whatif_without ---------------------------------------------------------------------


def test_removing_one_of_two_overlapping_incidents_saves_only_where_it_was_larger(
    make_map, make_canonical
):
    # A web P1 (1.0) 10:00-11:00; B pay-api P3 (0.3) 10:30-12:00, Monday 2026-11-02.
    # order-to-cash level: 10:00-10:30 1.0 (A); 10:30-11:00 max(1.0, 0.3) = 1.0;
    #   11:00-12:00 0.3 (B) -> 30 + 30 + 18 = 78 minutes, 7800.00
    # payroll: only B reaches it, 0.3 x 0.2 = 0.06 over 90 minutes = 5.4, 108.00
    # Without A: order-to-cash is B alone, 0.3 x 90 = 27 (2700.00): A's own 60 minutes
    #   save only 78 - 27 = 51 = 1.0 x 30 + (1.0 - 0.3) x 30; payroll is untouched.
    model = build_impact_model(make_map())
    review = reviewed(
        make_canonical(
            [
                {"service_id": "web", "priority": 1, "opened_at": "2026-11-02T10:00:00Z",
                 "resolved_at": "2026-11-02T11:00:00Z"},
                {"service_id": "pay-api", "priority": 3, "opened_at": "2026-11-02T10:30:00Z",
                 "resolved_at": "2026-11-02T12:00:00Z"},
            ]
        ),
        model,
    )  # fmt: skip
    answer = whatif_without(review, model, key="web")
    assert answer.incidents == 1
    without_a = answer.table
    assert tuple(without_a.columns) == WHATIF_COLUMNS
    assert records(without_a) == [
        {"process_id": "order-to-cash", "process": "Order to cash",
         "impact_minutes_before": pytest.approx(78.0), "impact_minutes_after": pytest.approx(27.0),
         "minutes_saved": pytest.approx(51.0), "value_at_risk_before": pytest.approx(7800.0),
         "value_at_risk_after": pytest.approx(2700.0), "value_saved": pytest.approx(5100.0)},
        {"process_id": "payroll", "process": "Payroll",
         "impact_minutes_before": pytest.approx(5.4), "impact_minutes_after": pytest.approx(5.4),
         "minutes_saved": pytest.approx(0.0, abs=1e-9),
         "value_at_risk_before": pytest.approx(108.0), "value_at_risk_after": pytest.approx(108.0),
         "value_saved": pytest.approx(0.0, abs=1e-9)},
    ]  # fmt: skip

    # Without B: order-to-cash is A alone, 60 (saves 78 - 60 = 18, 1800.00); payroll
    # loses all of its 5.4 (108.00).
    without_b = whatif_without(review, model, key="pay-api").table
    got = without_b.set_index("process_id")
    assert got["minutes_saved"].to_dict() == pytest.approx({"order-to-cash": 18.0, "payroll": 5.4})
    assert got["value_saved"].to_dict() == pytest.approx(
        {"order-to-cash": 1800.0, "payroll": 108.0}
    )
    assert got.loc["payroll", "impact_minutes_after"] == 0.0
    assert without_b["process_id"].tolist() == ["order-to-cash", "payroll"]  # most saved first


def test_removing_an_incident_outside_the_process_saves_nothing(make_map, make_canonical):
    # web P2 10:00-11:00: 0.6 x 60 = 36 minutes of order-to-cash before and after; the
    # hr-app incident is on a Saturday, outside payroll's hours: removing it saves nothing
    model = build_impact_model(make_map())
    review = reviewed(
        make_canonical(
            [
                {"service_id": "web", "priority": 2},
                {"service_id": "hr-app", "priority": 2, "opened_at": "2026-11-07T10:00:00Z",
                 "resolved_at": "2026-11-07T11:00:00Z"},
            ]
        ),
        model,
    )  # fmt: skip
    diff = whatif_without(review, model, key="hr-app").table
    assert diff["process_id"].tolist() == ["order-to-cash"]
    assert diff["impact_minutes_before"].tolist() == pytest.approx([36.0])
    assert diff["minutes_saved"].tolist() == [0.0]
    assert savings_sentence(diff, "nothing") == "nothing would have changed no business impact"


def test_a_key_no_incident_of_the_week_has_is_refused_with_close_matches(make_map, make_canonical):
    model = build_impact_model(make_map())
    review = reviewed(make_canonical([{"service_id": "web", "priority": 2}]), model)
    with pytest.raises(
        UnknownHotspotError,
        match=r"no incident of week 2026-W45 has the key 'webb' \(did you mean web\?\)",
    ):
        whatif_without(review, model, key="webb")


# --- whatif_map -------------------------------------------------------------------------


def test_a_hard_dependency_made_redundant_saves_everything(make_map, make_canonical):
    # Before: web and hr-app depend on pay-api directly. An incident on pay-api, P2
    # (0.6), Monday 10:00-12:00 (120 minutes, all inside payroll's hours):
    #   order-to-cash 0.6 x 1.0 x 120 = 72 (7200.00); payroll 0.6 x 0.2 x 120 = 14.4
    #   (14.4 / 60 x 1200 = 288.00)
    # After: they depend on pay-pool, pay-api or pay-api-b with min_up 1. pay-api alone
    # down leaves one member up: exposure 0, nothing lost. Everything is saved.
    before = build_impact_model(make_map())
    after = build_impact_model(
        make_map(
            services=[
                {"id": "pay-api", "name": "Payments API"},
                {"id": "pay-api-b", "name": "Payments API (second site)"},
                {"id": "pay-pool", "kind": "redundancy_group",
                 "members": ["pay-api", "pay-api-b"], "min_up": 1},
                {"id": "web", "name": "Web shop"},
                {"id": "hr-app", "name": "HR application"},
            ],
            dependencies=[
                {"from": "web", "to": "pay-pool"},
                {"from": "hr-app", "to": "pay-pool", "weight": 0.4},
            ],
        )
    )  # fmt: skip
    # canonical incidents: whatif_map resolves each map's service from the CI
    incidents = make_canonical(
        [{"ci": "PAY-API", "priority": 2, "resolved_at": "2026-11-02T12:00:00Z"}]
    )
    answer = whatif_map(reviewed(incidents, before), after)
    assert answer.incidents == 0  # pay-api is a service of both maps
    diff = answer.table
    assert records(diff) == [
        {"process_id": "order-to-cash", "process": "Order to cash",
         "impact_minutes_before": pytest.approx(72.0), "impact_minutes_after": 0.0,
         "minutes_saved": pytest.approx(72.0), "value_at_risk_before": pytest.approx(7200.0),
         "value_at_risk_after": 0.0, "value_saved": pytest.approx(7200.0)},
        {"process_id": "payroll", "process": "Payroll",
         "impact_minutes_before": pytest.approx(14.4), "impact_minutes_after": 0.0,
         "minutes_saved": pytest.approx(14.4), "value_at_risk_before": pytest.approx(288.0),
         "value_at_risk_after": 0.0, "value_saved": pytest.approx(288.0)},
    ]  # fmt: skip
    assert savings_sentence(diff, "the pool") == (
        "the pool would have saved 72 business minutes of Order to cash (7,200.00 of value "
        "at risk); 86 business minutes and 7,488.00 in all"
    )


def test_both_members_down_together_is_a_group_outage_after_the_change(make_map, make_canonical):
    # The same change, with pay-api P2 10:00-12:00 and pay-api-b P3 (0.3) 11:00-11:30.
    # Before: pay-api-b is not in the map (unmapped), so as above: 72 and 14.4.
    # After: both down 11:00-11:30: the group's severity is the 2nd largest (k = 2 - 1 +
    # 1 = 2) member severity, 0.3, for 30 minutes: order-to-cash 0.3 x 30 = 9 (900.00);
    # payroll 0.3 x 0.2 x 30 = 1.8 (36.00). Saved: 63 (6300.00) and 12.6 (252.00).
    before = build_impact_model(make_map())
    after = build_impact_model(
        make_map(
            services=[
                {"id": "pay-api"},
                {"id": "pay-api-b"},
                {"id": "pay-pool", "kind": "redundancy_group",
                 "members": ["pay-api", "pay-api-b"], "min_up": 1},
                {"id": "web"},
                {"id": "hr-app"},
            ],
            dependencies=[
                {"from": "web", "to": "pay-pool"},
                {"from": "hr-app", "to": "pay-pool", "weight": 0.4},
            ],
        )
    )  # fmt: skip
    incidents = make_canonical(
        [
            {"ci": "pay-api", "priority": 2, "resolved_at": "2026-11-02T12:00:00Z"},
            {"ci": "pay-api-b", "priority": 3, "opened_at": "2026-11-02T11:00:00Z",
             "resolved_at": "2026-11-02T11:30:00Z"},
        ]
    )  # fmt: skip
    answer = whatif_map(reviewed(incidents, before), after)
    assert answer.incidents == 1  # pay-api-b: unmapped before, a member after
    got = answer.table.set_index("process_id")
    assert got["impact_minutes_after"].to_dict() == pytest.approx(
        {"order-to-cash": 9.0, "payroll": 1.8}
    )
    assert got["minutes_saved"].to_dict() == pytest.approx({"order-to-cash": 63.0, "payroll": 12.6})
    assert got["value_saved"].to_dict() == pytest.approx(
        {"order-to-cash": 6300.0, "payroll": 252.0}
    )


def test_a_new_map_that_places_none_of_the_weeks_incidents_is_refused(make_map, make_canonical):
    before = build_impact_model(make_map())
    after = build_impact_model(
        make_map(
            services=[{"id": "other"}],
            dependencies=[],
            supports=[{"service": "other", "process": "order-to-cash"}],
        )
    )
    review = reviewed(make_canonical([{"service_id": "web", "priority": 2}]), before)
    with pytest.raises(
        InvalidSettingsError,
        match="the new map places none of the 1 incident active in week 2026-W45",
    ):
        whatif_map(review, after)
