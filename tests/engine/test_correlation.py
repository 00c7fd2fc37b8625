"""Group outages, process timelines and common causes (engine/correlation.py,
engine/timelines.py), every number worked out by hand.

The base map (tests/conftest.py):

    pay-api --1.0--> web    --1.0--> order-to-cash  (24x7 UTC, 6000/h)
    pay-api --0.4--> hr-app --0.5--> payroll        (mon-fri 09:00-17:00 UTC, 1200/h)
    priority weights 1: 1.0, 2: 0.6, 3: 0.3, 4: 0.1, 5: 0.0

Calendar: 2026-11-02, -09 and -16 are Mondays; 2026-11-07 is a Saturday. Berlin is on
CET (UTC+1) in November. Unless a test says otherwise the periods are the week of Monday
2026-11-02 (UTC), and `as_of` (2026-11-20) comes after every incident.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from impactlens.engine.correlation import (
    COMMON_CAUSE_COLUMNS,
    GROUP_OUTAGE_COLUMNS,
    group_outages,
    likely_common_causes,
)
from impactlens.engine.impact import build_impact_model, process_impacts
from impactlens.engine.resolution import resolve_services
from impactlens.engine.timelines import TIMELINE_COLUMNS, process_timelines
from impactlens.ingest.canonical import parse_canonical_incidents, read_canonical_csv
from impactlens.service_map.build import build_service_map
from impactlens.service_map.load import load_service_map

from impactlens.errors import InvalidSettingsError, MissingColumnsError

AS_OF = pd.Timestamp("2026-11-20T00:00:00Z")
WEEK = pd.DatetimeIndex(["2026-11-02T00:00:00Z", "2026-11-09T00:00:00Z"])
TWO_WEEKS = pd.DatetimeIndex(["2026-11-02", "2026-11-09", "2026-11-16"], tz="UTC")


def on_monday(service: str | None, opened: str, resolved: str | None, priority: int, **extra: Any):
    """An incident row on Monday 2026-11-02, times given as HH:MM (UTC)."""
    return {
        "service_id": service,
        "priority": priority,
        "opened_at": f"2026-11-02T{opened}:00Z",
        "resolved_at": None if resolved is None else f"2026-11-02T{resolved}:00Z",
        **extra,
    }


def timelines(frame, service_map, *, as_of=AS_OF, bounds=WEEK, **options) -> dict:
    """process_timelines keyed by (process, period), checking the frame's shape."""
    model = build_impact_model(service_map)
    out = process_timelines(frame, model, as_of=as_of, bounds=bounds, **options)
    assert tuple(out.columns) == TIMELINE_COLUMNS
    periods = len(bounds) - 1
    assert len(out) == len(model.exposure.processes) * periods
    assert out["process_id"].tolist() == [
        p for p in model.exposure.processes for _ in range(periods)
    ]
    return {(row["process_id"], row["period"]): row for row in out.to_dict("records")}


def outages(frame, service_map, *, as_of=AS_OF) -> list[dict]:
    out = group_outages(frame, build_impact_model(service_map), as_of=as_of)
    assert tuple(out.columns) == GROUP_OUTAGE_COLUMNS
    return out.to_dict("records")


# --------------------------------------------------------------------------- union on one process


def test_overlapping_incidents_count_once_at_the_larger_level(make_map, make_incidents):
    # On web (exposure to order-to-cash 1.0), Monday:
    #   A  P1 (1.0) 10:00-11:00,  B  P3 (0.3) 10:30-12:00,  C  P2 (0.6) 14:00-14:30
    # Level on order-to-cash: 10:00-11:00 1.0 (B is under A), 11:00-12:00 0.3,
    # 14:00-14:30 0.6.
    #   impact = 1.0 x 60 + 0.3 x 60 + 0.6 x 30 = 60 + 18 + 18 = 96
    #   hit    = 60 + 60 + 30 = 150;  value = 96 / 60 x 6000 = 9600
    frame = make_incidents(
        [
            on_monday("web", "10:00", "11:00", 1, incident_id="A"),
            on_monday("web", "10:30", "12:00", 3, incident_id="B"),
            on_monday("web", "14:00", "14:30", 2, incident_id="C"),
        ]
    )
    rows = timelines(frame, make_map())
    o2c = rows["order-to-cash", 0]
    assert o2c["impact_minutes"] == pytest.approx(96.0)
    assert o2c["business_minutes_hit"] == pytest.approx(150.0)
    assert o2c["value_at_risk"] == pytest.approx(9600.0)
    assert o2c["period_start"] == WEEK[0]
    # web does not reach payroll.
    assert rows["payroll", 0]["impact_minutes"] == 0.0
    assert rows["payroll", 0]["business_minutes_hit"] == 0.0
    # Summed per incident it would be 60 + 0.3 x 90 + 18 = 105: B's half hour under A
    # counted twice.
    summed = process_impacts(frame, build_impact_model(make_map()), as_of=AS_OF)
    assert summed["impact_minutes"].sum() == pytest.approx(105.0)


def test_the_first_two_alone_integrate_the_maximum_not_the_sum(make_map, make_incidents):
    # A and B of the test above: 1.0 x 60 + 0.3 x 60 = 78 over 120 minutes hit.
    frame = make_incidents(
        [on_monday("web", "10:00", "11:00", 1), on_monday("web", "10:30", "12:00", 3)]
    )
    o2c = timelines(frame, make_map())["order-to-cash", 0]
    assert (o2c["impact_minutes"], o2c["business_minutes_hit"]) == pytest.approx((78.0, 120.0))


