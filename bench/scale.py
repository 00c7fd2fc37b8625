"""Benchmark: the Monday job on a PostgreSQL store of 10,000,000 incidents (ten years).

``python -m bench.scale [--quick] [--years N] [--per-year N] [--repeats N]``

Data: `bench.weekly`'s generated map (3,000 services, 300 processes, 9,000 edges) and
`bench.weekly.generate_weekly_batch`'s incidents on it, one generated year (1,000,000
incidents, ~1.8 assignment-history rows each) per year of the store: year 0 is the year
to ``2026-11-23T00:00Z``, year k the same shifted back by k x 52 weeks (weekdays kept),
its incident ids prefixed ``Yk-`` and every incident of it restored (an old incident is
not open any more). Each year is stored with `Store.save_batch` into PostgreSQL
(``IMPACTLENS_BENCH_POSTGRES_URL``, default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``),
in a schema of its own that is kept between runs (``impactlens_bench_scale_...``; built
once, ~20 s per year; ``--rebuild`` builds it again). A second schema holds year 0 alone.

Timed, each in a fresh child process (so its peak RSS is the job's own), best of N: the
Monday job as every surface runs it, `impactlens.analysis.review` of 2026-W47 on the
store (read the weeks the review needs, `engine.weekly.review_week`, the data-trust
notes), with the service map built in the same process (its own line). Once on the store
of year 0 alone, once on the store of all the years.

Targets (the performance issue): on 10,000,000 incidents with history, the Monday job
under 60 s and under 8 GiB of peak memory on 2 cores; and memory must not grow with the
years in the store (the ratio of the two stores' peak RSS, target <= 1.1). A cross-check
ends the run: both stores' reviews must have the same hotspots and KPI scorecard (the
older years are outside the review's window).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

import pandas as pd
from sqlalchemy import create_engine, text

from bench.common import mebibytes, print_table, seconds
from bench.mapgen import INCIDENTS_AS_OF, generate_map_records
from bench.results import Result, count_label, report
from bench.weekly import FULL, generate_weekly_batch

POSTGRES_URL = os.environ.get(
    "IMPACTLENS_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
FORMAT_VERSION = 1  # bump when the generated store changes, so old schemas are rebuilt
YEARS = 10
PER_YEAR = 1_000_000
QUICK_YEARS = 3
QUICK_PER_YEAR = 20_000
WEEK = "2026-W47"
YEAR = pd.Timedelta(weeks=52)
SECONDS_TARGET = 60.0
MEMORY_TARGET_MIB = 8 * 1024
GROWTH_TARGET = 1.1
MOMENTS = ("opened_at", "resolved_at", "closed_at", "updated_at", "reopened_at")
_RSS_WRAPPER = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


# --------------------------------------------------------------------------- data


def year_batch(records: dict[str, Any], year: int, rows: int, seed: int) -> Any:
    """The incidents of `year` years back (0: the year to 2026-11-23), restored if old."""
    from impactlens.ingest.batch import IngestBatch

    batch = generate_weekly_batch(rows, records, seed + year)
    incidents, history = batch.incidents.copy(), batch.history.copy()
    shift = year * YEAR
    for column in MOMENTS:
        incidents[column] = incidents[column] - shift
    history["at"] = history["at"] - shift
    prefix = f"Y{year}-"
    incidents["incident_id"] = (prefix + incidents["incident_id"]).astype("string")
    history["incident_id"] = (prefix + history["incident_id"]).astype("string")
    if year > 0:
        open_ = incidents["resolved_at"].isna()
        restored = incidents["opened_at"] + pd.Timedelta(hours=4)
        incidents["resolved_at"] = incidents["resolved_at"].where(~open_, restored)
        incidents["closed_at"] = incidents["closed_at"].where(~open_, restored)
        incidents["state"] = incidents["state"].where(~open_, "Closed")
    return IngestBatch(incidents=incidents, history=history, rejected=batch.rejected)


def schema_name(years: int, per_year: int, seed: int) -> str:
    return f"impactlens_bench_scale_v{FORMAT_VERSION}_{years}x{per_year}_s{seed}"


def store_url(schema: str) -> str:
    from urllib.parse import quote

    return f"{POSTGRES_URL}?options={quote(f'-csearch_path={schema}')}"


def prepare_store(
    records: dict[str, Any], years: int, per_year: int, seed: int, *, rebuild: bool
) -> tuple[str, float]:
    """The URL of the schema holding `years` years (built unless complete), and the
    seconds building took (0 when it was there)."""
    from impactlens.store import Store

    schema = schema_name(years, per_year, seed)
    url = store_url(schema)
    admin = create_engine(POSTGRES_URL)
    try:
        with admin.begin() as connection:
            present = connection.execute(
                text("SELECT 1 FROM information_schema.schemata WHERE schema_name = :s"),
                {"s": schema},
            ).first()
            if present and not rebuild:
                with Store.open(url, create=False) as store:
                    if store.get_watermark("bench", "years") == str(years):
                        return url, 0.0
            connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            connection.execute(text(f"CREATE SCHEMA {schema}"))
    finally:
        admin.dispose()
    start = time.perf_counter()
    with Store.open(url) as store:
        for year in range(years):
            began = time.perf_counter()
            batch = year_batch(records, year, per_year, seed)
            summary = store.save_batch(batch, source_file=f"year {year}", format="canonical")
            print(
                f"  {schema}: year {year} stored, {summary.new:,} incidents "
                f"({time.perf_counter() - began:.1f} s)",
                flush=True,
            )
        store.set_watermark("bench", "years", str(years))
    return url, time.perf_counter() - start


def drop_schema(schema: str) -> None:
    admin = create_engine(POSTGRES_URL)
    try:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    finally:
        admin.dispose()


# --------------------------------------------------------------------------- the job


def monday_job(url: str, seed: int) -> dict[str, Any]:
    """The review of `WEEK` on the store at `url`, timed; what the cross-check needs."""
    from impactlens.engine.impact import build_impact_model
    from impactlens.engine.weekly import ReviewSettings
    from impactlens.service_map.build import build_service_map
    from impactlens.store import Store

    from impactlens.analysis import review

    start = time.perf_counter()
    records = generate_map_records(FULL["services"], FULL["processes"], FULL["edges"], seed)
    model = build_impact_model(build_service_map(records))
    mapped = time.perf_counter()
    with Store.open(url, create=False) as store:
        result = review(
            model,
            settings=ReviewSettings(timezone="UTC"),
            as_of=pd.Timestamp(INCIDENTS_AS_OF),
            week=WEEK,
            store=store,
        )
    done = time.perf_counter()
    return {
        "map_seconds": mapped - start,
        "job_seconds": done - mapped,
        "hotspots": result.hotspots.to_json(orient="records", date_format="iso"),
        "kpis": result.kpis.to_json(orient="records", date_format="iso"),
    }


def run_child(url: str, seed: int) -> tuple[dict[str, Any], float]:
    """`monday_job` in a fresh process: its result and the process's peak RSS (bytes)."""
    command = [sys.executable, "-m", "bench.scale", "--job", url, "--seed", str(seed)]
    completed = subprocess.run(
        [sys.executable, "-c", _RSS_WRAPPER, *command],
        check=True,
        capture_output=True,
        text=True,
    )
    lines = completed.stdout.strip().splitlines()
    return json.loads(lines[-2]), int(lines[-1]) * 1024.0


