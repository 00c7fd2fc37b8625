"""Impact scoring (DESIGN.md "Impact semantics"), every number worked out by hand.

The base map (tests/conftest.py):

    order-to-cash  criticality 1 (tier weight 1.0), 6000/h, 24x7, UTC
    payroll        criticality 2 (tier weight 0.5), 1200/h, mon-fri 09:00-17:00, UTC
    exposure(pay-api): order-to-cash 1.0, payroll 0.4 x 0.5 = 0.2
    exposure(web): order-to-cash 1.0;  exposure(hr-app): payroll 0.5
    priority weights 1: 1.0, 2: 0.6, 3: 0.3, 4: 0.1, 5: 0.0

Calendar: 2026-11-06 and 2026-10-30 are Fridays, 2026-11-01 is a Sunday (US clocks go
back 02:00 EDT -> 01:00 EST), 2026-11-02 and 2026-11-09 are Mondays.
"""

from __future__ import annotations

import hypothesis.strategies as st
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from impactlens.engine.impact import (
    INCIDENT_SCORE_COLUMNS,
    PROCESS_IMPACT_COLUMNS,
    build_impact_model,
    explain,
    process_impacts,
    score_incidents,
)

from impactlens.errors import MissingColumnsError

AS_OF = pd.Timestamp("2026-11-20T00:00:00Z")  # a Friday, after every incident below


def scores(frame: pd.DataFrame, service_map, *, as_of=AS_OF) -> dict[str, dict]:
    out = score_incidents(frame, build_impact_model(service_map), as_of=as_of)
    assert list(out.columns[: len(INCIDENT_SCORE_COLUMNS)]) == list(INCIDENT_SCORE_COLUMNS)
    assert len(out) == len(frame)
    return {row["incident_id"]: row for row in out.to_dict("records")}


def pairs(frame: pd.DataFrame, service_map, *, as_of=AS_OF) -> dict[tuple[str, str], dict]:
    out = process_impacts(frame, build_impact_model(service_map), as_of=as_of)
    assert list(out.columns) == list(PROCESS_IMPACT_COLUMNS)
    keyed = {(row["incident_id"], row["process_id"]): row for row in out.to_dict("records")}
    assert len(keyed) == len(out)
    return keyed


def missing(value) -> bool:
    return value is None or bool(pd.isna(value))


# --------------------------------------------------------------------------- one incident


WEEKEND = {  # Fri 16:00 UTC -> Mon 10:00 UTC on pay-api, P2
    "incident_id": "WKND",
    "service_id": "pay-api",
    "priority": 2,
    "opened_at": "2026-11-06T16:00:00Z",
    "resolved_at": "2026-11-09T10:00:00Z",
}


def test_weekend_incident_on_24x7_and_office_hours_processes(make_map, make_incidents):
    row = scores(make_incidents([WEEKEND]), make_map())["WKND"]
    assert row["mapped"]
    assert row["severity"] == pytest.approx(0.6)  # P2
    # order-to-cash 24x7: Fri 16:00 -> Mon 10:00 = 8 h + 48 h + 10 h = 66 h = 3960 min
    #   0.6 x 1.0 x 3960 = 2376
    # payroll mon-fri 09-17: Fri 16:00-17:00 (60) + Mon 09:00-10:00 (60) = 120 min
    #   0.6 x 0.2 x 120 = 14.4
    assert row["impact_minutes"] == pytest.approx(2390.4)  # 2376 + 14.4
    assert row["impact_score"] == pytest.approx(2383.2)  # 1.0 x 2376 + 0.5 x 14.4
    assert row["value_at_risk"] == pytest.approx(237888.0)  # 2376/60x6000 + 14.4/60x1200
    assert row["top_process"] == "order-to-cash"  # 2376 vs 0.5 x 14.4 = 7.2
    assert row["explanation"] == "pay-api -> web -> order-to-cash"


def test_process_impacts_rows_for_the_weekend_incident(make_map, make_incidents):
    rows = pairs(make_incidents([WEEKEND]), make_map())
    assert set(rows) == {("WKND", "order-to-cash"), ("WKND", "payroll")}
    o2c, payroll = rows["WKND", "order-to-cash"], rows["WKND", "payroll"]
    assert o2c["exposure"] == pytest.approx(1.0)
    assert o2c["business_minutes"] == pytest.approx(3960.0)  # 66 h
    assert o2c["impact_minutes"] == pytest.approx(2376.0)  # 0.6 x 1.0 x 3960
    assert o2c["value_at_risk"] == pytest.approx(237600.0)  # 2376 / 60 x 6000
    assert payroll["exposure"] == pytest.approx(0.2)  # 0.4 x 0.5
    assert payroll["business_minutes"] == pytest.approx(120.0)  # Fri 60 + Mon 60
    assert payroll["impact_minutes"] == pytest.approx(14.4)  # 0.6 x 0.2 x 120
    assert payroll["value_at_risk"] == pytest.approx(288.0)  # 14.4 / 60 x 1200


