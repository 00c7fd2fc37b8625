"""Mis-prioritised incidents (engine/misprioritised.py), every number worked out by hand.

The rule, per (incident, process) pair with exposure > 0::

    level = criticality + (0 if exposure >= 0.9, 1 if >= 0.4, else 2)
                        + (1 if the incident had no business minutes in the process's hours)
    suggested = min level over the pairs, clipped to 1..5
    understated: priority - suggested >= min_gap (default 2)
    overstated:  P1 on a mapped service that serves no business process at all

The base map (tests/conftest.py):

    order-to-cash  criticality 1, 24x7 UTC            exposure(web) = 1.0, (pay-api) = 1.0
    payroll        criticality 2, mon-fri 09-17 UTC   exposure(hr-app) = 0.5, (pay-api) = 0.2

Incidents default to Mon 2026-11-02 10:00-11:00 UTC: 60 business minutes in both
processes' hours. 2026-11-07 is a Saturday.
"""

from __future__ import annotations

from pathlib import Path

import hypothesis.strategies as st
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from impactlens.engine.impact import build_impact_model, process_impacts
from impactlens.engine.misprioritised import MISPRIORITISED_COLUMNS, PAIR_COLUMNS, misprioritised
from impactlens.engine.resolution import resolve_services
from impactlens.ingest.canonical import parse_canonical_incidents, read_canonical_csv
from impactlens.service_map.load import load_service_map

from impactlens.errors import InvalidIncidentsError, InvalidSettingsError, MissingColumnsError

AS_OF = pd.Timestamp("2026-11-20T00:00:00Z")
SATURDAY = {"opened_at": "2026-11-07T10:00:00Z", "resolved_at": "2026-11-07T14:00:00Z"}


def flagged(frame: pd.DataFrame, service_map, **options) -> pd.DataFrame:
    out = misprioritised(frame, build_impact_model(service_map), as_of=AS_OF, **options)
    assert tuple(out.columns) == MISPRIORITISED_COLUMNS
    assert str(out["priority"].dtype) == "Int64"
    assert str(out["suggested_priority"].dtype) == "Int64"
    return out


def by_id(out: pd.DataFrame) -> dict[str, dict]:
    return {row["incident_id"]: row for row in out.to_dict("records")}


def processes(base_records, **changes: dict) -> list[dict]:
    """The base processes with some fields changed, by process id."""
    records = base_records()["business_processes"]
    for record in records:
        record.update(changes.get(record["id"].replace("-", "_"), {}))
    return records


def with_intranet() -> dict:
    """Map overrides adding `intranet`, a service that serves no business process."""
    return {"extend_services": [{"id": "intranet", "name": "Intranet"}]}


# --------------------------------------------------------------------------- understated


def test_p4_on_a_hard_supporter_of_a_criticality_1_process_in_its_hours(make_map, make_incidents):
    frame = make_incidents([{"incident_id": "LOW", "service_id": "web", "priority": 4}])
    snapshot = frame.copy()
    row = by_id(flagged(frame, make_map()))["LOW"]
    # order-to-cash: criticality 1 + 0 (exposure 1.0 >= 0.9) + 0 (60 business minutes) = 1
    # gap 4 - 1 = 3 >= 2
    assert row["direction"] == "understated"
    assert (row["priority"], row["suggested_priority"]) == (4, 1)
    assert (row["service_id"], row["process_id"]) == ("web", "order-to-cash")
    assert row["exposure"] == pytest.approx(1.0)
    assert row["business_minutes"] == pytest.approx(60.0)
    assert row["reason"] == (
        "P4 on web, which feeds Order to cash (criticality 1) at exposure 1 "
        "(web -> order-to-cash); 60 business minutes in its hours; "
        "its business impact suggests P1"
    )
    pd.testing.assert_frame_equal(frame, snapshot)  # the input is not touched