def measure(url: str, seed: int, repeats: int) -> tuple[dict[str, Any], float]:
    """Best job time of `repeats` children; the highest peak RSS among them."""
    best: dict[str, Any] | None = None
    peak = 0.0
    for _ in range(max(1, repeats)):
        result, rss = run_child(url, seed)
        peak = max(peak, rss)
        if best is None or result["job_seconds"] < best["job_seconds"]:
            best = result
    assert best is not None
    return best, peak


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 years of 20,000 incidents")
    parser.add_argument("--years", type=int, help=f"years in the store (default {YEARS})")
    parser.add_argument("--per-year", type=int, help=f"incidents a year (default {PER_YEAR:,})")
    parser.add_argument("--repeats", type=int, default=2, help="child runs per store")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rebuild", action="store_true", help="build the stores again")
    parser.add_argument("--drop", action="store_true", help="drop the stores' schemas at the end")
    parser.add_argument("--job", help=argparse.SUPPRESS)  # a child: run the job on this URL
    args = parser.parse_args(argv)

    if args.job:
        print(json.dumps(monday_job(args.job, args.seed)))
        return 0
    years = args.years or (QUICK_YEARS if args.quick else YEARS)
    per_year = args.per_year or (QUICK_PER_YEAR if args.quick else PER_YEAR)
    if not _postgres_answers():
        print(f"skipped: no PostgreSQL answers at {POSTGRES_URL}")
        return 0
    records = generate_map_records(FULL["services"], FULL["processes"], FULL["edges"], args.seed)
    print(f"stores: 1 and {years} years of {per_year:,} incidents in PostgreSQL ...", flush=True)
    one_url, one_built = prepare_store(records, 1, per_year, args.seed, rebuild=args.rebuild)
    all_url, all_built = prepare_store(records, years, per_year, args.seed, rebuild=args.rebuild)
    if one_built or all_built:
        print(f"built in {one_built + all_built:.0f} s")
    print(f"timing the Monday job ({WEEK}), best of {args.repeats} ...", flush=True)
    try:
        one, one_rss = measure(one_url, args.seed, args.repeats)
        many, many_rss = measure(all_url, args.seed, args.repeats)
    finally:
        if args.drop:
            for years_stored in (1, years):
                drop_schema(schema_name(years_stored, per_year, args.seed))

    total = years * per_year
    rows = [
        [
            f"{label} ({count_label(count)} incidents)",
            seconds(result["map_seconds"]),
            seconds(result["job_seconds"]),
            mebibytes(rss),
        ]
        for label, count, result, rss in (
            ("1 year", per_year, one, one_rss),
            (f"{years} years", total, many, many_rss),
        )
    ]
    print()
    print_table(rows, ["store", "build the map", "Monday job", "peak RSS"])
    print()
    _cross_check(one, many)
    label = count_label(total)
    report(
        [
            Result(f"scale monday job {label}", round(many["job_seconds"], 2), "s", SECONDS_TARGET),
            Result(
                f"scale monday job {label} peak memory",
                round(many_rss / 2**20),
                "MiB",
                MEMORY_TARGET_MIB,
            ),
            Result(
                f"scale memory {years} years / 1 year",
                round(many_rss / one_rss, 3),
                "x",
                GROWTH_TARGET,
            ),
        ]
    )
    return 0


def _cross_check(one: dict[str, Any], many: dict[str, Any]) -> None:
    """The older years lie outside the review's window: both reviews must agree."""
    for part in ("hotspots", "kpis"):
        if json.loads(one[part]) != json.loads(many[part]):
            raise AssertionError(f"the {part} of the two stores' reviews differ")
    hotspots = len(json.loads(one["hotspots"]))
    print(f"cross-check: both stores give the same {hotspots} hotspots and KPI scorecard")


def _postgres_answers() -> bool:
    engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:  # any failure means: no server to measure
        return False
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