def test_an_incident_on_a_shared_provider_reaches_both_processes(make_map, make_incidents):
    # pay-api P2 (0.6) Monday 08:00-10:00 and hr-app P1 (1.0) 09:30-10:30.
    # order-to-cash (pay-api 1.0): 0.6 x 120 = 72, hit 120.
    # payroll (09:00-17:00): pay-api 0.6 x 0.2 = 0.12 on 09:00-10:00 (08:00-09:00 is
    # closed), hr-app 1.0 x 0.5 = 0.5 on 09:30-10:30:
    #   09:00-09:30 0.12, 09:30-10:30 0.5 -> 0.12 x 30 + 0.5 x 60 = 3.6 + 30 = 33.6
    #   hit 90; value 33.6 / 60 x 1200 = 672
    frame = make_incidents(
        [on_monday("pay-api", "08:00", "10:00", 2), on_monday("hr-app", "09:30", "10:30", 1)]
    )
    rows = timelines(frame, make_map())
    assert rows["order-to-cash", 0]["impact_minutes"] == pytest.approx(72.0)
    assert rows["order-to-cash", 0]["business_minutes_hit"] == pytest.approx(120.0)
    assert rows["payroll", 0]["impact_minutes"] == pytest.approx(33.6)
    assert rows["payroll", 0]["business_minutes_hit"] == pytest.approx(90.0)
    assert rows["payroll", 0]["value_at_risk"] == pytest.approx(672.0)


# --------------------------------------------------------------------------- periods


def test_an_incident_spanning_two_periods_is_split_at_the_bound(make_map, make_incidents):
    # web P2 (0.6) Sun 2026-11-08 22:00 -> Mon 2026-11-09 02:00 UTC: 120 minutes in
    # each week. order-to-cash: 0.6 x 120 = 72 per week, hit 120, value 72/60x6000 = 7200.
    frame = make_incidents(
        [
            {
                "service_id": "web",
                "priority": 2,
                "opened_at": "2026-11-08T22:00:00Z",
                "resolved_at": "2026-11-09T02:00:00Z",
            }
        ]
    )
    rows = timelines(frame, make_map(), bounds=TWO_WEEKS)
    for period in (0, 1):
        o2c = rows["order-to-cash", period]
        assert o2c["period"] == period
        assert o2c["period_start"] == TWO_WEEKS[period]
        assert o2c["impact_minutes"] == pytest.approx(72.0)
        assert o2c["business_minutes_hit"] == pytest.approx(120.0)
        assert o2c["value_at_risk"] == pytest.approx(7200.0)


def test_time_outside_the_bounds_does_not_count(make_map, make_incidents):
    # web P1 Sun 2026-11-01 23:00 -> Mon 2026-11-02 01:00: only the 60 minutes after the
    # first bound count; the incident after the last bound counts nowhere.
    frame = make_incidents(
        [
            {
                "service_id": "web",
                "priority": 1,
                "opened_at": "2026-11-01T23:00:00Z",
                "resolved_at": "2026-11-02T01:00:00Z",
            },
            {
                "service_id": "web",
                "priority": 1,
                "opened_at": "2026-11-10T10:00:00Z",
                "resolved_at": "2026-11-10T11:00:00Z",
            },
        ]
    )
    o2c = timelines(frame, make_map())["order-to-cash", 0]
    assert (o2c["impact_minutes"], o2c["business_minutes_hit"]) == pytest.approx((60.0, 60.0))


def test_office_hours_in_berlin_count_only_open_minutes(make_map, make_incidents):
    # payroll here: mon-fri 09:00-17:00 Europe/Berlin = 08:00-16:00 UTC in November.
    # Weeks start Monday 00:00 Berlin (Sunday 23:00 UTC).
    #   hr-app (0.5) P1 Mon 06:00-12:00 UTC: open 08:00-12:00 = 240 min
    #     impact 1.0 x 0.5 x 240 = 120, hit 240, value 120 / 60 x 1200 = 2400
    #   hr-app P1 Saturday 10:00-14:00 UTC: closed, 0
    service_map = make_map(
        business_processes=[
            {
                "id": "payroll",
                "name": "Payroll",
                "criticality": 2,
                "value_per_hour": 1200,
                "hours": "mon-fri 09:00-17:00",
                "timezone": "Europe/Berlin",
            }
        ],
        supports=[{"service": "hr-app", "process": "payroll", "weight": 0.5}],
    )
    frame = make_incidents(
        [
            on_monday("hr-app", "06:00", "12:00", 1),
            {
                "service_id": "hr-app",
                "priority": 1,
                "opened_at": "2026-11-07T10:00:00Z",
                "resolved_at": "2026-11-07T14:00:00Z",
            },
        ]
    )
    berlin_week = pd.date_range("2026-11-02", periods=2, freq="7D", tz="Europe/Berlin")
    payroll = timelines(frame, service_map, bounds=berlin_week)["payroll", 0]
    assert payroll["impact_minutes"] == pytest.approx(120.0)
    assert payroll["business_minutes_hit"] == pytest.approx(240.0)
    assert payroll["value_at_risk"] == pytest.approx(2400.0)
    assert payroll["period_start"] == pd.Timestamp("2026-11-02", tz="Europe/Berlin")