def test_outside_the_process_hours_is_one_level_less_urgent(make_map, make_incidents, base_records):
    office_o2c = make_map(
        business_processes=processes(base_records, order_to_cash={"hours": "mon-fri 09:00-17:00"})
    )
    frame = make_incidents([{"incident_id": "SAT", "service_id": "web", "priority": 4, **SATURDAY}])
    # Saturday: 0 business minutes -> 1 + 0 + 1 = 2; gap 4 - 2 = 2
    row = by_id(flagged(frame, office_o2c, min_gap=2))["SAT"]
    assert (row["suggested_priority"], row["business_minutes"]) == (2, 0.0)
    assert row["reason"].endswith(
        "(web -> order-to-cash); no business minutes (it fell outside that process's hours); "
        "its business impact suggests P2"
    )
    assert flagged(frame, office_o2c, min_gap=3).empty  # gap 2 < 3


@pytest.mark.parametrize(
    ("weight", "suggested"),
    [
        (1.0, 1),  # hard: 1 + 0
        (0.9, 1),  # at the hard threshold: 1 + 0
        (0.5, 2),  # soft: 1 + 1
        (0.4, 2),  # at the soft threshold: 1 + 1
        (0.3, 3),  # weak: 1 + 2
    ],
)
def test_exposure_steps(make_map, make_incidents, weight, suggested):
    service_map = make_map(
        supports=[
            {"service": "web", "process": "order-to-cash", "weight": weight},
            {"service": "hr-app", "process": "payroll", "weight": 0.5},
        ]
    )
    frame = make_incidents([{"incident_id": "P5", "service_id": "web", "priority": 5}])
    row = by_id(flagged(frame, service_map, min_gap=1))["P5"]
    assert row["suggested_priority"] == suggested
    assert row["exposure"] == pytest.approx(weight)


def test_soft_exposure_half_suggests_p2_and_says_so(make_map, make_incidents):
    service_map = make_map(
        supports=[
            {"service": "web", "process": "order-to-cash", "weight": 0.5},
            {"service": "hr-app", "process": "payroll", "weight": 0.5},
        ]
    )
    frame = make_incidents([{"incident_id": "SOFT", "service_id": "web", "priority": 4}])
    # 1 + 1 (0.4 <= 0.5 < 0.9) + 0 = 2; gap 4 - 2 = 2
    row = by_id(flagged(frame, service_map))["SOFT"]
    assert row["suggested_priority"] == 2
    assert "at exposure 0.5 (web -> order-to-cash (x0.5))" in row["reason"]


def test_criticality_3_process_suggests_p3_so_a_p4_is_not_flagged(
    make_map, make_incidents, base_records
):
    service_map = make_map(
        business_processes=processes(base_records, order_to_cash={"criticality": 3})
    )
    frame = make_incidents(
        [
            {"incident_id": "P4", "service_id": "web", "priority": 4},  # 3 + 0 + 0 = 3: gap 1
            {"incident_id": "P5", "service_id": "web", "priority": 5},  # gap 2
        ]
    )
    out = by_id(flagged(frame, service_map))
    assert set(out) == {"P5"}
    assert out["P5"]["suggested_priority"] == 3


def test_priorities_at_or_near_the_suggestion_are_not_flagged(make_map, make_incidents):
    frame = make_incidents(
        [
            {"service_id": "web", "priority": 1},  # suggested 1: gap 0
            {"service_id": "web", "priority": 2},  # gap 1
            {"service_id": "hr-app", "priority": 4},  # payroll 2 + 1 (0.5) = 3: gap 1
        ]
    )
    assert flagged(frame, make_map()).empty


