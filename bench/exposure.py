"""Benchmark: exposure of every service to every process, against `nx.descendants`.

``python -m bench.exposure [--quick] [--repeats N]``

Builds a generated map (not timed), then times in the same run, best of N each:

- ``compute_exposure(G)`` on the prebuilt impact graph (the one-pass engine);
- ``compute_exposure(impact_graph(m))``, the same including the graph build;
- the baseline, ``nx.descendants(G, s)`` for every service and group node of ``G``.

It prints the speed-up (baseline / engine) and records engine / baseline against its
target (DESIGN.md, "Performance targets": <= 1x on the layered map, <= 1/50 on the
giant-cycle one), the tracemalloc peak of ``compute_exposure(impact_graph(m))``, and checks on
200 random services that the processes with exposure > 0 are exactly those that
``nx.descendants`` reaches over edges with factor > 0.
"""

from __future__ import annotations

import argparse
import random
import time
import tracemalloc

import networkx as nx

from bench.common import best_of, mebibytes, print_table, seconds
from bench.mapgen import (
    generate_map_records,
    generate_random_map_records,
    map_edge_count,
    reach_summary,
)
from bench.results import Result, count_label, report

# targets: exposure's time / nx.descendants per service (DESIGN.md, "Performance targets"):
# no slower on a realistic map, at least 50x faster on a giant-cycle one
TARGETS = {"layered": 1.0, "random": 1 / 50}
FULL = {"services": 10_000, "processes": 500, "edges": 30_000}
QUICK = {"services": 1_000, "processes": 100, "edges": 3_000}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Exposure pass vs nx.descendants.")
    parser.add_argument("--quick", action="store_true", help="1,000-service map")
    parser.add_argument("--repeats", type=int, default=3, help="best of N (default 3)")
    parser.add_argument(
        "--baseline-repeats",
        type=int,
        default=None,
        help="best of N for nx.descendants (default: --repeats)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sample", type=int, default=200, help="services to cross-check")
    parser.add_argument(
        "--shape",
        choices=("layered", "random"),
        default="layered",
        help="layered: a realistic map (default); random: a uniform random "
        "directed graph with a giant cycle, where searches are slowest",
    )
    parser.add_argument(
        "--baseline-sample",
        type=int,
        default=None,
        help="run nx.descendants on this many services and scale the time "
        "up (default: all for layered, 1000 for random)",
    )
    args = parser.parse_args(argv)
    size = QUICK if args.quick else FULL
    baseline_repeats = args.baseline_repeats or args.repeats
    if args.baseline_sample is None and args.shape == "random":
        args.baseline_sample = 1000

    from impactlens.engine.exposure import compute_exposure
    from impactlens.service_map.build import build_service_map
    from impactlens.service_map.graph import impact_graph

    start = time.perf_counter()
    generate = generate_map_records if args.shape == "layered" else generate_random_map_records
    records = generate(**size, seed=args.seed)
    service_map = build_service_map(records)
    graph = impact_graph(service_map)
    setup = time.perf_counter() - start
    services = [node for node, kind in graph.nodes(data="kind") if kind != "process"]
    counts = (
        f"{len(records['services'])} services, {len(records['business_processes'])} "
        f"processes, {map_edge_count(records)} edges"
    )
    nodes, edges = graph.number_of_nodes(), graph.number_of_edges()
    print(f"map ({args.shape}): {counts}; graph {nodes} nodes / {edges} edges ({setup:.1f} s)")
    print(reach_summary(records))
    print(f"timing best of {args.repeats} (engine) and {baseline_repeats} (baseline) ...")

    engine_time, table = best_of(args.repeats, lambda: compute_exposure(graph))
    with_graph_time, _ = best_of(args.repeats, lambda: compute_exposure(impact_graph(service_map)))
    graph_time, _ = best_of(args.repeats, lambda: impact_graph(service_map))

    searched = services
    if args.baseline_sample and args.baseline_sample < len(services):
        searched = random.Random(args.seed).sample(services, args.baseline_sample)

    def baseline() -> int:
        total = 0
        for node in searched:
            total += len(nx.descendants(graph, node))
        return total

    measured, visited = best_of(baseline_repeats, baseline)
    baseline_time = measured * len(services) / len(searched)
    baseline_label = f"baseline: nx.descendants x {len(services)}"
    if len(searched) < len(services):
        baseline_label += f" (x{len(searched)} measured, scaled)"

    tracemalloc.start()
    compute_exposure(impact_graph(service_map))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    mismatches = _cross_check(graph, table, services, args.sample, args.seed)

    speedup = baseline_time / engine_time
    print()
    print_table(
        [
            ["impact_graph(m)", seconds(graph_time), ""],
            ["compute_exposure(G)", seconds(engine_time), _ratio(speedup)],
            [
                "compute_exposure(impact_graph(m))",
                seconds(with_graph_time),
                _ratio(baseline_time / with_graph_time),
            ],
            [baseline_label, seconds(baseline_time), "1x"],
            ["  mean nodes per nx.descendants", f"{visited / len(searched):.0f}", ""],
            ["peak memory, exposure incl. graph (tracemalloc)", mebibytes(peak), ""],
            [
                f"cross-check on {min(args.sample, len(services))} services",
                "OK" if not mismatches else f"{len(mismatches)} mismatches",
                "",
            ],
        ],
        header=["measure", "time", "speed-up"],
    )
    print()
    shape = "layered" if args.shape == "layered" else "giant cycle"
    size = f"{count_label(len(records['services']))} services"
    report([
        Result(f"exposure {shape} {size}", engine_time / baseline_time, "x", TARGETS[args.shape]),
        Result(f"exposure {shape} {size} incl. graph build", with_graph_time / baseline_time,
               "x", TARGETS[args.shape]),
    ])  # fmt: skip
    for node, expected, got in mismatches[:5]:
        print(
            f"  mismatch {node}: descendants {sorted(expected)[:5]}..., "
            f"exposure {sorted(got)[:5]}..."
        )
    return 1 if mismatches else 0


def _cross_check(graph, table, services, sample, seed):
    """(node, expected, got) for every sampled service whose reached processes differ."""
    processes = {node for node, kind in graph.nodes(data="kind") if kind == "process"}
    live = nx.subgraph_view(
        graph, filter_edge=lambda u, v: graph.edges[u, v].get("factor", 1.0) > 0.0
    )
    chosen = random.Random(seed).sample(services, min(sample, len(services)))
    mismatches = []
    for node in chosen:
        expected = nx.descendants(live, node) & processes
        row = table.values[table.node_index(node)]
        got = {table.processes[column] for column in row.nonzero()[0]}
        if expected != got:
            mismatches.append((node, expected, got))
    return mismatches


def _ratio(value: float) -> str:
    return f"{value:.0f}x" if value >= 10 else f"{value:.2f}x"


if __name__ == "__main__":
    raise SystemExit(main())