def test_office_hours_process_during_the_week(make_map, make_incidents):
    frame = make_incidents(
        [
            {
                "incident_id": "HR",
                "service_id": "hr-app",
                "priority": 3,
                "opened_at": "2026-11-09T08:00:00Z",
                "resolved_at": "2026-11-09T12:00:00Z",
            }
        ]
    )
    row = scores(frame, make_map())["HR"]
    # payroll: Mon 09:00-12:00 = 180 min (08:00-09:00 is before hours)
    assert row["impact_minutes"] == pytest.approx(27.0)  # 0.3 x 0.5 x 180
    assert row["impact_score"] == pytest.approx(13.5)  # 0.5 x 27
    assert row["value_at_risk"] == pytest.approx(540.0)  # 27 / 60 x 1200
    assert row["top_process"] == "payroll"
    assert row["explanation"] == "hr-app -> payroll (x0.5)"


def test_incident_wholly_outside_business_hours_scores_zero_but_names_the_threat(
    make_map, make_incidents
):
    frame = make_incidents(
        [
            {
                "incident_id": "SAT",
                "service_id": "hr-app",
                "priority": 1,
                "opened_at": "2026-11-07T10:00:00Z",
                "resolved_at": "2026-11-07T14:00:00Z",
            }
        ]
    )
    row = scores(frame, make_map())["SAT"]
    # Saturday: payroll (mon-fri) has 0 business minutes -> 1.0 x 0.5 x 0 = 0
    assert (row["mapped"], row["impact_minutes"], row["impact_score"], row["value_at_risk"]) == (
        True,
        0.0,
        0.0,
        0.0,
    )
    assert row["top_process"] == "payroll"  # the only process it threatens
    assert row["explanation"] == "hr-app -> payroll (x0.5)"


# --------------------------------------------------------------------------- as_of


def test_open_incident_counts_up_to_as_of(make_map, make_incidents):
    frame = make_incidents(
        [
            {
                "incident_id": "OPEN",
                "service_id": "web",
                "priority": 1,
                "opened_at": "2026-11-19T22:00:00Z",
                "resolved_at": None,
            }
        ]
    )
    row = scores(frame, make_map())["OPEN"]
    # 22:00 -> as_of 00:00 = 120 min of 24x7; 1.0 x 1.0 x 120 = 120
    assert row["impact_minutes"] == pytest.approx(120.0)
    assert row["impact_score"] == pytest.approx(120.0)  # tier 1.0 x 120
    assert row["value_at_risk"] == pytest.approx(12000.0)  # 120 / 60 x 6000


def test_incident_resolved_after_as_of_is_clipped(make_map, make_incidents):
    frame = make_incidents(
        [
            {
                "incident_id": "LATE",
                "service_id": "web",
                "priority": 4,
                "opened_at": "2026-11-19T23:00:00Z",
                "resolved_at": "2026-11-21T00:00:00Z",
            },
            {
                "incident_id": "FUTURE",
                "service_id": "web",
                "priority": 1,
                "opened_at": "2026-11-20T06:00:00Z",
                "resolved_at": "2026-11-20T07:00:00Z",
            },
        ]
    )
    rows = scores(frame, make_map())
    # 23:00 -> as_of 00:00 = 60 min; 0.1 (P4) x 1.0 x 60 = 6
    assert rows["LATE"]["impact_minutes"] == pytest.approx(6.0)
    assert rows["LATE"]["value_at_risk"] == pytest.approx(600.0)  # 6 / 60 x 6000
    # opened after as_of: nothing after as_of counts
    assert rows["FUTURE"]["impact_minutes"] == 0.0


def test_naive_as_of_means_utc(make_map, make_incidents):
    frame = make_incidents(
        [
            {
                "incident_id": "OPEN",
                "service_id": "web",
                "priority": 1,
                "opened_at": "2026-11-19T22:00:00Z",
                "resolved_at": None,
            }
        ]
    )
    row = scores(frame, make_map(), as_of=pd.Timestamp("2026-11-20T00:00:00"))["OPEN"]
    assert row["impact_minutes"] == pytest.approx(120.0)  # 22:00 -> 00:00 UTC