def test_an_open_incident_counts_up_to_as_of(make_map, make_incidents):
    # web P2 (0.6) opened Wed 2026-11-04 10:00, still open at as_of 13:30: 210 minutes.
    #   impact 0.6 x 210 = 126, hit 210. A resolved one running past as_of is cut at
    #   as_of too (web P1 13:00-15:00: 1.0 from 13:00 to 13:30), and one opened after
    #   as_of counts nothing:
    #   10:00-13:00 0.6 (180 min), 13:00-13:30 1.0 (30 min) -> 108 + 30 = 138, hit 210
    as_of = pd.Timestamp("2026-11-04T13:30:00Z")
    frame = make_incidents(
        [
            {
                "service_id": "web",
                "priority": 2,
                "opened_at": "2026-11-04T10:00:00Z",
                "resolved_at": None,
            },
        ]
    )
    o2c = timelines(frame, make_map(), as_of=as_of)["order-to-cash", 0]
    assert (o2c["impact_minutes"], o2c["business_minutes_hit"]) == pytest.approx((126.0, 210.0))
    more = make_incidents(
        [
            {
                "service_id": "web",
                "priority": 2,
                "opened_at": "2026-11-04T10:00:00Z",
                "resolved_at": None,
            },
            {
                "service_id": "web",
                "priority": 1,
                "opened_at": "2026-11-04T13:00:00Z",
                "resolved_at": "2026-11-04T15:00:00Z",
            },
            {
                "service_id": "web",
                "priority": 1,
                "opened_at": "2026-11-04T14:00:00Z",
                "resolved_at": None,
            },
        ]
    )
    o2c = timelines(more, make_map(), as_of=as_of)["order-to-cash", 0]
    assert (o2c["impact_minutes"], o2c["business_minutes_hit"]) == pytest.approx((138.0, 210.0))


def test_unmapped_and_zero_severity_incidents_count_nothing(make_map, make_incidents):
    frame = make_incidents(
        [
            on_monday(None, "10:00", "11:00", 1),  # unmapped
            on_monday("web", "10:00", "11:00", 5),  # P5: severity 0
        ]
    )
    rows = timelines(frame, make_map())
    assert all(row["impact_minutes"] == 0.0 for row in rows.values())
    assert all(row["business_minutes_hit"] == 0.0 for row in rows.values())


def test_no_incidents_still_gives_a_row_per_process_and_period(make_map, make_incidents):
    rows = timelines(make_incidents([]), make_map(), bounds=TWO_WEEKS)
    assert sorted(rows) == [
        ("order-to-cash", 0),
        ("order-to-cash", 1),
        ("payroll", 0),
        ("payroll", 1),
    ]
    assert all(row["value_at_risk"] == 0.0 for row in rows.values())


def test_bounds_must_increase(make_map, make_incidents):
    model = build_impact_model(make_map())
    bad = pd.DatetimeIndex(["2026-11-09", "2026-11-02"], tz="UTC")
    with pytest.raises(InvalidSettingsError, match="strictly increasing"):
        process_timelines(make_incidents([]), model, as_of=AS_OF, bounds=bad)


def test_missing_columns_are_named(make_map):
    model = build_impact_model(make_map())
    frame = pd.DataFrame({"incident_id": ["X"]})
    for check in (
        lambda: group_outages(frame, model, as_of=AS_OF),
        lambda: process_timelines(frame, model, as_of=AS_OF, bounds=WEEK),
        lambda: likely_common_causes(frame, model, as_of=AS_OF),
    ):
        with pytest.raises(MissingColumnsError, match="opened_at"):
            check()


# --------------------------------------------------------------------------- group outages


def pair_map(make_map, *, min_up: int = 1):
    """web depends on group db (db-a, db-b), so exposure(db, order-to-cash) = 1.0."""
    return make_map(
        extend_services=[
            {"id": "db-a", "name": "DB node A"},
            {"id": "db-b", "name": "DB node B"},
            {
                "id": "db",
                "name": "DB cluster",
                "kind": "redundancy_group",
                "members": ["db-a", "db-b"],
                "min_up": min_up,
            },
        ],
        extend_dependencies=[{"from": "web", "to": "db"}],
    )


def test_two_member_group_is_down_only_while_both_are(make_map, make_incidents):
    # db (2 members, min_up 1) fails when k = 2 - 1 + 1 = 2 members are down.
    #   A on db-a P1 (1.0) 10:00-12:00, B on db-b P2 (0.6) 11:00-13:00
    #   -> down 11:00-12:00 (60 min), severity = 2nd largest of (1.0, 0.6) = 0.6
    frame = make_incidents(
        [
            on_monday("db-a", "10:00", "12:00", 1, incident_id="A"),
            on_monday("db-b", "11:00", "13:00", 2, incident_id="B"),
        ]
    )
    service_map = pair_map(make_map)
    assert outages(frame, service_map) == [
        {
            "group_id": "db",
            "start": pd.Timestamp("2026-11-02T11:00:00Z"),
            "end": pd.Timestamp("2026-11-02T12:00:00Z"),
            "minutes": 60.0,
            "severity": 0.6,
            "members_down": "db-a,db-b",
            "incident_ids": "A,B",
        }
    ]
    # The outage reaches order-to-cash through web (db -> web -> order-to-cash, 1.0):
    # 0.6 x 60 = 36, hit 60, value 36 / 60 x 6000 = 3600. A member alone passes nothing.
    o2c = timelines(frame, service_map)["order-to-cash", 0]
    assert o2c["impact_minutes"] == pytest.approx(36.0)
    assert o2c["business_minutes_hit"] == pytest.approx(60.0)
    assert o2c["value_at_risk"] == pytest.approx(3600.0)
    # Without the outage rows nothing is left: it is the outage that carries the impact.
    model = build_impact_model(service_map)
    none = process_timelines(
        frame,
        model,
        as_of=AS_OF,
        bounds=WEEK,
        outages=group_outages(frame.iloc[:0], model, as_of=AS_OF),
    )
    assert none["impact_minutes"].sum() == 0.0