def test_a_multi_process_incident_takes_its_most_urgent_pair(make_map, make_incidents):
    service_map = make_map(
        supports=[
            {"service": "web", "process": "order-to-cash", "weight": 0.3},
            {"service": "web", "process": "payroll", "weight": 1.0},
        ]
    )
    frame = make_incidents(
        [
            {"incident_id": "WEB", "service_id": "web", "priority": 5},
            {"incident_id": "PAY", "service_id": "pay-api", "priority": 4},
        ]
    )
    out = by_id(flagged(frame, service_map))
    # WEB: order-to-cash 1 + 2 (0.3 < 0.4) = 3; payroll 2 + 0 (1.0) = 2 -> P2 via payroll
    assert (out["WEB"]["suggested_priority"], out["WEB"]["process_id"]) == (2, "payroll")
    assert out["WEB"]["exposure"] == pytest.approx(1.0)
    # PAY (pay-api -> web): order-to-cash 1 x 0.3 -> 3; payroll 1 x 1.0 -> 2; gap 2
    assert (out["PAY"]["suggested_priority"], out["PAY"]["process_id"]) == (2, "payroll")
    # Base map pay-api: order-to-cash (1.0) -> 1 beats payroll (0.2) -> 2 + 2 = 4.
    base = by_id(flagged(frame, make_map()))
    assert (base["PAY"]["suggested_priority"], base["PAY"]["process_id"]) == (1, "order-to-cash")


def test_ties_go_to_more_business_minutes_then_map_order(make_map, make_incidents, base_records):
    # payroll listed first and made criticality 1; web serves both processes hard.
    records = processes(base_records, payroll={"criticality": 1})
    service_map = make_map(
        business_processes=[records[1], records[0]],
        supports=[
            {"service": "web", "process": "order-to-cash"},
            {"service": "web", "process": "payroll"},
        ],
    )
    frame = make_incidents(
        [
            # Mon 08:00-10:00: order-to-cash 120 min, payroll 60 (from 09:00); both level 1
            {
                "incident_id": "EARLY",
                "service_id": "web",
                "priority": 4,
                "opened_at": "2026-11-02T08:00:00Z",
                "resolved_at": "2026-11-02T10:00:00Z",
            },
            # Mon 10:00-11:00: 60 and 60; both level 1 -> payroll, first in the map
            {"incident_id": "TIED", "service_id": "web", "priority": 4},
        ]
    )
    out = flagged(frame, service_map)
    assert out[["incident_id", "process_id", "business_minutes"]].values.tolist() == [
        ["EARLY", "order-to-cash", 120.0],
        ["TIED", "payroll", 60.0],
    ]


# --------------------------------------------------------------------------- overstated


def test_p1_on_a_service_serving_no_process_is_overstated(make_map, make_incidents):
    frame = make_incidents(
        [
            {"incident_id": "P1", "service_id": "intranet", "priority": 1},
            {"incident_id": "P2", "service_id": "intranet", "priority": 2},  # only P1 is flagged
        ]
    )
    out = flagged(frame, make_map(**with_intranet()))
    assert out["incident_id"].tolist() == ["P1"]
    row = out.iloc[0]
    assert (row["direction"], row["priority"], row["service_id"]) == ("overstated", 1, "intranet")
    assert pd.isna(row["suggested_priority"]) and pd.isna(row["process_id"])
    assert row["exposure"] == 0.0 and np.isnan(row["business_minutes"])
    assert row["reason"] == (
        "P1 on intranet, which serves no business process in the map, "
        "directly or through anything that depends on it"
    )


def test_unmapped_p1_is_never_flagged(make_map, make_incidents):
    frame = make_incidents(
        [
            {"incident_id": "NONE", "service_id": None, "priority": 1, "ci": "FAX-01"},
            {"incident_id": "UNKNOWN", "service_id": "fax", "priority": 1},
        ]
    )
    assert flagged(frame, make_map()).empty


