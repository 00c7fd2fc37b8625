"""Benchmark: the Monday job (the weekly review of one week) on a year of incidents.

``python -m bench.weekly [--quick] [--repeats N] [--no-memory] [--no-year]``

Data (cached under ``.impactlens/bench/``): a generated service map of realistic size
(3,000 services, 300 processes, 9,000 edges; `bench.mapgen`) and 1,000,000 canonical
incidents over the year before ``2026-11-23T00:00Z`` with ~1.8 assignment-history rows
each (`bench.ingest.generate_batch`, adapted so that each incident's CI names a service of
that map by id or alias, or its category one of the map's match rules, and so that its
assignment groups are the map's ``support_tiers`` groups: service desk, then the
domain's Ops and Dev teams). As the store keeps them, the incidents carry what the
source said: no service, no tier (both are derived at analysis, from the map). Written
as an incidents CSV and a history CSV (for the baseline) and as Parquet (the frames in
the store's canonical dtypes).

Timed, best of N, in the same run:

- the baseline: ``pd.read_csv(path, engine="pyarrow")`` of the incidents CSV plus the
  history CSV;
- the Monday job for the last full week of the data (2026-W47, UTC), from the frames of
  all 1,000,000 incidents in memory: (1) select the incidents the review needs and their
  history, as `Store.load_week` selects them (active from `ReviewWindow.since` to the
  week's end); (2) `engine.weekly.review_week` over them: facts (service, tier, impact,
  escalation, repeats), hotspots, the 8-week KPI scorecard with its process timelines,
  mis-prioritised incidents, group outages, likely common causes, the costliest
  incidents, coverage;
- the same review over all 1,000,000 incidents with a 52-week KPI trend, to show how it
  scales.

Target (DESIGN.md): the Monday job within 1.0x of the read. Peak memory: each of "load
the frames" and "load the frames + the weekly job" (and + the full year) runs in a fresh
child process whose ``ru_maxrss`` is reported. A cross-check at the end compares the
results with counts made independently with pandas (support tiers included, from the
map's ``support_tiers``), and the weekly results with the full-year ones; it fails
loudly on any difference.
"""

from __future__ import annotations

import argparse
import gc
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from impactlens.ingest.batch import IngestBatch

from bench.common import mebibytes, print_table, seconds
from bench.ingest import generate_batch
from bench.mapgen import (
    INCIDENTS_AS_OF,
    PROCESSES_PER_DOMAIN,
    REPO_ROOT,
    generate_map_records,
    map_edge_count,
)
from bench.results import Result, count_label, report

TARGET_RATIO = 1.0
FULL = {"services": 3_000, "processes": 300, "edges": 9_000, "incidents": 1_000_000}
QUICK = {"services": 300, "processes": 30, "edges": 900, "incidents": 20_000}
CACHE_DIR = REPO_ROOT / ".impactlens" / "bench"
FORMAT_VERSION = 2  # bump when the generated data changes, so old files are not reused
TIMEZONE = "UTC"
TREND_WEEKS = 8
YEAR_WEEKS = 52

SELECT = "(1) select the review's incidents + history"
REVIEW = "(2) review_week"
STAGES = (SELECT, REVIEW)
# Runs `argv` as its only child and prints that child's peak RSS (KiB on Linux).
_RSS_WRAPPER = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


class CrossCheckError(AssertionError):
    """The benchmark's results disagree with an independent count."""


# --------------------------------------------------------------------------- data


def _size(quick: bool) -> dict[str, int]:
    return dict(QUICK if quick else FULL)


def _map_records(size: dict[str, int], seed: int) -> dict[str, Any]:
    return generate_map_records(size["services"], size["processes"], size["edges"], seed)