def test_a_lone_member_incident_is_no_outage_and_no_impact(make_map, make_incidents):
    frame = make_incidents([on_monday("db-a", "15:00", "16:00", 1)])
    service_map = pair_map(make_map)
    assert outages(frame, service_map) == []
    rows = timelines(frame, service_map)
    assert all(row["impact_minutes"] == 0.0 for row in rows.values())
    assert all(row["business_minutes_hit"] == 0.0 for row in rows.values())


def test_p5_and_unmapped_incidents_do_not_take_a_member_down(make_map, make_incidents):
    frame = make_incidents(
        [on_monday("db-a", "10:00", "12:00", 1), on_monday("db-b", "10:00", "12:00", 5)]
    )
    assert outages(frame, pair_map(make_map)) == []


def test_outage_under_an_incident_on_the_consumer_takes_the_larger_level(make_map, make_incidents):
    # The outage above (0.6 on 11:00-12:00) plus web P3 (0.3) 10:30-11:30:
    #   10:30-11:00 0.3 (web only), 11:00-12:00 max(0.3, 0.6) = 0.6
    #   impact 0.3 x 30 + 0.6 x 60 = 9 + 36 = 45, hit 90
    frame = make_incidents(
        [
            on_monday("db-a", "10:00", "12:00", 1),
            on_monday("db-b", "11:00", "13:00", 2),
            on_monday("web", "10:30", "11:30", 3),
        ]
    )
    o2c = timelines(frame, pair_map(make_map))["order-to-cash", 0]
    assert (o2c["impact_minutes"], o2c["business_minutes_hit"]) == pytest.approx((45.0, 90.0))


def test_group_of_two_with_min_up_two_fails_with_any_member(make_map, make_incidents):
    # min_up 2 of 2: k = 2 - 2 + 1 = 1, a single member takes the group down (and the
    # member alone has exposure 1.0 through it, so the outage adds nothing new).
    #   A on db-a P3 (0.3) 10:00-11:00 -> one row, severity 0.3
    #   impact on order-to-cash 0.3 x 60 = 18 (not 36: the incident and the outage are
    #   the same minutes at the same level)
    frame = make_incidents([on_monday("db-a", "10:00", "11:00", 3, incident_id="A")])
    service_map = pair_map(make_map, min_up=2)
    rows = outages(frame, service_map)
    assert [(r["minutes"], r["severity"], r["members_down"], r["incident_ids"]) for r in rows] == [
        (60.0, 0.3, "db-a", "A")
    ]
    o2c = timelines(frame, service_map)["order-to-cash", 0]
    assert o2c["impact_minutes"] == pytest.approx(18.0)


def triple_map(make_map):
    """web depends on pool (n1, n2, n3; min_up 2): k = 3 - 2 + 1 = 2 must fail."""
    return make_map(
        extend_services=[
            {"id": "n1", "name": "Node 1"},
            {"id": "n2", "name": "Node 2"},
            {"id": "n3", "name": "Node 3"},
            {
                "id": "pool",
                "name": "Pool",
                "kind": "redundancy_group",
                "members": ["n3", "n1", "n2"],
                "min_up": 2,
            },
        ],
        extend_dependencies=[{"from": "web", "to": "pool"}],
    )


def test_three_member_group_takes_the_second_largest_severity(make_map, make_incidents):
    # X on n1 P1 (1.0) 10:00-14:00, Y on n2 P3 (0.3) 11:00-13:00, Z on n3 P2 (0.6)
    # 12:00-15:00. Member severities per segment, and the 2nd largest:
    #   10-11 (1.0, 0, 0)      -> 0    one member down: no outage
    #   11-12 (1.0, 0.3, 0)    -> 0.3  n1,n2   X,Y
    #   12-13 (1.0, 0.3, 0.6)  -> 0.6  n1,n2,n3 X,Y,Z
    #   13-14 (1.0, 0, 0.6)    -> 0.6  n1,n3   X,Z  (same severity as 12-13: one row
    #                                              12-14, listing every member and incident)
    #   14-15 (0, 0, 0.6)      -> 0
    frame = make_incidents(
        [
            on_monday("n1", "10:00", "14:00", 1, incident_id="X"),
            on_monday("n2", "11:00", "13:00", 3, incident_id="Y"),
            on_monday("n3", "12:00", "15:00", 2, incident_id="Z"),
        ]
    )
    service_map = triple_map(make_map)
    rows = outages(frame, service_map)
    assert [
        (
            r["start"].hour,
            r["end"].hour,
            r["minutes"],
            r["severity"],
            r["members_down"],
            r["incident_ids"],
        )
        for r in rows
    ] == [
        (11, 12, 60.0, 0.3, "n1,n2", "X,Y"),
        (12, 14, 120.0, 0.6, "n1,n2,n3", "X,Y,Z"),
    ]
    # Through web to order-to-cash (1.0): 0.3 x 60 + 0.6 x 60 + 0.6 x 60 = 90, hit 180.
    o2c = timelines(frame, service_map)["order-to-cash", 0]
    assert (o2c["impact_minutes"], o2c["business_minutes_hit"]) == pytest.approx((90.0, 180.0))


def test_adjacent_segments_with_the_same_incidents_merge(make_map, make_incidents):
    # Two incidents with one id (as two rows of a feed would have): n1 "X" 10:00-11:00
    # and 11:00-12:00, n2 "Y" P2 10:00-12:00. The segments 10-11 and 11-12 have the same
    # open incidents {X, Y} and severity 0.6: one row of 120 minutes.
    frame = make_incidents(
        [
            on_monday("n1", "10:00", "11:00", 1, incident_id="X"),
            on_monday("n1", "11:00", "12:00", 1, incident_id="X"),
            on_monday("n2", "10:00", "12:00", 2, incident_id="Y"),
        ]
    )
    rows = outages(frame, triple_map(make_map))
    assert [(r["minutes"], r["severity"], r["incident_ids"]) for r in rows] == [(120.0, 0.6, "X,Y")]