def test_a_lone_redundancy_group_member_is_not_called_overstated(make_map, make_incidents):
    # db-a alone leaves db-orders up (2 members, min_up 1): exposure 0 everywhere, yet it
    # reaches order-to-cash through the group; a P1 there may be a concurrent failure.
    service_map = make_map(
        extend_services=[
            {"id": "db-a", "name": "DB A"},
            {"id": "db-b", "name": "DB B"},
            {
                "id": "db-orders",
                "name": "Orders DB",
                "kind": "redundancy_group",
                "members": ["db-a", "db-b"],
                "min_up": 1,
            },
        ],
        extend_dependencies=[{"from": "web", "to": "db-orders"}],
    )
    frame = make_incidents(
        [
            {"incident_id": "A1", "service_id": "db-a", "priority": 1},
            {"incident_id": "A5", "service_id": "db-a", "priority": 5},  # no pair: no gap
        ]
    )
    assert flagged(frame, service_map).empty


# --------------------------------------------------------------------------- the frame


def test_rows_understated_by_gap_then_minutes_then_overstated(make_map, make_incidents):
    frame = make_incidents(
        [
            {"incident_id": "OVER", "service_id": "intranet", "priority": 1},
            {"incident_id": "GAP3-60", "service_id": "web", "priority": 4},
            {
                "incident_id": "GAP3-240",
                "service_id": "web",
                "priority": 4,
                "resolved_at": "2026-11-02T14:00:00Z",
            },
            {"incident_id": "GAP4", "service_id": "web", "priority": 5},
            {"incident_id": "FINE", "service_id": "web", "priority": 2},
        ]
    )
    out = flagged(frame, make_map(**with_intranet()))
    assert out["incident_id"].tolist() == ["GAP4", "GAP3-240", "GAP3-60", "OVER"]
    assert out["direction"].tolist() == ["understated"] * 3 + ["overstated"]
    assert out.index.tolist() == [0, 1, 2, 3]


def test_empty_input_keeps_the_columns(make_map, make_incidents):
    out = flagged(make_incidents([]), make_map())
    assert out.empty


def test_nothing_flagged_keeps_the_columns_and_types(make_map, make_incidents):
    out = flagged(make_incidents([{"service_id": "web", "priority": 1}]), make_map())
    assert out.empty
    assert out["exposure"].dtype == np.float64


def test_pairs_given_by_the_caller(make_map, make_incidents):
    service_map = make_map(**with_intranet())
    model = build_impact_model(service_map)
    frame = make_incidents(
        [
            {"incident_id": "LOW", "service_id": "web", "priority": 4},
            {"incident_id": "OVER", "service_id": "intranet", "priority": 1},
        ]
    )
    pairs = process_impacts(frame, model, as_of=AS_OF)
    computed = misprioritised(frame, model, as_of=AS_OF)
    pd.testing.assert_frame_equal(misprioritised(frame, model, as_of=AS_OF, pairs=pairs), computed)
    # Pairs of incidents not in the frame are ignored.
    wider = process_impacts(
        pd.concat([frame, make_incidents([{"incident_id": "ELSE", "service_id": "web"}])]),
        model,
        as_of=AS_OF,
    )
    pd.testing.assert_frame_equal(misprioritised(frame, model, as_of=AS_OF, pairs=wider), computed)
    # In any row order.
    backwards = wider.iloc[::-1].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        misprioritised(frame, model, as_of=AS_OF, pairs=backwards), computed
    )
    # No pairs: nothing is understated, but "serves no process" is read from the map,
    # never from a missing pair.
    none = pd.DataFrame({name: [] for name in PAIR_COLUMNS})
    out = misprioritised(frame, model, as_of=AS_OF, pairs=none)
    assert out["incident_id"].tolist() == ["OVER"]