# --------------------------------------------------------------------------- mapping


def test_unmapped_incident_is_kept_and_scored_zero(make_map, make_incidents):
    frame = make_incidents(
        [
            {"incident_id": "NOSVC", "service_id": None, "priority": 1},
            {"incident_id": "FAX", "service_id": "fax-9", "priority": 1},
            {"incident_id": "OK", "service_id": "web", "priority": 1},  # Mon 10:00-11:00
        ]
    )
    rows = scores(frame, make_map())
    for incident in ("NOSVC", "FAX"):
        row = rows[incident]
        assert not row["mapped"]
        assert (row["impact_minutes"], row["impact_score"], row["value_at_risk"]) == (0, 0, 0)
        assert missing(row["top_process"])
    assert rows["OK"]["mapped"]
    assert rows["OK"]["impact_minutes"] == pytest.approx(60.0)  # 1.0 x 1.0 x 60
    assert set(pairs(frame, make_map())) == {("OK", "order-to-cash")}


def redundant_map(make_map):
    # web depends on db-cluster (db-a, db-b, min_up 1); web serves order-to-cash
    return make_map(
        business_processes=[{"id": "order-to-cash", "criticality": 1, "value_per_hour": 6000}],
        services=[
            {"id": "web"},
            {"id": "db-a"},
            {"id": "db-b"},
            {
                "id": "db-cluster",
                "kind": "redundancy_group",
                "members": ["db-a", "db-b"],
                "min_up": 1,
            },
        ],
        dependencies=[{"from": "web", "to": "db-cluster"}],
        supports=[{"service": "web", "process": "order-to-cash"}],
    )


def test_redundant_member_is_mapped_scored_zero_and_explained(make_map, make_incidents):
    frame = make_incidents(
        [
            {"incident_id": "MEMBER", "service_id": "db-a", "priority": 1},
            {"incident_id": "GROUP", "service_id": "db-cluster", "priority": 1},
        ]
    )
    rows = scores(frame, redundant_map(make_map))
    member = rows["MEMBER"]
    assert member["mapped"]
    # db-a down leaves 1 of 2 up >= min_up 1: exposure 0 -> 0
    assert (member["impact_minutes"], member["impact_score"], member["value_at_risk"]) == (
        0.0,
        0.0,
        0.0,
    )
    assert "db-cluster" in member["explanation"]
    assert "min_up 1" in member["explanation"]
    # the group itself failing: 1.0 x 1.0 x 60 min (Mon 10:00-11:00)
    assert rows["GROUP"]["impact_minutes"] == pytest.approx(60.0)
    assert rows["GROUP"]["explanation"] == "db-cluster -> web -> order-to-cash"
    assert set(pairs(frame, redundant_map(make_map))) == {("GROUP", "order-to-cash")}


# --------------------------------------------------------------------------- weights


def test_p5_has_severity_zero(make_map, make_incidents):
    frame = make_incidents([{"incident_id": "P5", "service_id": "pay-api", "priority": 5}])
    row = scores(frame, make_map())["P5"]
    assert row["mapped"]
    assert row["severity"] == 0.0
    assert (row["impact_minutes"], row["impact_score"], row["value_at_risk"]) == (0, 0, 0)


def test_every_default_priority_weight(make_map, make_incidents):
    frame = make_incidents(
        [{"incident_id": f"P{k}", "service_id": "web", "priority": k} for k in range(1, 6)]
    )
    rows = scores(frame, make_map())
    # web, Mon 10:00-11:00: 60 min of order-to-cash at exposure 1.0
    assert [rows[f"P{k}"]["severity"] for k in range(1, 6)] == pytest.approx(
        [1.0, 0.6, 0.3, 0.1, 0.0]
    )
    assert [rows[f"P{k}"]["impact_minutes"] for k in range(1, 6)] == pytest.approx(
        [60.0, 36.0, 18.0, 6.0, 0.0]
    )  # weight x 60


def test_custom_scoring_weights_come_from_the_map(make_map, make_incidents):
    m = make_map(scoring={"priority_weights": {2: 0.8}, "tier_weights": {1: 2.0, 2: 0.25}})
    frame = make_incidents(
        [
            {
                "incident_id": "C",
                "service_id": "pay-api",
                "priority": 2,
                "opened_at": "2026-11-09T09:00:00Z",
                "resolved_at": "2026-11-09T10:00:00Z",
            }
        ]
    )
    row = scores(frame, m)["C"]
    # both processes open Mon 09:00-10:00: 60 min each
    # order-to-cash: 0.8 x 1.0 x 60 = 48;  payroll: 0.8 x 0.2 x 60 = 9.6
    assert row["severity"] == pytest.approx(0.8)
    assert row["impact_minutes"] == pytest.approx(57.6)  # 48 + 9.6
    assert row["impact_score"] == pytest.approx(98.4)  # 2.0 x 48 + 0.25 x 9.6
    assert row["value_at_risk"] == pytest.approx(4992.0)  # 48/60x6000 + 9.6/60x1200