def test_an_open_member_incident_keeps_the_group_down_until_as_of(make_map, make_incidents):
    # db-a P2 open since 10:00, db-b P2 10:30 still open; as_of 11:15 -> 45 minutes.
    as_of = pd.Timestamp("2026-11-02T11:15:00Z")
    frame = make_incidents(
        [on_monday("db-a", "10:00", None, 2), on_monday("db-b", "10:30", None, 2)]
    )
    rows = outages(frame, pair_map(make_map), as_of=as_of)
    assert [(r["end"], r["minutes"], r["severity"]) for r in rows] == [(as_of, 45.0, 0.6)]


def test_no_groups_or_no_outage_keeps_the_columns(make_map, make_incidents):
    out = group_outages(
        make_incidents([on_monday("web", "10:00", "11:00", 1)]),
        build_impact_model(make_map()),
        as_of=AS_OF,
    )
    assert tuple(out.columns) == GROUP_OUTAGE_COLUMNS
    assert out.empty


def test_outages_are_ordered_by_group_then_start(make_map, make_incidents):
    service_map = make_map(
        extend_services=[
            {"id": "a1", "name": "a1"},
            {"id": "a2", "name": "a2"},
            {"id": "z1", "name": "z1"},
            {"id": "z2", "name": "z2"},
            {
                "id": "zz",
                "name": "ZZ",
                "kind": "redundancy_group",
                "members": ["z1", "z2"],
                "min_up": 1,
            },
            {
                "id": "aa",
                "name": "AA",
                "kind": "redundancy_group",
                "members": ["a1", "a2"],
                "min_up": 1,
            },
        ],
    )
    frame = make_incidents(
        [
            on_monday("z1", "08:00", "09:00", 1),
            on_monday("z2", "08:00", "09:00", 1),
            on_monday("a1", "14:00", "15:00", 1),
            on_monday("a2", "14:00", "15:00", 1),
            on_monday("a1", "10:00", "11:00", 1),
            on_monday("a2", "10:00", "11:00", 1),
        ]
    )
    rows = outages(frame, service_map)
    assert [(r["group_id"], r["start"].hour) for r in rows] == [("aa", 10), ("aa", 14), ("zz", 8)]


# --------------------------------------------------------------------------- common causes


def chain_map(make_map):
    """core <- mid-a <- app-a and core <- mid-b <- app-b (edges point provider to consumer).

    app-a's providers: app-a (0 hops), mid-a (1), core (2); app-b's likewise.
    """
    return make_map(
        extend_services=[
            *({"id": s, "name": s} for s in ("core", "mid-a", "mid-b", "app-a", "app-b")),
        ],
        extend_dependencies=[
            {"from": "mid-a", "to": "core"},
            {"from": "mid-b", "to": "core"},
            {"from": "app-a", "to": "mid-a"},
            {"from": "app-b", "to": "mid-b"},
        ],
    )


def causes(frame, service_map, **options) -> list[dict]:
    # The cases below open their incidents up to 45 minutes apart: an hour's window.
    options.setdefault("window", pd.Timedelta(hours=1))
    out = likely_common_causes(frame, build_impact_model(service_map), as_of=AS_OF, **options)
    assert tuple(out.columns) == COMMON_CAUSE_COLUMNS
    return out.to_dict("records")


def test_overlapping_incidents_on_consumers_of_one_provider_are_one_cause(make_map, make_incidents):
    # web and hr-app both depend on pay-api (1 hop each); 10:00-11:00 and 10:30-12:00.
    frame = make_incidents(
        [
            on_monday("web", "10:00", "11:00", 2, incident_id="W"),
            on_monday("hr-app", "10:30", "12:00", 3, incident_id="H"),
        ]
    )
    assert causes(frame, make_map()) == [
        {
            "cause_id": 1,
            "provider": "pay-api",
            "incident_ids": "H,W",
            "services": "hr-app,web",
            "start": pd.Timestamp("2026-11-02T10:00:00Z"),
            "end": pd.Timestamp("2026-11-02T12:00:00Z"),
            "incidents": 2,
        }
    ]


def test_incidents_opened_further_apart_than_the_window_are_no_cause(make_map, make_incidents):
    # Opened at 10:00 and 11:00: 60 minutes apart, linked by a 60-minute window only.
    frame = make_incidents(
        [on_monday("web", "10:00", "11:00", 2), on_monday("hr-app", "11:00", "12:00", 3)]
    )
    assert causes(frame, make_map(), window=pd.Timedelta(minutes=59)) == []
    assert len(causes(frame, make_map(), window=pd.Timedelta(minutes=60))) == 1


def test_a_busy_providers_pairs_are_chance_but_a_burst_is_not(make_map, make_incidents):
    # Every 2 hours for a week, web opens at :00 and hr-app at :10 (both under pay-api,
    # 1 hop): 84 pairs, 168 incidents over a span of 7 days - 2 h + 10 min = 9,970 min,
    # so pay-api's rate is 168 / 9,970 = 0.01685 a minute. A pair opened 10 minutes
    # apart, with the 15-minute window: mean 0.01685 x 25 = 0.4213, and
    # P(X >= 2) = 1 - e^-0.4213 (1 + 0.4213) = 1 - 0.6562 x 1.4213 = 0.067 > 0.01: chance.
    start = pd.Timestamp("2026-11-02T00:00Z")
    rows = []
    for pair in range(84):
        at = start + pd.Timedelta(hours=2 * pair)
        for service, offset in (("web", 0), ("hr-app", 10)):
            opened = at + pd.Timedelta(minutes=offset)
            rows.append(
                {"incident_id": f"{service}-{pair}", "service_id": service, "priority": 2,
                 "opened_at": opened, "resolved_at": opened + pd.Timedelta(minutes=30)}
            )  # fmt: skip
    busy = make_incidents(rows)
    assert causes(busy, make_map(), window=pd.Timedelta(minutes=15)) == []
    # Alone in the week, the same 10-minute pair is no chance: the rate is 2 a week (the
    # span is floored at a week), mean 2 / 10,080 x 25 = 0.00496, P(X >= 2) = 1.2e-5.
    alone = make_incidents(rows[:2])
    assert [
        c["incident_ids"] for c in causes(alone, make_map(), window=pd.Timedelta(minutes=15))
    ] == ["hr-app-0,web-0"]


