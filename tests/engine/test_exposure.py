"""Exposure: the largest product of edge factors over the paths from a service to a process.

DESIGN.md "Impact semantics". Every expected number is worked out by hand in a comment.
A dependency ``{from: c, to: p}`` is an impact edge ``p -> c`` (a failing provider
impacts its consumer); ``{service: s, process: q}`` is an edge ``s -> q``.
"""

from __future__ import annotations

import math
from itertools import pairwise

import hypothesis.strategies as st
import networkx as nx
import pytest
from hypothesis import assume, given, settings
from impactlens.engine.exposure import ExposureTable, compute_exposure
from impactlens.service_map.graph import impact_graph
from impactlens.service_map.model import ServiceMap

from impactlens.errors import UnknownServiceError


def exposures(service_map: ServiceMap) -> ExposureTable:
    return compute_exposure(impact_graph(service_map))


def path_of(table: ExposureTable, node: str, process: str) -> list[tuple[str, float]]:
    return [(step.node, step.factor) for step in table.path(node, process)]


ONE_PROCESS = [{"id": "sales", "criticality": 1, "value_per_hour": 600}]


def services(*ids: str) -> list[dict]:
    return [{"id": service_id} for service_id in ids]


def dep(consumer: str, provider: str, weight: float | None = None) -> dict:
    """`consumer` depends on `provider`: impact flows provider -> consumer."""
    record = {"from": consumer, "to": provider}
    if weight is not None:
        record["weight"] = weight
    return record


def sup(service: str, process: str, weight: float | None = None) -> dict:
    record = {"service": service, "process": process}
    if weight is not None:
        record["weight"] = weight
    return record


# --------------------------------------------------------------------------- edges, paths


def test_hard_edges_give_full_exposure_and_the_path(make_map):
    table = exposures(make_map())
    # pay-api -> web (1.0) -> order-to-cash (1.0): 1.0 x 1.0 = 1.0
    assert table.exposure("pay-api", "order-to-cash") == 1.0
    assert path_of(table, "pay-api", "order-to-cash") == [
        ("pay-api", 1.0),
        ("web", 1.0),
        ("order-to-cash", 1.0),
    ]
    # web -> order-to-cash: 1.0
    assert table.exposure("web", "order-to-cash") == 1.0


def test_soft_edges_multiply(make_map):
    table = exposures(make_map())
    # pay-api -> hr-app (x0.4) -> payroll (x0.5): 0.4 x 0.5 = 0.2
    assert table.exposure("pay-api", "payroll") == pytest.approx(0.2)
    assert path_of(table, "pay-api", "payroll") == [
        ("pay-api", 1.0),
        ("hr-app", 0.4),
        ("payroll", 0.5),
    ]
    # hr-app -> payroll (x0.5) = 0.5
    assert table.exposure("hr-app", "payroll") == pytest.approx(0.5)
    # nothing runs from web or hr-app to the other process
    assert table.exposure("web", "payroll") == 0.0
    assert table.exposure("hr-app", "order-to-cash") == 0.0


def test_a_chain_multiplies_its_factors(make_map):
    m = make_map(
        business_processes=ONE_PROCESS,
        services=services("a", "b", "c"),
        dependencies=[dep("b", "a", 0.5), dep("c", "b", 0.4)],
        supports=[sup("c", "sales")],
    )
    table = exposures(m)
    # a -> b (x0.5) -> c (x0.4) -> sales (x1.0): 0.5 x 0.4 x 1.0 = 0.2
    assert table.exposure("a", "sales") == pytest.approx(0.2)
    # b -> c (x0.4) -> sales: 0.4
    assert table.exposure("b", "sales") == pytest.approx(0.4)
    assert table.exposure("c", "sales") == 1.0
    assert [node for node, _ in path_of(table, "a", "sales")] == ["a", "b", "c", "sales"]