def test_exposures_are_compared_with_a_tolerance(make_map, make_incidents):
    frame = make_incidents(
        [
            {"incident_id": "HARD", "service_id": "web", "priority": 5},
            {"incident_id": "SOFT", "service_id": "web", "priority": 5},
        ]
    )
    pairs = pd.DataFrame(
        {
            "incident_id": ["HARD", "SOFT"],
            "process_id": ["order-to-cash", "order-to-cash"],
            "exposure": [0.9 - 1e-12, 0.4 - 1e-12],  # a product's last bit
            "business_minutes": [60.0, 60.0],
        }
    )
    out = by_id(
        misprioritised(frame, build_impact_model(make_map()), as_of=AS_OF, pairs=pairs, min_gap=1)
    )
    assert (out["HARD"]["suggested_priority"], out["SOFT"]["suggested_priority"]) == (1, 2)


def test_bad_input_is_refused(make_map, make_incidents):
    model = build_impact_model(make_map())
    frame = make_incidents([{"incident_id": "A", "service_id": "web", "priority": 4}])
    with pytest.raises(InvalidSettingsError, match="min_gap"):
        misprioritised(frame, model, as_of=AS_OF, min_gap=0)
    with pytest.raises(MissingColumnsError, match="service_id"):
        misprioritised(frame.drop(columns="service_id"), model, as_of=AS_OF)
    with pytest.raises(MissingColumnsError, match="business_minutes"):
        misprioritised(frame, model, as_of=AS_OF, pairs=pd.DataFrame({"incident_id": ["A"]}))
    # Pairs given by the caller are matched by id, so ids must then be unique; without
    # them each row is judged on its own.
    twice = pd.concat([frame, frame], ignore_index=True)
    pairs = process_impacts(twice, model, as_of=AS_OF)
    with pytest.raises(InvalidIncidentsError, match="unique"):
        misprioritised(twice, model, as_of=AS_OF, pairs=pairs)
    assert misprioritised(twice, model, as_of=AS_OF)["incident_id"].tolist() == ["A", "A"]
    with pytest.raises(InvalidIncidentsError, match="priority"):
        misprioritised(frame.assign(priority=7), model, as_of=AS_OF)
    stray = pd.DataFrame(
        {"incident_id": ["A"], "process_id": ["nope"], "exposure": [1.0], "business_minutes": [1.0]}
    )
    with pytest.raises(InvalidIncidentsError, match="nope"):
        misprioritised(frame, model, as_of=AS_OF, pairs=stray)


ROW_ORDER_ROWS = [
    {"service_id": service, "priority": priority}
    for service in ("web", "pay-api", "hr-app", "intranet", None)
    for priority in (1, 3, 5)
]


@settings(max_examples=25, deadline=None)
@given(order=st.permutations(range(len(ROW_ORDER_ROWS))))
def test_flags_do_not_depend_on_row_order(make_map, make_incidents, order):
    model = build_impact_model(make_map(**with_intranet()))
    frame = make_incidents(ROW_ORDER_ROWS)

    def flags(incidents: pd.DataFrame) -> list[tuple]:
        out = misprioritised(incidents, model, as_of=AS_OF)
        return sorted(map(tuple, out.astype(object).where(out.notna(), None).values.tolist()))

    shuffled = frame.iloc[list(order)].reset_index(drop=True)
    assert flags(shuffled) == flags(frame)


# --------------------------------------------------------------------------- fixtures

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
PLANTED = yaml.safe_load((FIXTURES / "planted.yaml").read_text())
FIXTURE_AS_OF = pd.Timestamp("2026-11-23T00:00:00Z")


@pytest.fixture(scope="module")
def fixture_run():
    service_map = load_service_map(FIXTURES / "service_map.yaml")
    raw = read_canonical_csv(FIXTURES / "incidents.csv")
    incidents, _ = parse_canonical_incidents(raw, as_of=FIXTURE_AS_OF)
    incidents = resolve_services(incidents, service_map)
    model = build_impact_model(service_map)
    pairs = process_impacts(incidents, model, as_of=FIXTURE_AS_OF)
    out = misprioritised(incidents, model, as_of=FIXTURE_AS_OF, pairs=pairs)
    return service_map, incidents, pairs, out