def test_a_provider_beyond_hops_links_nothing(make_map, make_incidents):
    # app-a and app-b share only core, 2 hops from each.
    frame = make_incidents(
        [
            on_monday("app-a", "10:00", "11:00", 2, incident_id="A"),
            on_monday("app-b", "10:30", "11:30", 2, incident_id="B"),
        ]
    )
    service_map = chain_map(make_map)
    assert causes(frame, service_map, hops=1) == []
    found = causes(frame, service_map, hops=2)
    assert [(c["provider"], c["incident_ids"], c["incidents"]) for c in found] == [
        ("core", "A,B", 2)
    ]


def test_links_chain_into_one_cause_named_by_the_most_shared_provider(make_map, make_incidents):
    # A app-a 10:00-11:00, B app-b 10:30-11:30, C app-b 11:15-12:00; hops = 2.
    # A-B overlap and share core; B-C overlap and share app-b, mid-b, core: one cause.
    # Providers by incidents sharing them: core 3 (A, B, C), app-b 2, mid-b 2, ... -> core.
    frame = make_incidents(
        [
            on_monday("app-a", "10:00", "11:00", 2, incident_id="A"),
            on_monday("app-b", "10:30", "11:30", 2, incident_id="B"),
            on_monday("app-b", "11:15", "12:00", 2, incident_id="C"),
        ]
    )
    found = causes(frame, chain_map(make_map))
    assert [(c["provider"], c["incident_ids"], c["services"], c["incidents"]) for c in found] == [
        ("core", "A,B,C", "app-a,app-b", 3)
    ]
    # With hops = 0 only B and C (same service) are linked, named by app-b itself.
    found = causes(frame, chain_map(make_map), hops=0)
    assert [(c["provider"], c["incident_ids"]) for c in found] == [("app-b", "B,C")]


def test_ties_on_incidents_go_to_fewer_hops_then_the_name(make_map, make_incidents):
    # B and C on app-b overlap: app-b (0 + 0 hops), mid-b (1 + 1), core (2 + 2) are all
    # shared by both -> app-b, the fewest total hops.
    frame = make_incidents(
        [on_monday("app-b", "10:00", "11:00", 2), on_monday("app-b", "10:30", "11:30", 2)]
    )
    assert [c["provider"] for c in causes(frame, chain_map(make_map))] == ["app-b"]
    # mid-a and mid-b overlap: they share core only (1 + 1 hops).
    frame = make_incidents(
        [on_monday("mid-a", "10:00", "11:00", 2), on_monday("mid-b", "10:30", "11:30", 2)]
    )
    assert [c["provider"] for c in causes(frame, chain_map(make_map))] == ["core"]


def test_causes_are_numbered_by_start(make_map, make_incidents):
    frame = make_incidents(
        [
            on_monday("app-a", "14:00", "15:00", 2, incident_id="L1"),
            on_monday("mid-a", "14:30", "15:30", 2, incident_id="L2"),
            on_monday("web", "09:00", "10:00", 2, incident_id="E1"),
            on_monday("hr-app", "09:30", "10:30", 2, incident_id="E2"),
        ]
    )
    found = causes(frame, chain_map(make_map))
    assert [(c["cause_id"], c["incident_ids"], c["provider"]) for c in found] == [
        (1, "E1,E2", "pay-api"),
        (2, "L1,L2", "mid-a"),  # mid-a: 1 + 0 hops, core: 2 + 1
    ]


def test_a_member_reaches_the_groups_consumers_through_the_group(make_map, make_incidents):
    # Graph as it is: db-a -> db -> web. web's providers within 2 hops include db (1)
    # and db-a (2), so an incident on db-a and one on web overlapping are one cause.
    frame = make_incidents(
        [on_monday("db-a", "10:00", "11:00", 2), on_monday("web", "10:30", "11:30", 2)]
    )
    assert [c["provider"] for c in causes(frame, pair_map(make_map))] == ["db-a"]


def test_negative_hops_are_refused(make_map, make_incidents):
    with pytest.raises(InvalidSettingsError, match="hops"):
        causes(make_incidents([]), make_map(), hops=-1)


# --------------------------------------------------------------------------- property