# --------------------------------------------------------------------------- top process


def two_process_map(make_map):
    # x serves audit (criticality 3, tier 0.2, 24x7) at 1.0 and sales (criticality 1,
    # tier 1.0, mon-fri 09-17) at 0.5: weights audit 0.2 x 1.0 = 0.2, sales 1.0 x 0.5 = 0.5
    return make_map(
        business_processes=[
            {"id": "audit", "criticality": 3, "value_per_hour": 100},
            {
                "id": "sales",
                "criticality": 1,
                "value_per_hour": 600,
                "hours": "mon-fri 09:00-17:00",
            },
        ],
        services=[{"id": "x"}],
        dependencies=[],
        supports=[
            {"service": "x", "process": "audit"},
            {"service": "x", "process": "sales", "weight": 0.5},
        ],
    )


def test_top_process_is_the_largest_contribution_to_the_score(make_map, make_incidents):
    frame = make_incidents(
        [
            # Mon 09:00-10:00: audit 0.2 x 60 = 12, sales 0.5 x 60 = 30 -> sales
            {
                "incident_id": "MORNING",
                "service_id": "x",
                "priority": 1,
                "opened_at": "2026-11-09T09:00:00Z",
                "resolved_at": "2026-11-09T10:00:00Z",
            },
            # Mon 16:00-20:00: audit 0.2 x 240 = 48, sales 0.5 x 60 = 30 -> audit
            {
                "incident_id": "EVENING",
                "service_id": "x",
                "priority": 1,
                "opened_at": "2026-11-09T16:00:00Z",
                "resolved_at": "2026-11-09T20:00:00Z",
            },
            # Sat 10:00-11:00: audit 0.2 x 60 = 12, sales closed -> audit
            {
                "incident_id": "SATURDAY",
                "service_id": "x",
                "priority": 1,
                "opened_at": "2026-11-07T10:00:00Z",
                "resolved_at": "2026-11-07T11:00:00Z",
            },
        ]
    )
    rows = scores(frame, two_process_map(make_map))
    assert rows["MORNING"]["top_process"] == "sales"
    assert rows["MORNING"]["explanation"] == "x -> sales (x0.5)"
    assert rows["EVENING"]["top_process"] == "audit"
    assert rows["EVENING"]["explanation"] == "x -> audit"
    assert rows["SATURDAY"]["top_process"] == "audit"
    # EVENING: impact minutes 1.0 x 240 + 0.5 x 60 = 270; score 0.2 x 240 + 1.0 x 30 = 78
    assert rows["EVENING"]["impact_minutes"] == pytest.approx(270.0)
    assert rows["EVENING"]["impact_score"] == pytest.approx(78.0)
    # value: 240/60 x 100 + 30/60 x 600 = 400 + 300 = 700
    assert rows["EVENING"]["value_at_risk"] == pytest.approx(700.0)


# --------------------------------------------------------------------------- explanations


def test_explain_shows_soft_factors(make_map):
    model = build_impact_model(make_map())
    assert explain(model, "pay-api", "order-to-cash") == "pay-api -> web -> order-to-cash"
    assert explain(model, "pay-api", "payroll") == "pay-api -> hr-app (x0.4) -> payroll (x0.5)"
    assert explain(model, "web", "payroll") == ""  # web does not reach payroll


def test_explanation_column_with_soft_factors(make_map, make_incidents):
    # without web, pay-api reaches only payroll: 0.4 x 0.5 = 0.2
    m = make_map(supports=[{"service": "hr-app", "process": "payroll", "weight": 0.5}])
    frame = make_incidents([{"incident_id": "PAY", "service_id": "pay-api", "priority": 1}])
    row = scores(frame, m)["PAY"]
    assert row["top_process"] == "payroll"
    assert row["explanation"] == "pay-api -> hr-app (x0.4) -> payroll (x0.5)"
    # Mon 10:00-11:00 inside payroll hours: 1.0 x 0.2 x 60 = 12; score 0.5 x 12 = 6
    assert row["impact_minutes"] == pytest.approx(12.0)
    assert row["impact_score"] == pytest.approx(6.0)


# --------------------------------------------------------------------------- time zones


