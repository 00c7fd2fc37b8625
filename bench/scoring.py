"""Benchmark: scoring 1,000,000 incidents, against pandas just reading the CSV.

``python -m bench.scoring [--quick] [--repeats N]``

On a generated map and a generated canonical CSV (cached under ``.impactlens/bench/``),
times, best of N each, in the same run:

- the baseline ``pd.read_csv(path, engine="pyarrow")``;
- the pipeline of ``impactlens score`` minus writing outputs: ``read_canonical_csv`` ->
  ``parse_canonical_incidents(raw, as_of=...)`` -> ``resolve_services`` ->
  ``score_incidents``, with the impact model built once beforehand (reported apart);
- ``process_impacts`` (the long per-(incident, process) table), reported apart; its
  memory grows with the (incident, process) pairs, so it runs at full size too
  (``--skip-impacts`` leaves it out).

Target (DESIGN.md, "Performance targets"): pipeline total <= 2x the baseline read.
Peak memory: each of "read only", "pipeline" and "pipeline + process_impacts" runs in a
fresh child process whose ``ru_maxrss`` (``RUSAGE_CHILDREN`` of a one-child wrapper)
is reported.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import pandas as pd

from bench.common import best_of, mebibytes, print_table, seconds
from bench.mapgen import (
    INCIDENTS_AS_OF,
    REPO_ROOT,
    generate_incidents_csv,
    generate_map_records,
    map_edge_count,
)
from bench.results import Result, count_label, report

TARGET_RATIO = 2.0
FULL = {"services": 10_000, "processes": 500, "edges": 30_000, "incidents": 1_000_000}
QUICK = {"services": 1_000, "processes": 100, "edges": 3_000, "incidents": 50_000}
STAGES = ("read_canonical_csv", "parse_canonical_incidents", "resolve_services", "score_incidents")
# Runs `argv` as its only child and prints that child's peak RSS (KiB on Linux).
_RSS_WRAPPER = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def _size(quick: bool) -> dict[str, int]:
    return dict(QUICK if quick else FULL)


def _map_and_csv(size: dict[str, int], seed: int):
    records = generate_map_records(size["services"], size["processes"], size["edges"], seed)
    path = generate_incidents_csv(None, records, n=size["incidents"], seed=seed)
    return records, path


def run_pipeline(path, model, as_of: pd.Timestamp, timings: dict[str, float] | None = None):
    """What `impactlens score` does before writing: returns (resolved, scores, rejected)."""
    from impactlens.engine.impact import score_incidents
    from impactlens.engine.resolution import resolve_services
    from impactlens.ingest.canonical import parse_canonical_incidents, read_canonical_csv

    def timed(name, func, *args, **kwargs):
        start = time.perf_counter()
        result = func(*args, **kwargs)
        if timings is not None:
            timings[name] = time.perf_counter() - start
        return result

    raw = timed("read_canonical_csv", read_canonical_csv, path)
    parsed, rejected = timed(
        "parse_canonical_incidents", parse_canonical_incidents, raw, as_of=as_of
    )
    resolved = timed("resolve_services", resolve_services, parsed, model.service_map)
    scores = timed("score_incidents", score_incidents, resolved, model, as_of=as_of)
    return resolved, scores, rejected


def _child(mode: str, quick: bool, seed: int) -> None:
    """Body of a memory-measuring child: run one workload and exit."""
    size = _size(quick)
    records, path = _map_and_csv(size, seed)
    if mode == "read":
        pd.read_csv(path, engine="pyarrow")
        return
    from impactlens.engine.impact import build_impact_model, process_impacts
    from impactlens.service_map.build import build_service_map

    as_of = pd.Timestamp(INCIDENTS_AS_OF)
    model = build_impact_model(build_service_map(records))
    resolved, _, _ = run_pipeline(path, model, as_of)
    if mode == "impacts":
        process_impacts(resolved, model, as_of=as_of)


def _peak_rss(mode: str, quick: bool, seed: int) -> float:
    """Peak RSS in bytes of a fresh child process running `mode`."""
    child = [sys.executable, "-m", "bench.scoring", "--child", mode, "--seed", str(seed)]
    if quick:
        child.append("--quick")
    done = subprocess.run(
        [sys.executable, "-c", _RSS_WRAPPER, *child],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return int(done.stdout.split()[-1]) * 1024.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Scoring pipeline vs pandas read_csv.")
    parser.add_argument("--quick", action="store_true", help="1,000 services, 50,000 incidents")
    parser.add_argument("--repeats", type=int, default=3, help="best of N (default 3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-memory", action="store_true", help="skip the child processes")
    parser.add_argument(
        "--impacts-repeats",
        type=int,
        default=None,
        help="best of N for process_impacts (default: --repeats)",
    )
    parser.add_argument(
        "--skip-impacts", action="store_true", help="do not run process_impacts at all"
    )
    parser.add_argument("--child", choices=("read", "pipeline", "impacts"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child, args.quick, args.seed)
        return 0

    from impactlens.engine.impact import build_impact_model, process_impacts
    from impactlens.service_map.build import build_service_map

    size = _size(args.quick)
    start = time.perf_counter()
    records, path = _map_and_csv(size, args.seed)
    service_map = build_service_map(records)
    as_of = pd.Timestamp(INCIDENTS_AS_OF)
    print(
        f"map: {len(records['services'])} services, {len(records['business_processes'])} "
        f"processes, {map_edge_count(records)} edges; incidents: {size['incidents']:,} rows, "
        f"{path.stat().st_size / 2**20:.0f} MiB ({path.relative_to(REPO_ROOT)}); "
        f"ready in {time.perf_counter() - start:.1f} s"
    )
    print(f"timing best of {args.repeats} ...")

    model_time, model = best_of(args.repeats, lambda: build_impact_model(service_map))
    read_time, _ = best_of(args.repeats, lambda: pd.read_csv(path, engine="pyarrow"))

    best = dict.fromkeys(STAGES, float("inf"))
    total = float("inf")
    for _ in range(max(1, args.repeats)):
        timings: dict[str, float] = {}
        # Every run as a one-shot `impactlens score` has it: no explanation made yet (a
        # long-lived model, the API's, keeps them from one call to the next).
        model.explained.clear()
        start = time.perf_counter()
        resolved, scores, rejected = run_pipeline(path, model, as_of, timings)
        total = min(total, time.perf_counter() - start)
        for stage in STAGES:
            best[stage] = min(best[stage], timings[stage])
        del scores
    impacts_repeats = args.impacts_repeats or args.repeats
    skip_impacts = args.skip_impacts
    if skip_impacts:
        print("process_impacts skipped (--skip-impacts)")
    else:
        impacts_time, impacts = best_of(
            impacts_repeats, lambda: process_impacts(resolved, model, as_of=as_of)
        )
        pairs = len(impacts)
        del impacts

    rows = [["baseline: pd.read_csv(engine='pyarrow')", seconds(read_time), "1.00x"]]
    for stage in STAGES:
        rows.append([f"  {stage}", seconds(best[stage]), f"{best[stage] / read_time:.2f}x"])
    rows.append(["pipeline total (read -> score)", seconds(total), f"{total / read_time:.2f}x"])
    if not skip_impacts:
        rows.append(
            [
                f"process_impacts ({pairs:,} pairs, best of {impacts_repeats})",
                seconds(impacts_time),
                f"{impacts_time / read_time:.2f}x",
            ]
        )
    rows.append(
        ["build_impact_model (once per map)", seconds(model_time), f"{model_time / read_time:.2f}x"]
    )
    if not args.no_memory:
        children = [("read only", "read"), ("pipeline", "pipeline")]
        if not skip_impacts:
            children.append(("pipeline + process_impacts", "impacts"))
        for label, mode in children:
            rows.append(
                [f"peak RSS, child: {label}", mebibytes(_peak_rss(mode, args.quick, args.seed)), ""]
            )
    print()
    print(
        f"{len(resolved):,} incidents scored, {len(rejected):,} rejected, "
        f"{int(resolved['mapped'].sum()):,} mapped"
    )
    print_table(rows, header=["stage", "time", "/ read"])
    print()
    incidents = count_label(len(resolved) + len(rejected))
    report([Result(f"scoring {incidents}", total / read_time, "x", TARGET_RATIO)])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