def test_diamond_takes_the_strongest_product_not_the_strongest_first_edge(make_map):
    # a -> b (0.9) -> d (0.3) -> sales : 0.9 x 0.3 x 1.0 = 0.27
    # a -> c (0.6) -> d (0.8) -> sales : 0.6 x 0.8 x 1.0 = 0.48   <- strongest
    m = make_map(
        business_processes=ONE_PROCESS,
        services=services("a", "b", "c", "d"),
        dependencies=[
            dep("b", "a", 0.9),
            dep("d", "b", 0.3),
            dep("c", "a", 0.6),
            dep("d", "c", 0.8),
        ],
        supports=[sup("d", "sales")],
    )
    table = exposures(m)
    assert table.exposure("a", "sales") == pytest.approx(0.48)
    assert path_of(table, "a", "sales") == [("a", 1.0), ("c", 0.6), ("d", 0.8), ("sales", 1.0)]


def test_a_path_through_a_dependency_can_beat_a_weak_direct_support(make_map):
    # a supports sales directly at 0.3; a -> b (1.0) -> sales (0.9) gives 0.9 > 0.3
    m = make_map(
        business_processes=ONE_PROCESS,
        services=services("a", "b"),
        dependencies=[dep("b", "a")],
        supports=[sup("a", "sales", 0.3), sup("b", "sales", 0.9)],
    )
    table = exposures(m)
    assert table.exposure("a", "sales") == pytest.approx(0.9)
    assert path_of(table, "a", "sales") == [("a", 1.0), ("b", 1.0), ("sales", 0.9)]


def test_cycle_two_services_depending_on_each_other(make_map):
    # a -> b (0.5), b -> a (0.8); a supports sales 0.3 and audit 1.0; b supports sales 0.9;
    # x -> a (1.0) feeds the cycle from outside.
    m = make_map(
        business_processes=[*ONE_PROCESS, {"id": "audit", "criticality": 3}],
        services=services("x", "a", "b"),
        dependencies=[dep("b", "a", 0.5), dep("a", "b", 0.8), dep("a", "x")],
        supports=[sup("a", "sales", 0.3), sup("b", "sales", 0.9), sup("a", "audit")],
    )
    table = exposures(m)
    # a: max(direct 0.3, a -> b 0.5 x 0.9 = 0.45) = 0.45
    assert table.exposure("a", "sales") == pytest.approx(0.45)
    assert [n for n, _ in path_of(table, "a", "sales")] == ["a", "b", "sales"]
    # b: max(direct 0.9, b -> a 0.8 x 0.3 = 0.24) = 0.9
    assert table.exposure("b", "sales") == pytest.approx(0.9)
    assert [n for n, _ in path_of(table, "b", "sales")] == ["b", "sales"]
    # x: 1.0 x 0.45 = 0.45 along x -> a -> b -> sales (no node twice)
    assert table.exposure("x", "sales") == pytest.approx(0.45)
    assert [n for n, _ in path_of(table, "x", "sales")] == ["x", "a", "b", "sales"]
    # b reaches audit only round the cycle: b -> a (0.8) -> audit (1.0) = 0.8
    assert table.exposure("b", "audit") == pytest.approx(0.8)
    assert path_of(table, "b", "audit") == [("b", 1.0), ("a", 0.8), ("audit", 1.0)]


def test_cycle_of_hard_edges_gives_loop_free_paths(make_map):
    # a -> b -> c -> a, every factor 1.0; only c supports sales. Each node: 1.0.
    m = make_map(
        business_processes=ONE_PROCESS,
        services=services("a", "b", "c"),
        dependencies=[dep("b", "a"), dep("c", "b"), dep("a", "c")],
        supports=[sup("c", "sales")],
    )
    table = exposures(m)
    assert [table.exposure(s, "sales") for s in ("a", "b", "c")] == [1.0, 1.0, 1.0]
    assert [n for n, _ in path_of(table, "a", "sales")] == ["a", "b", "c", "sales"]
    assert [n for n, _ in path_of(table, "b", "sales")] == ["b", "c", "sales"]
    assert [n for n, _ in path_of(table, "c", "sales")] == ["c", "sales"]