def new_york_map(make_map):
    # trade serves ny-desk (crit 1, mon-fri 09-17 New York) and ny-ops (crit 2, 24x7 NY)
    return make_map(
        business_processes=[
            {
                "id": "ny-desk",
                "criticality": 1,
                "value_per_hour": 600,
                "hours": "mon-fri 09:00-17:00",
                "timezone": "America/New_York",
            },
            {
                "id": "ny-ops",
                "criticality": 2,
                "value_per_hour": 60,
                "hours": "24x7",
                "timezone": "America/New_York",
            },
        ],
        services=[{"id": "trade"}],
        dependencies=[],
        supports=[
            {"service": "trade", "process": "ny-desk"},
            {"service": "trade", "process": "ny-ops"},
        ],
    )


NY_INCIDENTS = [
    # Fri 20:00Z = 16:00 EDT (UTC-4) -> Mon 15:00Z = 10:00 EST (UTC-5), across the change
    {
        "incident_id": "DST",
        "service_id": "trade",
        "priority": 1,
        "opened_at": "2026-10-30T20:00:00Z",
        "resolved_at": "2026-11-02T15:00:00Z",
    },
    # before the change: Fri 12:00Z-14:00Z = 08:00-10:00 EDT
    {
        "incident_id": "EDT",
        "service_id": "trade",
        "priority": 1,
        "opened_at": "2026-10-30T12:00:00Z",
        "resolved_at": "2026-10-30T14:00:00Z",
    },
    # after the change: Mon 13:00Z-14:30Z = 08:00-09:30 EST
    {
        "incident_id": "EST",
        "service_id": "trade",
        "priority": 1,
        "opened_at": "2026-11-02T13:00:00Z",
        "resolved_at": "2026-11-02T14:30:00Z",
    },
]


def test_business_minutes_in_new_york_across_the_dst_change(make_map, make_incidents):
    rows = pairs(make_incidents(NY_INCIDENTS), new_york_map(make_map))
    # ny-desk: Fri 16:00-17:00 EDT (60) + Mon 09:00-10:00 EST (60) = 120
    assert rows["DST", "ny-desk"]["business_minutes"] == pytest.approx(120.0)
    # ny-ops 24x7: real time Fri 20:00Z -> Mon 15:00Z = 48 h + 19 h = 67 h = 4020 min
    # (the wall clock shows 66 h: Sunday has 25 hours)
    assert rows["DST", "ny-ops"]["business_minutes"] == pytest.approx(4020.0)
    # 08:00-10:00 EDT: 09:00-10:00 open = 60
    assert rows["EDT", "ny-desk"]["business_minutes"] == pytest.approx(60.0)
    # 08:00-09:30 EST: 09:00-09:30 open = 30
    assert rows["EST", "ny-desk"]["business_minutes"] == pytest.approx(30.0)
    assert rows["EST", "ny-ops"]["business_minutes"] == pytest.approx(90.0)


def test_scores_in_new_york_across_the_dst_change(make_map, make_incidents):
    rows = scores(make_incidents(NY_INCIDENTS), new_york_map(make_map))
    # DST: P1, exposure 1: ny-desk 120, ny-ops 4020
    assert rows["DST"]["impact_minutes"] == pytest.approx(4140.0)  # 120 + 4020
    assert rows["DST"]["impact_score"] == pytest.approx(2130.0)  # 1.0 x 120 + 0.5 x 4020
    assert rows["DST"]["value_at_risk"] == pytest.approx(5220.0)  # 120/60x600 + 4020/60x60
    # EST: ny-desk 30 (tier 1.0) + ny-ops 90 (tier 0.5): score 30 + 45 = 75
    assert rows["EST"]["impact_score"] == pytest.approx(75.0)
    # DST top: ny-desk 1.0 x 120 = 120 vs ny-ops 0.5 x 4020 = 2010 -> ny-ops
    assert rows["DST"]["top_process"] == "ny-ops"
    # EST top: ny-desk 1.0 x 30 = 30 vs ny-ops 0.5 x 90 = 45 -> ny-ops
    assert rows["EST"]["top_process"] == "ny-ops"
    # EDT: ny-desk 1.0 x 60 = 60, ny-ops 0.5 x 120 = 60; 60 + 60 = 120
    assert rows["EDT"]["impact_score"] == pytest.approx(120.0)


# --------------------------------------------------------------------------- cross-checks


