"""Benchmark: the HTTP API (``impactlens serve``, one uvicorn process) over 1,000,000 incidents.

``python -m bench.api [--quick] [--incidents N] [--requests N] [--batches N] [--seed S]``

Data (cached under ``.impactlens/bench/``, keyed by its parameters): the generated map of
`bench.weekly` (3,000 services, 300 processes, 9,000 edges; `bench.mapgen`) as YAML, and
a SQLite store holding `bench.weekly.generate_weekly_batch`'s incidents on that map (a
year before ``2026-11-23T00:00Z``, ~1.8 assignment-history rows each), saved with
`Store.save_batch`. Each run serves a copy of the cached store (the run writes to it).

A real server is started (``impactlens serve`` on 127.0.0.1, a free port) and spoken to
with one keep-alive httpx client, one request at a time, after a warm-up; in the same
run:

- ``GET /healthz``: the trivial baseline, everything else is a ratio of it;
- ``GET /v1/incidents/{source}/{incident_id}`` of random stored incidents (the store's
  lookup plus scoring the incident against the map);
- ``GET /v1/hotspots`` of week 2026-W47: the first call computes the week's review
  (cold), the following ones are answered from the service's review cache;
- ``POST /v1/incidents`` of new incidents in batches of 1,000: incidents per second.

Targets (the API issue): p99 of an incident read < 50 ms, p99 of the cached hotspots
< 100 ms, with 1,000,000 incidents stored. A cross-check ends each run: incidents read
through the API against `lookup.incident_impact` on the same store and map, in process.
``--quick``: 20,000 incidents, 200 requests, 3 batches.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import yaml

from bench.common import mebibytes, print_table, seconds
from bench.mapgen import INCIDENTS_AS_OF, REPO_ROOT, generate_map_records, map_edge_count
from bench.results import Result, count_label, report
from bench.weekly import FULL, generate_weekly_batch

FULL_INCIDENTS = 1_000_000
REQUESTS = 1_000
BATCHES = 20
BATCH = 1_000
WARMUP = 20
CHECKED = 20  # incidents read through the API and checked against the library
WEEK = "2026-W47"  # the last full week of the generated year (UTC)
READ_P99_TARGET_MS = 50.0
HOTSPOTS_P99_TARGET_MS = 100.0
CACHE_DIR = REPO_ROOT / ".impactlens" / "bench"
FORMAT_VERSION = 2  # bump when the generated store changes, so old files are not reused
SOURCE = "bench"  # the source generate_batch gives its incidents
STARTUP_SECONDS = 300.0
SCRIPT = Path(sys.executable).with_name("impactlens")
IMPACTLENS = [str(SCRIPT)] if SCRIPT.is_file() else [sys.executable, "-m", "impactlens.cli"]


# --------------------------------------------------------------------------- data


def prepare_store(rows: int, seed: int, folder: Path = CACHE_DIR) -> tuple[Path, Path, float]:
    """The cached map YAML and SQLite store of `rows` incidents (built unless cached),
    and the seconds building took (0 when cached)."""
    from impactlens.store import Store

    shape = f"{FULL['services']}x{FULL['processes']}x{FULL['edges']}"
    map_path = folder / f"api-v{FORMAT_VERSION}-map-{shape}-s{seed}.yaml"
    store_path = folder / f"api-v{FORMAT_VERSION}-{rows}-s{seed}-{shape}.db"
    if map_path.is_file() and store_path.is_file():
        return map_path, store_path, 0.0
    start = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    records = generate_map_records(FULL["services"], FULL["processes"], FULL["edges"], seed)
    partial = map_path.with_name(map_path.name + ".partial")
    partial.write_text(yaml.safe_dump(records, sort_keys=False), encoding="utf-8")
    partial.replace(map_path)
    batch = generate_weekly_batch(rows, records, seed)
    partial = store_path.with_name(store_path.name + ".partial")
    partial.unlink(missing_ok=True)
    with Store.open(f"sqlite:///{partial}") as store:
        store.save_batch(batch, source_file="bench.api", format="canonical")
    partial.replace(store_path)
    return map_path, store_path, time.perf_counter() - start


def incident_batches(
    count: int, records: dict[str, Any], seed: int, *, size: int = BATCH
) -> list[bytes]:
    """`count` request bodies of `size` new incidents each (ids the store does not hold),
    as canonical JSON records."""
    incidents = generate_weekly_batch(count * size, records, seed + 1).incidents
    incidents = incidents.assign(incident_id=("API" + incidents["incident_id"]).astype("string"))
    fields = incidents.drop(columns=["source"])
    return [
        b'{"source": "%s", "incidents": %s}'
        % (
            SOURCE.encode(),
            fields.iloc[start : start + size]
            .to_json(orient="records", date_format="iso", date_unit="s")
            .encode(),
        )
        for start in range(0, len(fields), size)
    ]


# --------------------------------------------------------------------------- server


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_server(store_path: Path, map_path: Path, folder: Path) -> Iterator[str]:
    """``impactlens serve`` over a copy of `store_path`, healthy; its URL. Stopped after."""
    port = _free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("IMPACTLENS_")}
    # Settled by the benchmark beforehand: no background settling to time reads against.
    env |= {"IMPACTLENS_DATA_DIR": str(folder), "IMPACTLENS_API_SETTLE_IMPACTS": "false",
            "IMPACTLENS_DATABASE_URL": f"sqlite:///{store_path}"}  # fmt: skip
    log_path = folder / "server.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [*IMPACTLENS, "serve", "--host", "127.0.0.1", "--port", str(port),
             "--map", str(map_path)],
            env=env, cwd=folder, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + STARTUP_SECONDS
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"the server exited: {log_path.read_text()}")
                try:
                    if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no answer on {url} in {STARTUP_SECONDS:.0f} s")
                time.sleep(0.1)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def cross_check(answered: list[dict[str, Any]], store_path: Path, map_path: Path) -> int:
    """How many of the API's answers (settled reads, mostly) equal `lookup.incident_impact`
    on the cached store (never settled: derived here; the POSTs never touched it) with the
    map, in this process; raises on a difference."""
    import pandas as pd
    from impactlens.engine.impact import build_impact_model
    from impactlens.service_map.load import load_service_map
    from impactlens.store import Store

    from impactlens.lookup import incident_impact

    model = build_impact_model(load_service_map(map_path))
    with Store.open(f"sqlite:///{store_path}", create=False) as store:
        for answer in answered:
            incident = answer["incident"]
            expected = incident_impact(
                store, model, incident["source"], incident["incident_id"],
                as_of=pd.Timestamp(INCIDENTS_AS_OF),
            )  # fmt: skip
            assert expected is not None, incident
            mine = {"incident": expected.incident, "processes": expected.processes,
                    "suggested_priority": expected.suggested_priority,
                    "map_version": expected.map_version}  # fmt: skip
            for name, want in mine.items():
                if not _same(answer[name], want):
                    raise RuntimeError(f"{incident['incident_id']} {name}: {answer[name]!r} "
                                       f"through the API, {want!r} in process")  # fmt: skip
    return len(answered)


def _same(got: Any, want: Any) -> bool:
    """Equal, floats to 1e-9 relative, through dicts and lists."""
    if isinstance(got, dict) and isinstance(want, dict):
        return got.keys() == want.keys() and all(_same(got[k], want[k]) for k in got)
    if isinstance(got, list) and isinstance(want, list):
        return len(got) == len(want) and all(map(_same, got, want))
    if isinstance(got, float) and isinstance(want, float):
        return abs(got - want) <= 1e-9 * abs(want)
    return bool(got == want)


# --------------------------------------------------------------------------- timing


def latencies(
    send: Callable[[int], httpx.Response], count: int, *, warmup: int = WARMUP
) -> np.ndarray:
    """Seconds each of `count` calls ``send(i)`` took, after `warmup` untimed ones; every
    answer must be a 2xx."""
    for number in range(warmup):
        send(number).raise_for_status()
    times = np.empty(count)
    for number in range(count):
        start = time.perf_counter()
        response = send(warmup + number)
        times[number] = time.perf_counter() - start
        response.raise_for_status()
    return times


def _percentile(times: np.ndarray, q: float) -> float:
    return float(np.percentile(times, q)) if len(times) else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The HTTP API vs GET /healthz.")
    parser.add_argument(
        "--incidents", type=int, default=FULL_INCIDENTS,
        help=f"incidents in the store (default {FULL_INCIDENTS:,})",
    )  # fmt: skip
    parser.add_argument(
        "--requests", type=int, default=REQUESTS,
        help=f"timed requests per GET endpoint (default {REQUESTS:,})",
    )  # fmt: skip
    parser.add_argument(
        "--batches", type=int, default=BATCHES,
        help=f"POST /v1/incidents batches of {BATCH:,} (default {BATCHES})",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a small run (see the docstring)")
    parser.add_argument("--cache-dir", type=Path, default=CACHE_DIR, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.incidents, args.requests, args.batches = 20_000, 200, 3
    from impactlens.engine.impact import build_impact_model
    from impactlens.service_map.load import load_service_map
    from impactlens.store import Store

    from impactlens.settled import settle_impacts

    start = time.perf_counter()
    map_path, cached_store, built = prepare_store(args.incidents, args.seed, args.cache_dir)
    records = yaml.safe_load(map_path.read_text(encoding="utf-8"))
    bodies = incident_batches(args.batches, records, args.seed)
    rng = np.random.default_rng(args.seed + 7)
    picks = rng.integers(1, args.incidents + 1, args.requests + WARMUP)
    paths = [f"/v1/incidents/{SOURCE}/INC{number:08d}?as_of={INCIDENTS_AS_OF}" for number in picks]
    hotspots = f"/v1/hotspots?week={WEEK}&as_of={INCIDENTS_AS_OF}"
    with tempfile.TemporaryDirectory(prefix="impactlens-bench-api-") as folder:
        served = Path(folder) / "impactlens.db"
        shutil.copyfile(cached_store, served)
        with Store.open(f"sqlite:///{served}") as store:
            key = store.create_api_key("bench", "ingest")[1]
            settled = settle_impacts(store, build_impact_model(load_service_map(map_path)))
        print(
            f"settled the impacts of {settled.settled:,} restored incidents in "
            f"{seconds(settled.seconds)} ({settled.settled / settled.seconds:,.0f}/s; once per "
            "map, then as incidents arrive)"
        )
        print(
            f"store: {args.incidents:,} incidents, {mebibytes(cached_store.stat().st_size)} "
            f"({cached_store}{', built in ' + seconds(built) if built else ', cached'}); map: "
            f"{len(records['services']):,} services, {len(records['business_processes'])} "
            f"processes, {map_edge_count(records):,} edges; ready in "
            f"{time.perf_counter() - start:.1f} s"
        )
        started = time.perf_counter()
        with running_server(served, map_path, Path(folder)) as url:
            startup = time.perf_counter() - started
            print(f"server: {url}, healthy {seconds(startup)} after start")
            print(f"timing {args.requests:,} sequential requests each, after {WARMUP} untimed ...")
            headers = {"Authorization": f"Bearer {key}"}
            with httpx.Client(base_url=url, headers=headers, timeout=600) as client:
                health = latencies(lambda i: client.get("/healthz"), args.requests)
                restored: list[bool] = []

                def read(number: int) -> httpx.Response:
                    response = client.get(paths[number])
                    if number >= WARMUP:
                        restored.append(response.json()["incident"]["resolved_at"] is not None)
                    return response

                reads = latencies(read, args.requests)
                answered = [client.get(path).json() for path in paths[:CHECKED]]
                cold_start = time.perf_counter()
                first = client.get(hotspots)
                cold = time.perf_counter() - cold_start
                first.raise_for_status()
                keys = len(first.json()["hotspots"])
                cached = latencies(lambda i: client.get(hotspots), args.requests, warmup=0)
                posts = np.empty(len(bodies))
                stored = 0
                for number, body in enumerate(bodies):
                    began = time.perf_counter()
                    reply = client.post("/v1/incidents", content=body,
                                        headers={"Content-Type": "application/json"})  # fmt: skip
                    posts[number] = time.perf_counter() - began
                    reply.raise_for_status()
                    stored += reply.json()["new"]
    if stored != len(bodies) * BATCH:
        raise RuntimeError(f"POST /v1/incidents stored {stored:,} of {len(bodies) * BATCH:,}")
    checked = cross_check(answered, cached_store, map_path)

    base50, base99 = _percentile(health, 50), _percentile(health, 99)
    was_restored = np.array(restored, dtype=bool)

    def row(label: str, times: np.ndarray, rate: str = "") -> list[str]:
        p50, p99 = _percentile(times, 50), _percentile(times, 99)
        return [label, f"{len(times):,}", seconds(p50), seconds(p99),
                f"{p50 / base50:.1f}x", f"{p99 / base99:.1f}x", rate]  # fmt: skip

    rate = f"{stored / posts.sum():,.0f}/s"
    table = [
        row("baseline: GET /healthz", health),
        row("GET /v1/incidents/{source}/{id} (random)", reads),
        row("  of them restored incidents (settled: read by key)", reads[was_restored]),
        row("  of them open incidents (derived on request)", reads[~was_restored]),
        ["GET /v1/hotspots, cold (computes the week)", "1", seconds(cold), "", "", "", ""],
        row("GET /v1/hotspots, cached week", cached),
        row(f"POST /v1/incidents, {BATCH:,} a batch", posts, rate),
    ]
    print()
    print(f"week {WEEK}: {keys} hotspot keys answered; {stored:,} incidents posted")
    print(f"  ok: {checked} incidents read through the API equal lookup.incident_impact's")
    print_table(
        table,
        header=["request", "n", "p50", "p99", "p50 / healthz", "p99 / healthz", "incidents/s"],
    )
    print()
    read99, hot99 = _percentile(reads, 99) * 1000, _percentile(cached, 99) * 1000
    stored_label = count_label(args.incidents)
    report([
        Result(f"api incident p99 {stored_label}", read99, "ms", READ_P99_TARGET_MS),
        Result(f"api cached hotspots p99 {stored_label}", hot99, "ms", HOTSPOTS_P99_TARGET_MS),
    ])  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