def generate_weekly_batch(rows: int, records: dict[str, Any], seed: int = 0) -> IngestBatch:
    """`bench.ingest.generate_batch`, its services and groups taken from the map `records`.

    Each incident is on a map service (skewed, so some services collect many incidents):
    45% name it in ``ci`` by id and 35% by alias (a fifth of those in lower case), 5% name
    a CI the map does not know and 15% have no CI, their category (the service's domain's)
    matching a map rule. Each incident's first assignment is the service desk (85%), the
    domain's Ops (12%) or Dev (3%) team; each reassignment moves it on (desk to Ops, Ops
    to Dev or back to the desk or to another domain's Ops, Dev back to Ops). Services and
    support tiers are left empty, as the store keeps them: the review derives both from
    the map.
    """
    batch = generate_batch(rows, seed)
    incidents, history = batch.incidents, batch.history
    rng = np.random.default_rng([seed, 4])
    services = [s for s in records["services"] if s.get("kind", "service") == "service"]
    ids = np.array([s["id"] for s in services], dtype=object)
    aliases = np.array([(s.get("aliases") or [s["id"]])[0] for s in services], dtype=object)
    domain_of = np.array([int(s["id"].split("-")[1][1:]) for s in services], dtype=np.int64)
    domains = max(1, len(records["business_processes"]) // PROCESSES_PER_DOMAIN)

    weights = rng.lognormal(0.0, 1.2, size=len(services))
    service = rng.choice(len(services), size=rows, p=weights / weights.sum())
    how = rng.random(rows)
    by_id, by_alias, unknown = (
        how < 0.45,
        (how >= 0.45) & (how < 0.80),
        (how >= 0.80) & (how < 0.85),
    )
    names = np.where(by_id, ids[service], aliases[service])
    numbers = rng.integers(0, 100_000, rows)
    ci = pd.Series(np.where(by_id | by_alias, names, None), dtype="string")
    lower = (by_alias & (rng.random(rows) < 0.2)).nonzero()[0]
    ci.iloc[lower] = ci.iloc[lower].str.lower()
    ci[unknown] = ("ci-" + pd.Series(numbers[unknown]).astype("string").str.zfill(5)).to_numpy()
    domain = domain_of[service]
    category = pd.Series(np.array([f"Domain {d:02d}" for d in range(domains)])[domain])

    # Assignment groups, step by step: group 0 is the desk, 1 + d domain d's Ops team,
    # 1 + domains + d its Dev team (the map's support_tiers name them L1, L2, L3).
    reassignments = incidents["reassignment_count"].to_numpy(dtype=np.int64)
    tier = rng.choice(3, size=rows, p=[0.85, 0.12, 0.03])
    team = domain.copy()
    steps = np.empty((int(reassignments.max()) + 1, rows), dtype=np.int64)
    steps[0] = np.where(tier == 0, 0, 1 + (tier - 1) * domains + team)
    for step in range(1, steps.shape[0]):
        draw = rng.random(rows)
        moved = np.where(
            tier == 0,
            np.where(draw < 0.7, 1, 0),
            np.where(tier == 1, np.where(draw < 0.45, 2, np.where(draw < 0.65, 0, 1)), 1),
        )
        elsewhere = (moved == 1) & ((tier == 1) | (draw < 0.1))
        team = np.where(elsewhere, rng.integers(0, domains, rows), domain)
        tier = moved
        steps[step] = np.where(tier == 0, 0, 1 + (tier - 1) * domains + team)
    group_names = np.array(
        ["Service Desk"]
        + [f"D{d:02d} Ops" for d in range(domains)]
        + [f"D{d:02d} Dev" for d in range(domains)],
        dtype=object,
    )
    per_incident = reassignments + 1
    owner = np.repeat(np.arange(rows), per_incident)
    step_of = np.arange(owner.size) - np.repeat(
        np.cumsum(per_incident) - per_incident, per_incident
    )
    if owner.size != len(history):
        raise RuntimeError("generate_batch's history no longer has one row per assignment")
    no_tier = pd.array([pd.NA] * rows, dtype="string")
    incidents = incidents.assign(
        ci=ci.array,
        service_id=pd.array([pd.NA] * rows, dtype="string"),
        category=pd.array(category.to_numpy(), dtype="string"),
        assignment_group=pd.array(group_names[steps[reassignments, np.arange(rows)]], "string"),
        support_tier=no_tier,
        short_description=(
            incidents["subcategory"] + " on " + ci.fillna("an unknown CI") + ", users affected"
        ).array,
    )
    history = history.assign(
        assignment_group=pd.array(group_names[steps[step_of, owner]], dtype="string"),
        support_tier=pd.array([pd.NA] * len(history), dtype="string"),
    )
    return IngestBatch(incidents=incidents, history=history, rejected=batch.rejected.iloc[:0])


@dataclass(frozen=True)
class Inputs:
    """The cached files of one size and seed."""

    incidents_csv: Path
    history_csv: Path
    incidents_parquet: Path
    history_parquet: Path

    @classmethod
    def of(cls, size: dict[str, int], seed: int, folder: Path) -> Inputs:
        stem = (
            f"weekly-v{FORMAT_VERSION}-{size['incidents']}-s{seed}-"
            f"{size['services']}x{size['processes']}x{size['edges']}"
        )
        return cls(
            incidents_csv=folder / f"{stem}-incidents.csv",
            history_csv=folder / f"{stem}-history.csv",
            incidents_parquet=folder / f"{stem}-incidents.parquet",
            history_parquet=folder / f"{stem}-history.parquet",
        )

    def all_exist(self) -> bool:
        return all(
            path.is_file()
            for path in (
                self.incidents_csv,
                self.history_csv,
                self.incidents_parquet,
                self.history_parquet,
            )
        )


def prepare_inputs(
    size: dict[str, int], seed: int, records: dict[str, Any], folder: Path
) -> Inputs:
    """Generate (unless cached) and write the incidents and history, as CSV and Parquet."""
    inputs = Inputs.of(size, seed, folder)
    if inputs.all_exist():
        return inputs
    folder.mkdir(parents=True, exist_ok=True)
    batch = generate_weekly_batch(size["incidents"], records, seed)
    for frame, csv, parquet in (
        (batch.incidents, inputs.incidents_csv, inputs.incidents_parquet),
        (batch.history, inputs.history_csv, inputs.history_parquet),
    ):
        table = pa.Table.from_pandas(frame, preserve_index=False)
        partial = csv.with_name(csv.name + ".partial")
        pacsv.write_csv(table, partial)
        partial.replace(csv)
        partial = parquet.with_name(parquet.name + ".partial")
        frame.to_parquet(partial, index=False)
        partial.replace(parquet)
    return inputs


def load_frames(inputs: Inputs) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The incidents and history frames, in the store's canonical dtypes."""
    from impactlens.store.frames import conform
    from impactlens.store.schema import HISTORY_DTYPES, INCIDENT_DTYPES

    incidents = pd.read_parquet(inputs.incidents_parquet)
    history = pd.read_parquet(inputs.history_parquet)
    incidents = conform(incidents, INCIDENT_DTYPES, what="incidents")
    history = conform(history, HISTORY_DTYPES, what="history")
    return incidents, history


# --------------------------------------------------------------------------- the job


@dataclass
class JobResult:
    """What one run of the job produced (kept for the cross-check)."""

    incidents: int
    history: pd.DataFrame
    review: Any  # engine.weekly.WeeklyReview


def select_weeks(
    incidents: pd.DataFrame,
    history: pd.DataFrame,
    *,
    since: pd.Timestamp,
    until: pd.Timestamp,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The incidents active in ``[since, until)``, with their history, as
    `Store.load_week` returns them (the benchmark data has one source, so the incident id
    alone is the key)."""
    opened = incidents["opened_at"]
    restored = incidents["resolved_at"].fillna(incidents["closed_at"])
    active = ((opened < until) & ~(restored < since)).to_numpy()
    chosen = incidents[active]
    # Arrow's is_in: pandas' Series.isin on Arrow-backed strings takes ~20x longer here.
    rows = pc.is_in(pa.array(history["incident_id"]), value_set=pa.array(chosen["incident_id"]))
    return chosen, history[rows.to_numpy(zero_copy_only=False)]


def run_job(
    incidents: pd.DataFrame,
    history: pd.DataFrame,
    model: Any,
    *,
    as_of: pd.Timestamp,
    week: str,
    trend_weeks: int,
    select: bool,
    timings: dict[str, float] | None = None,
) -> JobResult:
    """The Monday job: the review of `week`, with a KPI trend of `trend_weeks` weeks.

    With `select`, only the incidents the review needs (and their history) are given to
    it, as the store would hand them over; otherwise all of them.
    """
    from impactlens.engine.weekly import ReviewSettings, review_week, review_window

    def timed(name: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        result = func(*args, **kwargs)
        if timings is not None:
            timings[name] = time.perf_counter() - start
        return result

    settings = ReviewSettings(timezone=TIMEZONE, trend_weeks=trend_weeks)
    if select:
        window = review_window(week, settings)
        incidents, history = timed(
            SELECT, select_weeks, incidents, history, since=window.since, until=window.end
        )
    elif timings is not None:
        timings[SELECT] = 0.0
    review = timed(
        REVIEW,
        review_week,
        incidents,
        history,
        model,
        week=week,
        settings=settings,
        as_of=as_of,
    )
    return JobResult(incidents=len(incidents), history=history, review=review)


def time_job(repeats: int, **job: Any) -> tuple[dict[str, float], float, JobResult]:
    """Best time of each stage and of the whole job over `repeats` runs, and a result."""
    best = dict.fromkeys(STAGES, float("inf"))
    total = float("inf")
    result = None
    for _ in range(max(1, repeats)):
        result = None  # let the previous result go before the next run
        gc.collect()
        timings: dict[str, float] = {}
        start = time.perf_counter()
        result = run_job(**job, timings=timings)
        total = min(total, time.perf_counter() - start)
        for stage in STAGES:
            best[stage] = min(best[stage], timings[stage])
    assert result is not None
    return best, total, result


# --------------------------------------------------------------------------- cross-check


def escalated_by_pandas(
    incidents: pd.DataFrame, history: pd.DataFrame, records: dict[str, Any]
) -> pd.Series:
    """Whether each incident reached L2 or L3, worked out with pandas from the map's
    ``support_tiers`` (DESIGN.md's rules: the highest tier of its groups; with none
    known, escalated when reassigned away from its first group)."""
    rank = {"L1": 1, "L2": 2, "L3": 3}
    named: dict[str, int] = {}
    for service in records["services"]:
        for group, tier in (service.get("support_tiers") or {}).items():
            named[group.lower()] = max(named.get(group.lower(), 0), rank[tier])
    groups = history["assignment_group"].astype(str).str.lower()
    tiers = pd.Series(groups.map(named).fillna(0).to_numpy(), index=history["incident_id"])
    highest = tiers.groupby(level=0).max().reindex(incidents["incident_id"]).fillna(0)
    moved = (
        history.groupby("incident_id")["assignment_group"]
        .nunique()
        .reindex(incidents["incident_id"])
        .fillna(0)
        > 1
    )
    moved |= (incidents["reassignment_count"].fillna(0) > 0).to_numpy()
    fallback = np.where(moved, 2, 1)
    return pd.Series(np.where(highest > 0, highest, fallback) >= 2, index=incidents.index)


def cross_check(
    incidents: pd.DataFrame,
    history: pd.DataFrame,
    records: dict[str, Any],
    weekly: JobResult,
    year: JobResult | None,
    *,
    as_of: pd.Timestamp,
    week: str,
) -> list[str]:
    """Lines saying what was checked; raises `CrossCheckError` on the first disagreement."""

    def check(ok: bool, message: str) -> None:
        if not ok:
            raise CrossCheckError(f"cross-check failed: {message}")

    done = []
    review = weekly.review
    # Counted with pandas alone, from the frame of all incidents.
    opened = incidents["opened_at"]
    start, end = review.window.start, review.window.end
    in_week = (opened >= start) & (opened < end) & (opened <= as_of)
    expected = int(in_week.sum())
    hotspots = review.hotspots
    check(expected > 0, f"no incident was opened in {week}")
    counted = int(hotspots["incidents"].sum())
    check(counted == expected, f"hotspot incidents sum to {counted:,}, pandas counts {expected:,}")
    escalated = int(escalated_by_pandas(incidents[in_week], history, records).sum())
    found = int(hotspots["escalated"].sum())
    check(found == escalated, f"hotspots count {found:,} escalated, pandas {escalated:,}")
    check(hotspots["key"].is_unique, "a hotspot key appears twice")
    check(hotspots["rank"].tolist() == list(range(1, len(hotspots) + 1)), "ranks are not 1..n")
    done.append(
        f"{week}: {expected:,} incidents opened ({escalated:,} escalated) = hotspot sums "
        f"over {len(hotspots):,} keys"
    )

    card = review.kpis
    bounds = review.window.trend_bounds
    per_week = [
        int(((opened >= bounds[i]) & (opened < bounds[i + 1]) & (opened <= as_of)).sum())
        for i in range(len(bounds) - 1)
    ]
    trend = card[(card["kpi"] == "incidents") & (card["subject"] == "all")]["trend"].iloc[0]
    check(trend == per_week, f"KPI incidents per week {trend} != pandas {per_week}")
    opened_rows = card[card["kpi"] == "opened"]
    by_group = np.sum(np.array(opened_rows["trend"].tolist()), axis=0).tolist()
    check(by_group == per_week, f"incidents opened per group sum to {by_group}, not {per_week}")
    minutes = card[(card["kpi"] == "business_minutes_lost") & (card["subject"] == "all")]
    check(float(minutes["value"].iloc[0]) > 0, "no business minutes lost in the week")
    done.append(f"KPI incidents per week = pandas counts {per_week}")
    check(
        len(review.week_incidents) == expected,
        f"the review's week has {len(review.week_incidents):,} incidents, not {expected:,}",
    )
    done.append(
        f"review tables: {len(review.misprioritised):,} mis-prioritised, "
        f"{len(review.group_outages):,} group outages, {len(review.common_causes):,} likely "
        f"common causes, {len(review.costliest):,} costliest incidents"
    )

    if year is not None:
        try:
            pd.testing.assert_frame_equal(review.hotspots, year.review.hotspots, rtol=1e-9)
        except AssertionError as error:
            raise CrossCheckError(
                f"cross-check failed: the week's hotspots differ when all incidents are "
                f"analysed: {error}"
            ) from None
        weeks = len(bounds) - 1
        mine = card.set_index(["kpi", "subject"])["trend"]
        theirs = year.review.kpis.set_index(["kpi", "subject"])["trend"]
        missing = mine.index.difference(theirs.index)
        check(missing.empty, f"KPI rows missing from the full year: {list(missing)[:5]}")
        a = np.array(mine.tolist(), dtype=np.float64)
        b = np.array(theirs.reindex(mine.index).tolist(), dtype=np.float64)[:, -weeks:]
        close = np.isclose(a, b, rtol=1e-9, atol=1e-6, equal_nan=True)
        if not close.all():
            row = int(np.flatnonzero(~close.all(axis=1))[0])
            raise CrossCheckError(
                f"cross-check failed: KPI {mine.index[row]} over the last {weeks} weeks is "
                f"{a[row].tolist()} from the week's incidents, {b[row].tolist()} from all"
            )
        year_weeks = len(year.review.window.trend_bounds) - 1
        done.append(
            f"full year: same hotspots; last {weeks} weeks of its {year_weeks}-week KPI "
            f"trends = the weekly scorecard ({len(mine):,} rows)"
        )
    return done


# --------------------------------------------------------------------------- memory


def _child(mode: str, quick: bool, seed: int, folder: Path) -> None:
    """Body of a memory-measuring child: load the frames, maybe run a job, and exit."""
    from impactlens.engine.impact import build_impact_model
    from impactlens.engine.weeks import last_complete_week
    from impactlens.service_map.build import build_service_map

    size = _size(quick)
    model = build_impact_model(build_service_map(_map_records(size, seed)))
    incidents, history = load_frames(Inputs.of(size, seed, folder))
    if mode == "load":
        return
    as_of = pd.Timestamp(INCIDENTS_AS_OF)
    week = last_complete_week(as_of, TIMEZONE)
    weekly = mode == "weekly"
    run_job(
        incidents,
        history,
        model,
        as_of=as_of,
        week=week,
        trend_weeks=TREND_WEEKS if weekly else YEAR_WEEKS,
        select=weekly,
    )


def _peak_rss(mode: str, quick: bool, seed: int, folder: Path) -> float:
    """Peak RSS in bytes of a fresh child process running `mode`."""
    child = [sys.executable, "-m", "bench.weekly", "--child", mode, "--seed", str(seed)]
    child += ["--cache-dir", str(folder)] + (["--quick"] if quick else [])
    done = subprocess.run(
        [sys.executable, "-c", _RSS_WRAPPER, *child],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return int(done.stdout.split()[-1]) * 1024.0


# --------------------------------------------------------------------------- main


def _ratio(value: float, read: float) -> str:
    return f"{value / read:.2f}x"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The weekly job vs pandas read_csv.")
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK['incidents']:,} incidents, a smaller map"
    )
    parser.add_argument("--repeats", type=int, default=3, help="best of N (default 3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-memory", action="store_true", help="skip the child processes")
    parser.add_argument(
        "--no-year", action="store_true", help="skip the full-year run (and its cross-check)"
    )
    parser.add_argument("--cache-dir", type=Path, default=CACHE_DIR, help=argparse.SUPPRESS)
    parser.add_argument("--child", choices=("load", "weekly", "year"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child, args.quick, args.seed, args.cache_dir)
        return 0

    from impactlens.engine.impact import build_impact_model
    from impactlens.engine.weeks import last_complete_week
    from impactlens.service_map.build import build_service_map

    size = _size(args.quick)
    start = time.perf_counter()
    records = _map_records(size, args.seed)
    service_map = build_service_map(records)
    inputs = prepare_inputs(size, args.seed, records, args.cache_dir)
    incidents, history = load_frames(inputs)
    model_start = time.perf_counter()
    model = build_impact_model(service_map)
    model_time = time.perf_counter() - model_start
    as_of = pd.Timestamp(INCIDENTS_AS_OF)
    week = last_complete_week(as_of, TIMEZONE)
    csv_size = inputs.incidents_csv.stat().st_size + inputs.history_csv.stat().st_size
    print(
        f"map: {len(records['services']):,} services, {len(records['business_processes'])} "
        f"processes, {map_edge_count(records):,} edges; {len(incidents):,} incidents, "
        f"{len(history):,} history rows ({csv_size / 2**20:.0f} MiB of CSV in "
        f"{inputs.incidents_csv.parent}); week {week} ({TIMEZONE}); "
        f"ready in {time.perf_counter() - start:.1f} s"
    )
    print(f"timing best of {args.repeats} ...")

    def read() -> tuple[pd.DataFrame, pd.DataFrame]:
        return (
            pd.read_csv(inputs.incidents_csv, engine="pyarrow"),
            pd.read_csv(inputs.history_csv, engine="pyarrow"),
        )

    read_time = float("inf")
    for _ in range(max(1, args.repeats)):
        gc.collect()
        began = time.perf_counter()
        read()
        read_time = min(read_time, time.perf_counter() - began)

    common = {"incidents": incidents, "history": history, "model": model, "as_of": as_of}
    best, total, weekly = time_job(
        args.repeats, **common, week=week, trend_weeks=TREND_WEEKS, select=True
    )
    year_best: dict[str, float] | None = None
    year_total, year = float("nan"), None
    if not args.no_year:
        year_best, year_total, year = time_job(
            args.repeats, **common, week=week, trend_weeks=YEAR_WEEKS, select=False
        )

    def stage_row(label: str, names: tuple[str, ...]) -> list[str]:
        mine = sum(best[name] for name in names)
        row = [label, seconds(mine), _ratio(mine, read_time)]
        if year_best is not None:
            theirs = sum(year_best[name] for name in names)
            row += ["", ""] if names == (SELECT,) else [seconds(theirs), _ratio(theirs, read_time)]
        return row

    blank = ["", ""] if year_best is not None else []
    rows = [["baseline: pd.read_csv(engine='pyarrow') x2", seconds(read_time), "1.00x", *blank]]
    for name in STAGES:
        rows.append(stage_row(name, (name,)))
    total_row = ["total (best run)", seconds(total), _ratio(total, read_time)]
    if year is not None:
        total_row += [seconds(year_total), _ratio(year_total, read_time)]
    rows.append(total_row)
    model_row = ["build_impact_model (once per map)", seconds(model_time)]
    rows.append([*model_row, _ratio(model_time, read_time), *blank])
    if not args.no_memory:
        load_rss = _peak_rss("load", args.quick, args.seed, args.cache_dir)
        rows.append(["peak RSS, child: load frames + map", mebibytes(load_rss), "", *blank])
        modes = [("weekly", "+ weekly job")] + ([] if args.no_year else [("year", "+ full year")])
        for mode, label in modes:
            rss = _peak_rss(mode, args.quick, args.seed, args.cache_dir)
            extra = f"+{mebibytes(rss - load_rss)}"
            rows.append([f"peak RSS, child: load {label}", mebibytes(rss), extra, *blank])

    print()
    review = weekly.review
    print(
        f"weekly job: {weekly.incidents:,} of {len(incidents):,} incidents selected, "
        f"{len(weekly.history):,} history rows, {len(review.facts.pairs):,} (incident, "
        f"process) pairs; {len(review.hotspots):,} hotspot keys, "
        f"{int((review.hotspots['flag'] != '').sum())} flagged; {len(review.kpis):,} "
        f"KPI rows over {TREND_WEEKS} weeks"
    )
    if year is not None:
        print(
            f"full year: {year.incidents:,} incidents, {len(year.review.facts.pairs):,} "
            f"pairs; {len(year.review.kpis):,} KPI rows over {YEAR_WEEKS} weeks"
        )
    header = ["stage", "weekly job", "/ read"]
    if year_best is not None:
        header += ["full year", "/ read"]
    print_table(rows, header=header)
    print()
    print("cross-check:")
    for line in cross_check(incidents, history, records, weekly, year, as_of=as_of, week=week):
        print(f"  ok: {line}")
    print()
    report(
        [Result(f"weekly job {count_label(len(incidents))}", total / read_time, "x", TARGET_RATIO)]
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