MANY = [
    WEEKEND,
    {
        "incident_id": "HR",
        "service_id": "hr-app",
        "priority": 3,
        "opened_at": "2026-11-09T08:00:00Z",
        "resolved_at": "2026-11-09T12:00:00Z",
    },
    {
        "incident_id": "OPEN",
        "service_id": "web",
        "priority": 1,
        "opened_at": "2026-11-19T22:00:00Z",
        "resolved_at": None,
    },
    {"incident_id": "NONE", "service_id": None, "priority": 1},
    {"incident_id": "P5", "service_id": "pay-api", "priority": 5},
    {
        "incident_id": "PAY",
        "service_id": "pay-api",
        "priority": 1,
        "opened_at": "2026-11-10T16:30:00Z",
        "resolved_at": "2026-11-10T18:00:00Z",
    },
]
TIER = {"order-to-cash": 1.0, "payroll": 0.5}
VALUE = {"order-to-cash": 6000.0, "payroll": 1200.0}


def test_process_rows_add_up_to_the_incident_scores(make_map, make_incidents):
    frame = make_incidents(MANY)
    by_incident = scores(frame, make_map())
    rows = pairs(frame, make_map())
    # only pairs with exposure > 0: pay-api (2 processes), web and hr-app (1 each), none
    # for the unmapped incident
    assert sorted(rows) == sorted(
        [
            ("WKND", "order-to-cash"),
            ("WKND", "payroll"),
            ("HR", "payroll"),
            ("OPEN", "order-to-cash"),
            ("P5", "order-to-cash"),
            ("P5", "payroll"),
            ("PAY", "order-to-cash"),
            ("PAY", "payroll"),
        ]
    )
    assert all(row["exposure"] > 0 for row in rows.values())
    for incident, row in by_incident.items():
        mine = [r | {"process_id": p} for (i, p), r in rows.items() if i == incident]
        assert row["impact_minutes"] == pytest.approx(sum(r["impact_minutes"] for r in mine))
        assert row["value_at_risk"] == pytest.approx(sum(r["value_at_risk"] for r in mine))
        assert row["impact_score"] == pytest.approx(
            sum(TIER[r["process_id"]] * r["impact_minutes"] for r in mine)
        )
        for r in mine:
            assert r["value_at_risk"] == pytest.approx(
                r["impact_minutes"] / 60 * VALUE[r["process_id"]]
            )
    # PAY, P1, Tue 16:30-18:00: order-to-cash 90 min x 1.0 = 90; payroll 16:30-17:00 =
    # 30 min x 0.2 = 6; score 90 + 0.5 x 6 = 93
    assert rows["PAY", "payroll"]["business_minutes"] == pytest.approx(30.0)
    assert by_incident["PAY"]["impact_minutes"] == pytest.approx(96.0)
    assert by_incident["PAY"]["impact_score"] == pytest.approx(93.0)


def test_scoring_does_not_mutate_its_input(make_map, make_incidents):
    frame = make_incidents(MANY)
    before = frame.copy(deep=True)
    model = build_impact_model(make_map())
    score_incidents(frame, model, as_of=AS_OF)
    process_impacts(frame, model, as_of=AS_OF)
    pd.testing.assert_frame_equal(frame, before)


def test_missing_scoring_columns_are_named(make_map, make_incidents):
    frame = make_incidents(MANY).drop(columns=["priority", "service_id"])
    model = build_impact_model(make_map())
    with pytest.raises(MissingColumnsError) as caught:
        score_incidents(frame, model, as_of=AS_OF)
    assert caught.value.missing == ["priority", "service_id"]
    with pytest.raises(MissingColumnsError):
        process_impacts(frame, model, as_of=AS_OF)


# --------------------------------------------------------------------------- properties

START = pd.Timestamp("2026-11-02T00:00:00Z")


@st.composite
def incident_rows(draw):
    count = draw(st.integers(1, 12))
    rows = []
    for number in range(count):
        opened = START + pd.Timedelta(minutes=draw(st.integers(0, 20 * 24 * 60)))
        duration = draw(st.one_of(st.none(), st.integers(0, 5 * 24 * 60)))
        rows.append(
            {
                "incident_id": f"I{number:02d}",
                "service_id": draw(st.sampled_from(["pay-api", "web", "hr-app", None, "fax-9"])),
                "priority": draw(st.integers(1, 5)),
                "opened_at": opened.isoformat(),
                "resolved_at": None
                if duration is None
                else (opened + pd.Timedelta(minutes=duration)).isoformat(),
            }
        )
    return rows