# --------------------------------------------------------------------------- redundancy


def group_map(make_map, *, members: list[str], min_up: int, **overrides):
    """web depends on group `db`; web supports sales; members are plain services."""
    records = {
        "business_processes": ONE_PROCESS,
        "services": [
            *services("web", *members),
            {"id": "db", "kind": "redundancy_group", "members": members, "min_up": min_up},
        ],
        "dependencies": [dep("web", "db")],
        "supports": [sup("web", "sales")],
    }
    for key, extra in overrides.items():
        records[key] = [*records[key], *extra]
    return make_map(**records)


def test_group_of_two_min_up_one_member_alone_does_not_pass_impact(make_map):
    table = exposures(group_map(make_map, members=["db-a", "db-b"], min_up=1))
    # db-a down leaves 1 of 2 up, 1 >= min_up 1: the group stays up -> 0
    assert table.exposure("db-a", "sales") == 0.0
    assert table.exposure("db-b", "sales") == 0.0
    assert table.path("db-a", "sales") == []
    # the group itself failing: db -> web (1.0) -> sales (1.0) = 1.0
    assert table.exposure("db", "sales") == 1.0
    assert [n for n, _ in path_of(table, "db", "sales")] == ["db", "web", "sales"]


def test_group_of_two_min_up_two_member_passes_impact(make_map):
    table = exposures(group_map(make_map, members=["db-a", "db-b"], min_up=2))
    # db-a down leaves 1 up < min_up 2: db-a -> db (1.0) -> web -> sales = 1.0
    assert table.exposure("db-a", "sales") == 1.0
    assert [n for n, _ in path_of(table, "db-a", "sales")] == ["db-a", "db", "web", "sales"]


def test_group_of_three_min_up_two_one_member_down_leaves_two_up(make_map):
    table = exposures(group_map(make_map, members=["n1", "n2", "n3"], min_up=2))
    # n1 down leaves 2 of 3 up, 2 >= 2: 0
    assert [table.exposure(n, "sales") for n in ("n1", "n2", "n3")] == [0.0, 0.0, 0.0]
    assert table.exposure("db", "sales") == 1.0


def test_group_of_three_min_up_three_member_passes_impact(make_map):
    table = exposures(group_map(make_map, members=["n1", "n2", "n3"], min_up=3))
    # n1 down leaves 2 of 3 up, 2 < 3: passes, 1.0
    assert [table.exposure(n, "sales") for n in ("n1", "n2", "n3")] == [1.0, 1.0, 1.0]


def test_one_member_group_passes_impact(make_map):
    table = exposures(group_map(make_map, members=["solo"], min_up=1))
    # solo down leaves 0 up < 1: 1.0
    assert table.exposure("solo", "sales") == 1.0


def test_blocked_member_still_reaches_through_its_own_consumers(make_map):
    # db-a is redundant inside db (blocked), but reporting depends on db-a directly:
    # db-a -> reporting (1.0) -> sales (0.5) = 0.5
    m = group_map(
        make_map,
        members=["db-a", "db-b"],
        min_up=1,
        services=services("reporting"),
        dependencies=[dep("reporting", "db-a")],
        supports=[sup("reporting", "sales", 0.5)],
    )
    table = exposures(m)
    assert table.exposure("db-a", "sales") == pytest.approx(0.5)
    assert [n for n, _ in path_of(table, "db-a", "sales")] == ["db-a", "reporting", "sales"]
    assert table.exposure("db-b", "sales") == 0.0


# --------------------------------------------------------------------------- supports, misc


def test_supports_weights_per_process(make_map):
    m = make_map(
        business_processes=[*ONE_PROCESS, {"id": "audit", "criticality": 3}],
        services=services("a", "b"),
        dependencies=[dep("b", "a", 0.5)],
        supports=[sup("a", "sales", 0.25), sup("b", "audit", 0.6)],
    )
    table = exposures(m)
    assert table.exposure("a", "sales") == pytest.approx(0.25)  # direct support 0.25
    assert table.exposure("a", "audit") == pytest.approx(0.3)  # 0.5 x 0.6 = 0.3
    assert table.exposure("b", "sales") == 0.0  # b does not reach sales
    assert table.exposure("b", "audit") == pytest.approx(0.6)