@st.composite
def random_case(draw):
    """A small random map (24x7 processes), incidents at whole minutes, and periods."""
    service_count = draw(st.integers(2, 6))
    services = [f"s{i}" for i in range(service_count)]
    records: dict[str, Any] = {
        "version": 1,
        "business_processes": [
            {
                "id": f"p{j}",
                "name": f"p{j}",
                "criticality": draw(st.integers(1, 4)),
                "value_per_hour": draw(st.sampled_from([60, 600, 1000])),
                "hours": "24x7",
                "timezone": draw(st.sampled_from(["UTC", "Asia/Tokyo"])),
            }
            for j in range(draw(st.integers(1, 3)))
        ],
        "services": [{"id": s, "name": s} for s in services],
        "dependencies": [],
        "supports": [],
    }
    weights = st.sampled_from([0.2, 0.5, 1.0])
    for consumer in range(service_count):
        for provider in range(consumer + 1, service_count):
            if draw(st.booleans()):
                records["dependencies"].append(
                    {"from": services[consumer], "to": services[provider], "weight": draw(weights)}
                )
    for service in services:
        for process in records["business_processes"]:
            if draw(st.integers(0, 2)) == 0:
                records["supports"].append(
                    {"service": service, "process": process["id"], "weight": draw(weights)}
                )
    targets = [*services, None]
    if draw(st.booleans()):
        size = draw(st.integers(2, 3))
        members = [f"m{i}" for i in range(size)]
        records["services"] += [{"id": m, "name": m} for m in members]
        records["services"].append(
            {
                "id": "grp",
                "name": "grp",
                "kind": "redundancy_group",
                "members": members,
                "min_up": draw(st.integers(1, size)),
            }
        )
        records["dependencies"].append({"from": draw(st.sampled_from(services)), "to": "grp"})
        targets += [*members, *members, "grp"]  # members often, so that they overlap
    base = pd.Timestamp("2026-11-02T00:00:00Z")
    incidents = []
    for number in range(draw(st.integers(0, 8))):
        opened = draw(st.integers(0, 300))
        duration = draw(st.one_of(st.none(), st.integers(0, 200)))
        incidents.append(
            {
                "incident_id": f"I{number}",
                "service_id": draw(st.sampled_from(targets)),
                "priority": draw(st.integers(1, 5)),
                "opened_at": base + pd.Timedelta(minutes=opened),
                "resolved_at": None
                if duration is None
                else base + pd.Timedelta(minutes=opened + duration),
            }
        )
    cuts = sorted(draw(st.sets(st.integers(0, 420), min_size=2, max_size=4)))
    as_of = draw(st.integers(100, 480))
    return records, incidents, base, cuts, as_of


def oracle(records, incidents, base, cuts, as_of, model) -> dict:
    """Impact and minutes hit per (process, period) by plain loops over whole minutes."""
    weights = dict(model.service_map.scoring.priority_weights)
    groups = [s for s in records["services"] if s.get("kind") == "redundancy_group"]
    result = {}
    for process in model.exposure.processes:
        for period in range(len(cuts) - 1):
            impact = hit = 0.0
            for minute in range(cuts[period], cuts[period + 1]):
                if minute >= as_of:
                    break
                moment = base + pd.Timedelta(minutes=minute)

                def open_at(incident, moment=moment):
                    end = incident["resolved_at"]
                    return incident["opened_at"] <= moment and (end is None or moment < end)

                level = 0.0
                for incident in incidents:
                    if incident["service_id"] is not None and open_at(incident):
                        exposure = model.exposure.exposure(incident["service_id"], process)
                        level = max(level, weights[incident["priority"]] * exposure)
                for group in groups:
                    member_levels = sorted(
                        (
                            max(
                                [
                                    weights[i["priority"]]
                                    for i in incidents
                                    if i["service_id"] == member and open_at(i)
                                ],
                                default=0.0,
                            )
                            for member in group["members"]
                        ),
                        reverse=True,
                    )
                    k = len(group["members"]) - group["min_up"] + 1
                    exposure = model.exposure.exposure(group["id"], process)
                    level = max(level, member_levels[k - 1] * exposure)
                impact += level
                hit += level > 0
            result[process, period] = (impact, hit)
    return result


@st.composite
def crowded_case(draw):
    """Many short incidents and a few long ones on two services of one 24x7 process:
    long incidents span hundreds of elementary segments (the chunked range path)."""
    records = {
        "version": 1,
        "business_processes": [
            {"id": "p0", "name": "p0", "criticality": 1, "value_per_hour": 60, "hours": "24x7"}
        ],
        "services": [{"id": "s0", "name": "s0"}, {"id": "s1", "name": "s1"}],
        "dependencies": [{"from": "s1", "to": "s0", "weight": 0.5}],
        "supports": [{"service": "s1", "process": "p0"}],
    }
    base = pd.Timestamp("2026-11-02T00:00:00Z")
    incidents = []
    short = draw(st.integers(60, 150))
    for number in range(short + draw(st.integers(1, 3))):
        opened = draw(st.integers(0, 400))
        if number < short:
            duration = draw(st.integers(0, 4))
        else:
            duration = draw(st.one_of(st.none(), st.integers(100, 400)))
        incidents.append(
            {
                "incident_id": f"I{number}",
                "service_id": draw(st.sampled_from(["s0", "s1"])),
                "priority": draw(st.integers(1, 5)),
                "opened_at": base + pd.Timedelta(minutes=opened),
                "resolved_at": None
                if duration is None
                else base + pd.Timedelta(minutes=opened + duration),
            }
        )
    cuts = sorted({0, 480} | draw(st.sets(st.integers(1, 479), max_size=2)))
    return records, incidents, base, cuts, draw(st.integers(300, 480))


@settings(max_examples=60, deadline=None)
@given(case=random_case())
def test_timelines_equal_a_minute_by_minute_oracle(case, make_incidents):
    check_against_oracle(case, make_incidents)


@settings(max_examples=15, deadline=None)
@given(case=crowded_case())
def test_crowded_timelines_equal_a_minute_by_minute_oracle(case, make_incidents):
    check_against_oracle(case, make_incidents)