@settings(max_examples=60, deadline=None)
@given(rows=incident_rows(), data=st.data())
def test_scores_do_not_depend_on_row_order(make_map, make_incidents, rows, data):
    model = build_impact_model(make_map())
    frame = make_incidents(rows)
    order = data.draw(st.permutations(range(len(frame))))
    shuffled = frame.iloc[list(order)]

    def canonical(out: pd.DataFrame) -> pd.DataFrame:
        return out.sort_values("incident_id").reset_index(drop=True)

    pd.testing.assert_frame_equal(
        canonical(score_incidents(frame, model, as_of=AS_OF)),
        canonical(score_incidents(shuffled, model, as_of=AS_OF)),
        check_exact=False,
        rtol=1e-9,
    )
    a = process_impacts(frame, model, as_of=AS_OF)
    b = process_impacts(shuffled, model, as_of=AS_OF)
    pd.testing.assert_frame_equal(
        a.sort_values(["incident_id", "process_id"]).reset_index(drop=True),
        b.sort_values(["incident_id", "process_id"]).reset_index(drop=True),
        check_exact=False,
        rtol=1e-9,
    )
    assert np.isfinite(a[["business_minutes", "impact_minutes", "value_at_risk"]]).all().all()


# --------------------------------------------------------------------------- calendars


def world_map(make_map, *, tokyo_zone="Asia/Tokyo"):
    # x serves o2c (24x7 UTC, crit 1, 6000/h) at 1.0, tokyo-ops (24x7 in `tokyo_zone`,
    # crit 1, 600/h) at 1.0 and desk (mon-fri 09-17 New York, crit 2, 1200/h) at 0.5;
    # x depends on y at 0.5.
    return make_map(
        business_processes=[
            {"id": "o2c", "criticality": 1, "value_per_hour": 6000},
            {
                "id": "tokyo-ops",
                "criticality": 1,
                "value_per_hour": 600,
                "hours": "24x7",
                "timezone": tokyo_zone,
            },
            {
                "id": "desk",
                "criticality": 2,
                "value_per_hour": 1200,
                "hours": "mon-fri 09:00-17:00",
                "timezone": "America/New_York",
            },
        ],
        services=[{"id": "x"}, {"id": "y"}],
        dependencies=[{"from": "x", "to": "y", "weight": 0.5}],
        supports=[
            {"service": "x", "process": "o2c"},
            {"service": "x", "process": "tokyo-ops"},
            {"service": "x", "process": "desk", "weight": 0.5},
        ],
    )


WORLD_INCIDENT = {  # Mon 2026-11-09 13:00Z-16:00Z = 08:00-11:00 EST: desk open 09:00-11:00
    "incident_id": "W",
    "service_id": "x",
    "priority": 1,
    "opened_at": "2026-11-09T13:00:00Z",
    "resolved_at": "2026-11-09T16:00:00Z",
}


def test_always_open_calendars_in_different_zones_are_one_calendar(make_map):
    model = build_impact_model(world_map(make_map))
    # 24x7 is open at every instant, whatever the zone: o2c and tokyo-ops share one
    # calendar; desk has its own.
    assert len(model.calendars) == 2
    assert model.process_calendar.tolist() == [0, 0, 1]


def test_merged_24x7_calendar_scores_as_if_each_zone_were_apart(make_map, make_incidents):
    frame = make_incidents([WORLD_INCIDENT])
    row = scores(frame, world_map(make_map))["W"]
    # o2c 180 min x 1.0 = 180; tokyo-ops 180 x 1.0 = 180; desk 120 min x 0.5 = 60
    assert row["impact_minutes"] == pytest.approx(420.0)  # 180 + 180 + 60
    assert row["impact_score"] == pytest.approx(390.0)  # 1.0 x 180 + 1.0 x 180 + 0.5 x 60
    assert row["value_at_risk"] == pytest.approx(21000.0)  # 18000 + 1800 + 1200
    # o2c and tokyo-ops tie at 180: the one with more value at risk wins
    assert row["top_process"] == "o2c"
    same_zone = scores(frame, world_map(make_map, tokyo_zone="UTC"))["W"]
    assert {key: same_zone[key] for key in row} == pytest.approx(row)
    minutes = pairs(frame, world_map(make_map))
    assert minutes["W", "tokyo-ops"]["business_minutes"] == pytest.approx(180.0)
    assert minutes["W", "desk"]["business_minutes"] == pytest.approx(120.0)