def test_a_service_reaching_nothing_has_a_row_of_zeros(make_map):
    m = make_map(services=services("pay-api", "web", "hr-app", "lonely"))
    table = exposures(m)
    assert table.exposure("lonely", "order-to-cash") == 0.0
    assert table.exposure("lonely", "payroll") == 0.0
    assert table.path("lonely", "order-to-cash") == []
    assert table.path("lonely", "payroll") == []
    assert "lonely" not in set(table.to_frame()["node"])


def test_unknown_service_is_an_error(make_map):
    table = exposures(make_map())
    with pytest.raises(UnknownServiceError, match="pay-apx"):
        table.exposure("pay-apx", "order-to-cash")
    with pytest.raises(UnknownServiceError):
        table.path("nope", "payroll")


# --------------------------------------------------------------------------- properties

FACTOR = st.one_of(st.just(1.0), st.floats(min_value=0.01, max_value=1.0))


@st.composite
def random_maps(draw, *, max_services: int = 6, max_processes: int = 2):
    """Small maps: services s0..sN, processes p0..pK, random factors in (0, 1].

    Half of them are DAGs (a provider always has a lower index than its consumer).
    """
    n_services = draw(st.integers(1, max_services))
    n_processes = draw(st.integers(1, max_processes))
    acyclic = draw(st.booleans())
    pairs = [
        (i, j)
        for i in range(n_services)
        for j in range(n_services)
        if i != j and (i < j or not acyclic)
    ]
    chosen = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=10)) if pairs else []
    dependencies = [dep(f"s{j}", f"s{i}", draw(FACTOR)) for i, j in chosen]
    support_pairs = [(i, k) for i in range(n_services) for k in range(n_processes)]
    supported = draw(st.lists(st.sampled_from(support_pairs), unique=True, min_size=1, max_size=6))
    supports = [sup(f"s{i}", f"p{k}", draw(FACTOR)) for i, k in supported]
    return {
        "business_processes": [{"id": f"p{k}", "criticality": 1} for k in range(n_processes)],
        "services": services(*(f"s{i}" for i in range(n_services))),
        "dependencies": dependencies,
        "supports": supports,
    }


def brute_force(graph: nx.DiGraph, source: str, target: str) -> float:
    best = 0.0
    for path in nx.all_simple_paths(graph, source, target):
        best = max(best, math.prod(graph.edges[u, v]["factor"] for u, v in pairwise(path)))
    return best


def service_and_process_ids(records: dict) -> tuple[list[str], list[str]]:
    return (
        [s["id"] for s in records["services"]],
        [p["id"] for p in records["business_processes"]],
    )


@settings(max_examples=150, deadline=None)
@given(records=random_maps())
def test_exposure_is_between_0_and_1(make_map, records):
    table = exposures(make_map(**records))
    assert ((table.values >= 0.0) & (table.values <= 1.0)).all()


@settings(max_examples=150, deadline=None)
@given(records=random_maps(), data=st.data())
def test_adding_a_dependency_never_lowers_exposure(make_map, records, data):
    service_ids, process_ids = service_and_process_ids(records)
    assume(len(service_ids) >= 2)
    consumer, provider = data.draw(st.permutations(service_ids))[:2]
    assume(all((d["from"], d["to"]) != (consumer, provider) for d in records["dependencies"]))
    before = exposures(make_map(**records))
    more = {
        **records,
        "dependencies": [*records["dependencies"], dep(consumer, provider, data.draw(FACTOR))],
    }
    after = exposures(make_map(**more))
    for service in service_ids:
        for process in process_ids:
            assert after.exposure(service, process) >= before.exposure(service, process) - 1e-12