def check_against_oracle(case, make_incidents):
    records, incidents, base, cuts, as_of_minute = case
    model = build_impact_model(build_service_map(records))
    frame = make_incidents(
        [
            {
                **incident,
                "opened_at": incident["opened_at"].isoformat(),
                "resolved_at": None
                if incident["resolved_at"] is None
                else incident["resolved_at"].isoformat(),
            }
            for incident in incidents
        ]
    )
    bounds = pd.DatetimeIndex([base + pd.Timedelta(minutes=c) for c in cuts])
    as_of = base + pd.Timedelta(minutes=as_of_minute)
    out = process_timelines(frame, model, as_of=as_of, bounds=bounds)
    expected = oracle(records, incidents, base, cuts, as_of_minute, model)
    got = {
        (row["process_id"], row["period"]): (row["impact_minutes"], row["business_minutes_hit"])
        for row in out.to_dict("records")
    }
    assert got.keys() == expected.keys()
    for key, (impact, hit) in expected.items():
        assert got[key] == pytest.approx((impact, hit), abs=1e-9), key
    value = (
        out["impact_minutes"]
        / 60
        * model.value_per_hour[[model.exposure.process_index(p) for p in out["process_id"]]]
    )
    assert np.allclose(out["value_at_risk"], value)


# --------------------------------------------------------------------------- fixtures


FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
PLANTED = yaml.safe_load((FIXTURES / "planted.yaml").read_text())
FIXTURE_AS_OF = pd.Timestamp(PLANTED["window"]["as_of"])


@pytest.fixture(scope="module")
def fixture_world():
    service_map = load_service_map(FIXTURES / "service_map.yaml")
    raw = read_canonical_csv(FIXTURES / "incidents.csv")
    incidents, _ = parse_canonical_incidents(raw, as_of=FIXTURE_AS_OF)
    return build_impact_model(service_map), resolve_services(incidents, service_map)


def test_fixture_outages_are_exactly_the_planted_db_orders_episodes(fixture_world):
    model, incidents = fixture_world
    planted = PLANTED["concurrent_failures"]
    out = group_outages(incidents, model, as_of=FIXTURE_AS_OF)
    assert out["group_id"].tolist() == [planted["redundancy_group"]] * len(planted["episodes"])
    assert "edge-lb" not in set(out["group_id"])
    for row, episode in zip(out.to_dict("records"), planted["episodes"], strict=True):
        assert row["start"] == pd.Timestamp(episode["overlap"]["start"])
        assert row["end"] == pd.Timestamp(episode["overlap"]["end"])
        assert row["minutes"] == pytest.approx(episode["overlap"]["minutes"])
        assert row["members_down"] == ",".join(sorted(planted["members"]))
        ids = sorted(i["incident_id"] for i in episode["incidents"].values())
        assert row["incident_ids"] == ",".join(ids)


def test_fixture_outages_reach_the_processes_db_orders_serves(fixture_world):
    # The planted episodes alone (their 8 incidents). db-orders -> order-service, which
    # serves order-to-cash (1.0; also via cart-checkout) and warehouse-dispatch (0.8).
    # Members alone pass nothing (2 members, min_up 1), so all impact is the outages':
    #   severities (P3 0.3, P2 0.6, P3 0.3, P2 0.6 in episode order)
    #   order-to-cash, 24x7:   week 1 0.3 x 95 = 28.5   week 5 0.6 x 45 = 27
    #                          week 8 0.3 x 175 = 52.5  week 10 0.6 x 45 = 27
    #   warehouse-dispatch, mon-sat 06:00-22:00 Berlin, x 0.8:
    #     Wed 09-09 03:15-04:50 UTC = 05:15-06:50 CEST: 50 open min -> 0.24 x 50 = 12
    #     Tue 10-06 13:50-14:35 UTC = 15:50-16:35 CEST: 45 min -> 0.48 x 45 = 21.6
    #     Tue 10-27 21:00-23:55 UTC = 22:00-00:55 CET: closed -> 0
    #     Thu 11-12 08:40-09:25 UTC = 09:40-10:25 CET: 45 min -> 0.48 x 45 = 21.6
    model, incidents = fixture_world
    assert model.exposure.exposure("db-orders", "order-to-cash") == 1.0
    assert model.exposure.exposure("db-orders", "warehouse-dispatch") == pytest.approx(0.8)
    episodes = PLANTED["concurrent_failures"]["episodes"]
    ids = {i["incident_id"] for episode in episodes for i in episode["incidents"].values()}
    planted = incidents[incidents["incident_id"].isin(ids)]
    weeks = pd.date_range(PLANTED["window"]["start"], PLANTED["window"]["end"], freq="7D")
    out = process_timelines(planted, model, as_of=FIXTURE_AS_OF, bounds=weeks)
    hit = out[out["impact_minutes"] > 0]
    assert {
        (row["process_id"], row["period"]): round(row["impact_minutes"], 9)
        for row in hit.to_dict("records")
    } == {
        ("order-to-cash", 1): 28.5,
        ("order-to-cash", 5): 27.0,
        ("order-to-cash", 8): 52.5,
        ("order-to-cash", 10): 27.0,
        ("warehouse-dispatch", 1): 12.0,
        ("warehouse-dispatch", 5): 21.6,
        ("warehouse-dispatch", 10): 21.6,
    }
    # In the whole data set, adding the outages never lowers a process's impact, and
    # changes only processes db-orders serves.
    everything = process_timelines(incidents, model, as_of=FIXTURE_AS_OF, bounds=weeks)
    without = process_timelines(
        incidents,
        model,
        as_of=FIXTURE_AS_OF,
        bounds=weeks,
        outages=group_outages(incidents.iloc[:0], model, as_of=FIXTURE_AS_OF),
    )
    gained = everything["impact_minutes"] - without["impact_minutes"]
    assert (gained >= -1e-9).all()
    assert set(everything["process_id"][gained > 1e-9]) <= {"order-to-cash", "warehouse-dispatch"}