def test_a_tie_between_24x7_processes_in_two_zones_goes_to_the_one_worth_more(
    make_map, make_incidents
):
    # a (24x7 UTC, crit 2, 100/h) and b (24x7 Tokyo, crit 2, 900/h), both at exposure 1:
    # both contribute 0.5 x 60 = 30. One calendar, so its rule for ties applies: b is worth
    # more, whichever process the map lists first.
    processes = [
        {"id": "a", "criticality": 2, "value_per_hour": 100},
        {"id": "b", "criticality": 2, "value_per_hour": 900, "timezone": "Asia/Tokyo"},
    ]
    frame = make_incidents([{"incident_id": "T", "service_id": "x", "priority": 1}])
    for order in (processes, processes[::-1]):
        m = make_map(
            business_processes=order,
            services=[{"id": "x"}],
            dependencies=[],
            supports=[{"service": "x", "process": p["id"]} for p in order],
        )
        row = scores(frame, m)["T"]
        assert row["impact_score"] == pytest.approx(60.0)  # 30 + 30
        assert row["value_at_risk"] == pytest.approx(1000.0)  # 60/60 x 100 + 60/60 x 900
        assert row["top_process"] == "b"


def independent_pairs(frame: pd.DataFrame, service_map, *, as_of=AS_OF) -> dict:
    """(incident, process) -> numbers, one pair at a time from the public pieces."""
    from impactlens.engine.business_minutes import business_minutes
    from impactlens.service_map.hours import weekly_hours

    model = build_impact_model(service_map)
    weights = service_map.scoring.priority_weights
    out = {}
    for row in frame.to_dict("records"):
        service = row["service_id"]
        if missing(service) or service not in model.exposure.node_positions:
            continue
        opened = min(row["opened_at"], as_of)
        ended = as_of if missing(row["resolved_at"]) else min(row["resolved_at"], as_of)
        for process in service_map.processes:
            exposure = model.exposure.exposure(service, process.id)
            if exposure <= 0:
                continue
            hours = weekly_hours(process.hours, process.timezone)
            minutes = float(business_minutes([opened], [ended], hours)[0])
            impact = weights.get(row["priority"], 0.0) * exposure * minutes
            out[row["incident_id"], process.id] = {
                "exposure": exposure,
                "business_minutes": minutes,
                "impact_minutes": impact,
                "value_at_risk": impact / 60 * process.value_per_hour,
            }
    return out


def test_process_impacts_match_a_pair_by_pair_computation(make_map, make_incidents):
    frame = make_incidents(
        [
            WORLD_INCIDENT,
            {**WORLD_INCIDENT, "incident_id": "Y", "service_id": "y", "priority": 3},
            {**WORLD_INCIDENT, "incident_id": "OPEN", "resolved_at": None},
            {"incident_id": "NONE", "service_id": None, "priority": 1},
            {"incident_id": "FAX", "service_id": "fax-9", "priority": 1},
            {
                "incident_id": "WEEKEND",
                "service_id": "y",
                "priority": 2,
                "opened_at": "2026-11-06T20:00:00Z",
                "resolved_at": "2026-11-09T15:00:00Z",
            },
        ]
    )
    service_map = world_map(make_map)
    got = pairs(frame, service_map)
    expected = independent_pairs(frame, service_map)
    assert sorted(got) == sorted(expected)
    assert len(got) == 12  # W, Y, OPEN and WEEKEND reach all 3 processes; 2 unmapped
    assert got["Y", "desk"]["exposure"] == pytest.approx(0.25)  # 0.5 x 0.5
    for key, numbers in expected.items():
        assert {name: got[key][name] for name in numbers} == pytest.approx(numbers), key


@st.composite
def world_rows(draw):
    rows = draw(incident_rows())
    for row in rows:
        row["service_id"] = draw(st.sampled_from(["x", "y", None, "fax-9"]))
    return rows


@settings(max_examples=40, deadline=None)
@given(rows=world_rows())
def test_pairs_and_scores_agree_with_the_pair_by_pair_computation(make_map, make_incidents, rows):
    service_map = world_map(make_map)
    frame = make_incidents(rows)
    got = pairs(frame, service_map)
    expected = independent_pairs(frame, service_map)
    assert sorted(got) == sorted(expected)
    for key, numbers in expected.items():
        assert {name: got[key][name] for name in numbers} == pytest.approx(numbers), key
    tier = {"o2c": 1.0, "tokyo-ops": 1.0, "desk": 0.5}
    for incident, row in scores(frame, service_map).items():
        mine = {p: numbers for (i, p), numbers in expected.items() if i == incident}
        assert row["impact_minutes"] == pytest.approx(
            sum(n["impact_minutes"] for n in mine.values())
        )
        assert row["impact_score"] == pytest.approx(
            sum(tier[p] * n["impact_minutes"] for p, n in mine.items())
        )
        assert row["value_at_risk"] == pytest.approx(sum(n["value_at_risk"] for n in mine.values()))