@settings(max_examples=200, deadline=None)
@given(records=random_maps())
def test_exposure_equals_brute_force_over_simple_paths(make_map, records):
    m = make_map(**records)
    graph = impact_graph(m)
    table = compute_exposure(graph)
    service_ids, process_ids = service_and_process_ids(records)
    for service in service_ids:
        for process in process_ids:
            expected = brute_force(graph, service, process)
            assert table.exposure(service, process) == pytest.approx(expected, rel=1e-9, abs=1e-15)


@settings(max_examples=200, deadline=None)
@given(records=random_maps())
def test_every_path_is_simple_real_and_its_product_is_the_exposure(make_map, records):
    m = make_map(**records)
    graph = impact_graph(m)
    table = compute_exposure(graph)
    service_ids, process_ids = service_and_process_ids(records)
    for service in service_ids:
        for process in process_ids:
            value = table.exposure(service, process)
            steps = table.path(service, process)
            if value == 0.0:
                assert steps == []
                continue
            nodes = [step.node for step in steps]
            assert nodes[0] == service and nodes[-1] == process
            assert len(set(nodes)) == len(nodes)  # loop-free
            assert steps[0].factor == 1.0
            for (u, v), step in zip(pairwise(nodes), steps[1:], strict=True):
                assert graph.edges[u, v]["factor"] == step.factor
            assert math.prod(step.factor for step in steps) == pytest.approx(value, rel=1e-9)


# ------------------------------------------------------------ common cause through a group
# A group of n with min_up fails when k = n - min_up + 1 members fail, so a node's exposure
# through the group is the k-th largest of its exposures to the members.


def test_a_provider_under_both_members_takes_the_group_down(make_map):
    m = group_map(
        make_map,
        members=["db-a", "db-b"],
        min_up=1,
        services=services("san"),
        dependencies=[dep("db-a", "san"), dep("db-b", "san")],
    )
    table = exposures(m)
    # k = 2 - 1 + 1 = 2; san reaches db-a at 1.0 and db-b at 1.0; 2nd largest = 1.0;
    # then db -> web -> sales at 1.0: exposure 1.0
    assert table.exposure("san", "sales") == 1.0
    assert [(s.node, s.note) for s in table.path("san", "sales")] == [
        ("san", ""),
        ("db", "takes down 2 of its 2 members"),
        ("web", ""),
        ("sales", ""),
    ]
    # one member alone still does not take the group down
    assert table.exposure("db-a", "sales") == 0.0


def test_soft_common_cause_uses_the_kth_largest_member_exposure(make_map):
    m = group_map(
        make_map,
        members=["db-a", "db-b"],
        min_up=1,
        services=services("san"),
        dependencies=[dep("db-a", "san", 0.5), dep("db-b", "san", 0.8)],
    )
    # member exposures 0.5 and 0.8; the 2nd largest is 0.5
    assert exposures(m).exposure("san", "sales") == 0.5


def test_a_provider_under_one_member_only_is_absorbed(make_map):
    m = group_map(
        make_map,
        members=["db-a", "db-b"],
        min_up=1,
        services=services("san"),
        dependencies=[dep("db-a", "san")],
    )
    # member exposures 1.0 and 0.0; the 2nd largest is 0.0
    assert exposures(m).exposure("san", "sales") == 0.0


def test_three_members_min_up_two_fail_when_two_are_hit(make_map):
    members = ["lb-1", "lb-2", "lb-3"]
    two = group_map(
        make_map,
        members=members,
        min_up=2,
        services=services("net"),
        dependencies=[dep("lb-1", "net"), dep("lb-2", "net", 0.6)],
    )
    one = group_map(
        make_map,
        members=members,
        min_up=2,
        services=services("net"),
        dependencies=[dep("lb-1", "net")],
    )
    # k = 3 - 2 + 1 = 2: exposures (1.0, 0.6, 0) -> 0.6; with one member hit (1, 0, 0) -> 0
    assert exposures(two).exposure("net", "sales") == 0.6
    assert exposures(one).exposure("net", "sales") == 0.0