def test_every_planted_misprioritised_incident_is_flagged(fixture_run):
    *_, out = fixture_run
    rows = by_id(out)
    low = [i["incident_id"] for i in PLANTED["misprioritised_low"]["incidents"]]
    no_process = [
        i["incident_id"] for i in PLANTED["p1_on_service_reaching_no_process"]["incidents"]
    ]
    assert len(low) == 5 and len(no_process) == 3
    for incident_id in low:  # P4/P5 on wms in warehouse-dispatch's hours: criticality 1
        row = rows[incident_id]
        assert (row["direction"], row["suggested_priority"]) == ("understated", 1)
        assert (row["service_id"], row["process_id"]) == ("wms", "warehouse-dispatch")
    for incident_id in no_process:
        row = rows[incident_id]
        assert (row["direction"], row["service_id"]) == ("overstated", "legacy-intranet")
    recall = sum(i in rows for i in low + no_process) / len(low + no_process)
    assert recall == 1.0


def test_fixture_pairs_given_or_computed_give_the_same_flags(fixture_run):
    service_map, incidents, _, out = fixture_run
    model = build_impact_model(service_map)
    pd.testing.assert_frame_equal(misprioritised(incidents, model, as_of=FIXTURE_AS_OF), out)


def test_fixture_flags_agree_with_an_independent_computation(fixture_run):
    service_map, incidents, pairs, out = fixture_run
    # The rule again, in plain pandas over the pairs.
    criticality = {p.id: p.criticality for p in service_map.processes}
    exposure = pairs["exposure"].round(9)
    level = (
        pairs["process_id"].map(criticality).astype("int64")
        + np.select([exposure >= 0.9, exposure >= 0.4], [0, 1], 2)
        + (pairs["business_minutes"] == 0).astype("int64")
    ).clip(1, 5)
    best = level.groupby(pairs["incident_id"].to_numpy()).min().rename("suggested")
    priority = incidents.set_index(incidents["incident_id"].astype(str))["priority"]
    gap = priority.reindex(best.index) - best
    understated = best[gap >= 2]
    # Services with no path to any process in the map's own edges (providers feed their
    # consumers, members their group, services their processes).
    graph = nx.DiGraph()
    graph.add_nodes_from(s.id for s in service_map.services)
    graph.add_edges_from((d.provider, d.consumer) for d in service_map.dependencies)
    graph.add_edges_from((s.service, s.process) for s in service_map.supports)
    graph.add_edges_from((member, s.id) for s in service_map.services for member in s.members)
    serves_none = {
        s.id
        for s in service_map.services
        if not any(nx.has_path(graph, s.id, p.id) for p in service_map.processes if p.id in graph)
    }
    assert serves_none == {"legacy-intranet", "end-user-computing"}
    overstated = incidents.loc[
        incidents["mapped"]
        & (incidents["priority"] == 1)
        & incidents["service_id"].isin(serves_none),
        "incident_id",
    ]

    got = out[out["direction"] == "understated"]
    assert dict(zip(got["incident_id"], got["suggested_priority"], strict=True)) == {
        str(k): int(v) for k, v in understated.items()
    }
    assert set(out.loc[out["direction"] == "overstated", "incident_id"]) == set(overstated)
    # 2,814 flags: 2,811 understated and 3 overstated (the 3 planted P1s on
    # legacy-intranet). Only 5 of the 2,811 are planted: the generator draws background
    # priorities independently of the service, so every background P3-P5 on a service
    # that feeds a criticality-1 process hard during its hours is, by this rule,
    # understated too (P3->P1 855, P4->P1 964, P4->P2 543, P5->P1 249, P5->P2 127,
    # P5->P3 73). Precision against the planted lists: 8 / 2,814 = 0.28%.
    assert len(out) == len(understated) + len(overstated) == 2814
    assert (len(understated), len(overstated)) == (2811, 3)
