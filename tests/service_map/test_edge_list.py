"""Edge-list import, on hand-made lists and on the real service graphs in ../shared/data."""

from __future__ import annotations

import csv
from pathlib import Path

import networkx as nx
import pytest
import yaml
from impactlens.engine.exposure import compute_exposure
from impactlens.service_map.build import build_service_map
from impactlens.service_map.edge_list import PLACEHOLDER_PROCESS, parse_edge_list, skeleton_yaml
from impactlens.service_map.graph import impact_graph

from impactlens.errors import InputFileError

GRAPHS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "service-graphs"


def test_names_that_collide_after_cleaning_are_refused():
    with pytest.raises(
        InputFileError,
        match=r"line 4: 'front end' and 'Front End' both "
        r"become the id 'front-end'",
    ):
        parse_edge_list([("Front End", "cart"), ("cart", "redis"), ("front end", "x")], source="t")


def test_bad_rows_name_their_line():
    with pytest.raises(InputFileError, match=r"edges.csv, line 3: expected caller,callee"):
        parse_edge_list([("a", "b"), ("c", "")], source="edges.csv")


def test_skeleton_yaml_validates_and_propagates():
    records = parse_edge_list([("web", "api"), ("api", "db"), ("batch", "db")])
    text = skeleton_yaml(records, source="edges.csv")
    assert text.startswith("# Service map skeleton imported from edges.csv")
    service_map = build_service_map(yaml.safe_load(text))
    table = compute_exposure(impact_graph(service_map))
    # web and batch are entry points (nothing calls them); db reaches the process through both
    assert [s["service"] for s in records["supports"]] == ["web", "batch"]
    assert table.exposure("db", PLACEHOLDER_PROCESS) == 1.0
    assert [step.node for step in table.path("db", PLACEHOLDER_PROCESS)] in (
        ["db", "api", "web", PLACEHOLDER_PROCESS],
        ["db", "batch", PLACEHOLDER_PROCESS],
    )


def real_edges(name: str) -> list[tuple[str, str]]:
    path = GRAPHS / name
    if not path.exists():
        pytest.skip(f"real service graph {path} is absent (../shared/data not beside the clone)")
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    return [(row[0], row[1]) for row in rows[1:]]


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("name", "services", "edges"),
    [
        ("online_boutique_edges.csv", 13, 17),
        ("trainticket_service_edges_derived.csv", 37, 92),
        ("socialnetwork_service_edges_derived.csv", 12, 11),
    ],
)
def test_real_service_graphs_import_and_propagate(name, services, edges):
    pairs = real_edges(name)
    records = parse_edge_list(pairs, source=name)
    service_map = build_service_map(yaml.safe_load(skeleton_yaml(records, source=name)))
    # counts from ../shared/data/README.md, and distinct names counted by hand
    assert len(service_map.services) == services
    assert len(service_map.dependencies) == edges
    graph = impact_graph(service_map)
    table = compute_exposure(graph)
    # Independent check: with only hard edges, a service is exposed (at 1.0) to the
    # placeholder process exactly when some entry point depends on it transitively.
    calls = nx.DiGraph(pairs)
    entry_points = {s for s in calls if calls.in_degree(s) == 0}
    for service in calls:
        reaches = service in entry_points or bool(nx.ancestors(calls, service) & entry_points)
        expected = 1.0 if reaches else 0.0
        assert table.exposure(service, PLACEHOLDER_PROCESS) == expected, service