# ------------------------------------------------- independent oracle: groups and cycles


def oracle_exposure(service_map: ServiceMap) -> dict[tuple[str, str], float]:
    """Exposure by plain fixed-point iteration, written from DESIGN.md, not from the engine.

    to[u][x] is u's exposure to node x. It starts at 1 for x == u and grows until stable:
    along a dependency or supports edge, to[u][x] >= factor * to[v][x]; through a group g of
    n members with min_up, to[u][x] >= (k-th largest of to[u][m] over members m) * to[g][x],
    with k = n - min_up + 1.
    """
    ids = [s.id for s in service_map.services] + [p.id for p in service_map.processes]
    edges = [(d.provider, d.consumer, d.weight) for d in service_map.dependencies]
    edges += [(s.service, s.process, s.weight) for s in service_map.supports]
    groups = [
        (s.id, s.members, len(s.members) - s.min_up + 1)
        for s in service_map.services
        if s.kind == "redundancy_group"
    ]
    to = {u: {x: float(u == x) for x in ids} for u in ids}
    changed = True
    while changed:
        changed = False
        for u in ids:
            for source, target, factor in edges:
                if source == u:
                    for x in ids:
                        if factor * to[target][x] > to[u][x]:
                            to[u][x], changed = factor * to[target][x], True
            for group, members, k in groups:
                if group == u:
                    continue
                through = sorted((to[u][m] for m in members), reverse=True)[k - 1]
                for x in ids:
                    if through * to[group][x] > to[u][x]:
                        to[u][x], changed = through * to[group][x], True
    return {(u, p.id): to[u][p.id] for u in ids for p in service_map.processes}


@st.composite
def maps_with_groups_and_cycles(draw):
    count = draw(st.integers(min_value=3, max_value=7))
    names = [f"s{i}" for i in range(count)]
    members = draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True))
    min_up = draw(st.integers(min_value=1, max_value=len(members)))
    weights = st.sampled_from([1.0, 0.5, 0.8, 0.3])
    pairs = draw(
        st.lists(
            st.tuples(st.sampled_from([*names, "g"]), st.sampled_from([*names, "g"]), weights),
            max_size=12,
        )
    )
    dependencies, seen = [], set()
    for consumer, provider, weight in pairs:  # cycles allowed, self-loops and repeats not
        if consumer != provider and (consumer, provider) not in seen:
            seen.add((consumer, provider))
            dependencies.append({"from": consumer, "to": provider, "weight": weight})
    supports = [
        {"service": s, "process": p, "weight": draw(weights)}
        for s, p in draw(
            st.lists(
                st.tuples(st.sampled_from([*names, "g"]), st.sampled_from(["p1", "p2"])),
                min_size=1,
                max_size=4,
                unique=True,
            )
        )
    ]
    return {
        "version": 1,
        "business_processes": [{"id": "p1", "criticality": 1}, {"id": "p2", "criticality": 2}],
        "services": [{"id": n} for n in names]
        + [{"id": "g", "kind": "redundancy_group", "members": members, "min_up": min_up}],
        "dependencies": dependencies,
        "supports": supports,
    }


@settings(max_examples=150, deadline=None)
@given(maps_with_groups_and_cycles())
def test_exposure_matches_the_fixed_point_oracle_with_groups_and_cycles(records):
    from impactlens.service_map.build import build_service_map

    service_map = build_service_map(records)
    table = exposures(service_map)
    for (node, process), expected in oracle_exposure(service_map).items():
        assert table.exposure(node, process) == pytest.approx(expected, abs=1e-12), (node, process)
        steps = table.path(node, process)
        if expected > 0:  # the path's factors multiply to the exposure, and it ends there
            assert steps[-1].node == process
            assert math.prod(step.factor for step in steps) == pytest.approx(expected)
            assert len({step.node for step in steps}) == len(steps)  # no loop
        else:
            assert steps == []
