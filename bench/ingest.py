"""Benchmark: storing 1,000,000 canonical incidents, against pandas just reading them.

``python -m bench.ingest [--quick] [--repeats N] [--no-postgres] [--no-memory]``

Generates a canonical `IngestBatch` (every incident column filled as a real export would
fill it, ~1.8 assignment-history rows per incident, 0.1% rejected rows), writes its
incidents to a CSV (cached under ``.impactlens/bench/``), and times, best of N, in the
same run:

- the baseline ``pd.read_csv(path, engine="pyarrow")`` of that CSV;
- `Store.save_batch` into a fresh SQLite file (first load: every incident new), then the
  same batch again (every incident unchanged), then a batch where 10% of the incidents
  were updated and 1% are new;
- `Store.get_incident` of 1,000 random stored incidents after the first load: its 99th
  percentile (the API's one-incident lookup; target p99 < 50 ms at 1,000,000 stored);
- the same into PostgreSQL (``IMPACTLENS_BENCH_POSTGRES_URL``, default
  ``postgresql+psycopg://postgres@127.0.0.1:5432/test``), in a schema of its own that is
  dropped afterwards; skipped with the reason when no server answers.

Targets (DESIGN.md, "Performance targets"), for SQLite and PostgreSQL each: a first load
with history within 8x of the read, the same export again within 2x, 10% updated + 1% new
within 3x (results in ``.impactlens/bench/results.json``, `bench.results`). Peak memory: each of
"generate only" and "generate + ingest" runs in a fresh child process whose ``ru_maxrss``
is reported; the difference is what the store adds.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from impactlens.ingest.batch import HISTORY_COLUMNS, INCIDENT_COLUMNS, REJECTED_COLUMNS, IngestBatch

from bench.common import best_of, mebibytes, print_table, seconds
from bench.mapgen import REPO_ROOT
from bench.results import Result, count_label, report

if TYPE_CHECKING:
    from impactlens.store import Store

# targets, as ratios to the read of the same CSV (DESIGN.md, "Performance targets")
FIRST_LOAD_TARGET = 8.0  # a first load with history
UNCHANGED_TARGET = 2.0  # the same export again
UPDATED_TARGET = 3.0  # 10% updated + 1% new
LOOKUPS = 1_000
LOOKUP_P99_TARGET_MS = 50.0
FULL_ROWS = 1_000_000
QUICK_ROWS = 50_000
CACHE_DIR = REPO_ROOT / ".impactlens" / "bench"
CSV_FORMAT_VERSION = 2  # bump when the generated columns change, so old files are not reused
POSTGRES_URL = os.environ.get(
    "IMPACTLENS_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
_RSS_WRAPPER = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)
_US = 1_000_000
_HOUR = 3600 * _US


def _text(names: list[str], codes: np.ndarray, present: np.ndarray | None = None) -> pd.Series:
    values = pd.Series(np.asarray(names, dtype=object)[codes], dtype="string")
    return values if present is None else values.where(present)


def _numbered(prefix: str, numbers: np.ndarray, width: int) -> pd.Series:
    digits = pd.Series(numbers).astype("string").str.zfill(width)
    return (prefix + digits).astype("string")


def _moments(micros: np.ndarray) -> pd.Series:
    return pd.Series(micros.view("datetime64[us]")).dt.tz_localize("UTC")


def generate_batch(rows: int, seed: int = 0, *, source: str = "bench") -> IngestBatch:
    """A canonical batch of `rows` incidents (ids ascending, as exports come), reproducible."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2025-11-23T00:00:00", "us").astype(np.int64)
    opened = np.sort(start + rng.integers(0, 365 * 24 * _HOUR, rows))
    restore = (rng.lognormal(np.log(4.0), 1.2, rows) * _HOUR).astype(np.int64)
    still_open = rng.random(rows) < 0.03
    resolved = np.where(still_open, np.iinfo(np.int64).min, opened + restore)
    closed = np.where(still_open, np.iinfo(np.int64).min, resolved + 72 * _HOUR)
    updated = np.where(still_open, opened + restore // 2, closed)
    priority = rng.choice([1, 2, 3, 4, 5], size=rows, p=[0.02, 0.08, 0.3, 0.5, 0.1])
    categories = [f"Domain {d:02d}" for d in range(50)]
    subcategories = ["Outage", "Degradation", "Error", "Performance", "Request"]
    groups = [f"Team {g:02d} {tier}" for g in range(40) for tier in ("Desk", "Ops", "Dev")]
    ci_codes = rng.integers(0, 5_000, rows)
    ci = _numbered("ci-", ci_codes, 5)
    subcategory = _text(subcategories, rng.integers(0, 5, rows))
    reassignments = rng.poisson(0.8, rows)
    group_codes = rng.integers(0, len(groups), rows)
    incidents = pd.DataFrame(
        {
            "source": pd.Series([source] * rows, dtype="string"),
            "incident_id": _numbered("INC", np.arange(rows) + 1, 8),
            "opened_at": _moments(opened),
            "resolved_at": _moments(resolved),
            "closed_at": _moments(closed),
            "updated_at": _moments(updated),
            "state": _text(["Closed", "In Progress"], still_open.astype(np.int64)),
            "priority": priority.astype(np.int64),
            "impact": pd.array(rng.integers(1, 4, rows), dtype="Int64"),
            "urgency": pd.array(rng.integers(1, 4, rows), dtype="Int64"),
            "ci": ci,
            "service_id": _numbered("svc-", ci_codes // 5, 4).where(rng.random(rows) < 0.7),
            "category": _text(categories, rng.integers(0, len(categories), rows)),
            "subcategory": subcategory,
            "assignment_group": _text(groups, group_codes),
            "location": _text([f"Site {s:02d}" for s in range(30)], rng.integers(0, 30, rows)),
            "support_tier": _text(["L1", "L2", "L3"], group_codes % 3),
            "reassignment_count": pd.array(reassignments, dtype="Int64"),
            "reopen_count": pd.array((rng.random(rows) < 0.05).astype(np.int64), dtype="Int64"),
            "problem_id": _numbered("PRB", rng.integers(0, 10**6, rows), 7).where(
                rng.random(rows) < 0.02
            ),
            "caused_by_change": _numbered("CHG", rng.integers(0, 10**6, rows), 7).where(
                rng.random(rows) < 0.03
            ),
            "short_description": (subcategory + " on " + ci + ", users affected").astype("string"),
            "reopened_at": pd.Series(pd.NaT, index=range(rows), dtype="datetime64[us, UTC]"),
            "service_component": pd.Series(pd.NA, index=range(rows), dtype="string"),
        },
        columns=list(INCIDENT_COLUMNS),
    )
    # One history row per assignment: the first group, then one per reassignment.
    per_incident = reassignments + 1
    owner = np.repeat(np.arange(rows), per_incident)
    step = np.arange(len(owner)) - np.repeat(np.cumsum(per_incident) - per_incident, per_incident)
    history_groups = (group_codes[owner] + step) % len(groups)
    history = pd.DataFrame(
        {
            "source": incidents["source"].iloc[owner].reset_index(drop=True),
            "incident_id": incidents["incident_id"].iloc[owner].reset_index(drop=True),
            "at": _moments(opened[owner] + step * (restore[owner] // per_incident[owner])),
            "assignment_group": _text(groups, history_groups),
            "support_tier": _text(["L1", "L2", "L3"], history_groups % 3),
        },
        columns=list(HISTORY_COLUMNS),
    )
    bad = rows // 1000
    rejected = pd.DataFrame(
        {
            "source": pd.Series([source] * bad, dtype="string"),
            "line": pd.array(np.arange(bad) * 997 + 2, dtype="Int64"),
            "problem": pd.Series(["bad timestamp"] * bad, dtype="string"),
            "reason": pd.Series(["opened_at 'yesterday' is not a timestamp"] * bad, dtype="string"),
            "raw": pd.Series(
                ['{"number": "INC?", "opened_at": "yesterday"}'] * bad, dtype="string"
            ),
        },
        columns=list(REJECTED_COLUMNS),
    )
    return IngestBatch(incidents=incidents, history=history, rejected=rejected)


def next_batch(batch: IngestBatch, seed: int = 1) -> IngestBatch:
    """The export a week later: 10% of the incidents updated, 1% new; no history changes."""
    rng = np.random.default_rng(seed)
    incidents = batch.incidents
    rows = len(incidents)
    changed = incidents.iloc[np.sort(rng.choice(rows, size=rows // 10, replace=False))].copy()
    changed["updated_at"] = changed["updated_at"] + pd.Timedelta(days=7)
    changed["state"] = pd.Series(["Closed"] * len(changed), dtype="string", index=changed.index)
    fresh = generate_batch(rows // 100, seed=seed + 100).incidents
    fresh["incident_id"] = ("NEW" + fresh["incident_id"]).astype("string")
    return IngestBatch(
        incidents=pd.concat([changed, fresh], ignore_index=True),
        history=batch.history.iloc[:0],
        rejected=batch.rejected.iloc[:0],
    )


def write_csv(batch: IngestBatch, rows: int, seed: int, folder: Path = CACHE_DIR) -> Path:
    """The batch's incidents as a CSV with ISO 8601 timestamps (cached by parameters)."""
    path = folder / f"ingest-v{CSV_FORMAT_VERSION}-{rows}-{seed}.csv"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pandas(batch.incidents, preserve_index=False)
        partial = path.with_suffix(".partial")
        pacsv.write_csv(table, partial)
        partial.replace(path)
    return path


def _postgres_reason() -> str | None:
    """Why PostgreSQL cannot be used, or None when it answers."""
    from impactlens.store import create_engine_for
    from sqlalchemy import text

    try:
        engine = create_engine_for(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as error:  # any failure to connect means "skip", with its reason
        return f"{POSTGRES_URL} does not answer ({str(error).strip().splitlines()[0]})"
    return None


class Target:
    """A fresh store (`Store.open`: schema created) per `fresh()` call; `close()` removes them."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.stores: list[Store] = []
        self._folder = tempfile.TemporaryDirectory(prefix="impactlens-bench-")
        self._schemas: list[str] = []

    def fresh(self) -> Store:
        from impactlens.store import Store, create_engine_for
        from sqlalchemy import text

        number = len(self.stores)
        if self.kind == "sqlite":
            url = f"sqlite:///{self._folder.name}/bench-{number}.db"
        else:
            schema = f"bench_ingest_{os.getpid()}_{number}"
            admin = create_engine_for(POSTGRES_URL)
            with admin.begin() as connection:
                connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
                connection.execute(text(f"CREATE SCHEMA {schema}"))
            admin.dispose()
            self._schemas.append(schema)
            # libpq's "options" in the URL: every connection of the store uses the schema.
            url = f"{POSTGRES_URL}?options={quote(f'-csearch_path={schema}')}"
        store = Store.open(url)
        assert store.created, store
        self.stores.append(store)
        return store

    def close(self) -> None:
        from impactlens.store import create_engine_for
        from sqlalchemy import text

        for store in self.stores:
            store.close()
        if self._schemas:
            admin = create_engine_for(POSTGRES_URL)
            with admin.begin() as connection:
                for schema in self._schemas:
                    connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            admin.dispose()
        self._folder.cleanup()


def lookup_p99(store: Store, batch: IngestBatch, *, lookups: int = LOOKUPS, seed: int = 7) -> float:
    """The 99th percentile, in seconds, of `Store.get_incident` on random stored incidents."""
    rng = np.random.default_rng(seed)
    incidents = batch.incidents
    picks = rng.integers(0, len(incidents), lookups)
    sources = incidents["source"].to_numpy(dtype=object)[picks]
    ids = incidents["incident_id"].to_numpy(dtype=object)[picks]
    store.get_incident(str(sources[0]), str(ids[0]))  # the pool's first connection
    times = []
    for source, incident_id in zip(sources, ids, strict=True):
        start = time.perf_counter()
        found = store.get_incident(str(source), str(incident_id))
        times.append(time.perf_counter() - start)
        assert found is not None, (source, incident_id)
    return float(np.percentile(times, 99))


def _time_target(
    kind: str, batch: IngestBatch, later: IngestBatch, repeats: int
) -> list[tuple[str, float, int]]:
    """(label, seconds, incidents) for the first load, a re-ingest, an update (best of
    `repeats` each), and the p99 of one incident's lookup."""
    target = Target(kind)
    try:

        def first_load(of: IngestBatch) -> tuple[float, Store]:
            best = float("inf")
            store = None
            for _ in range(max(1, repeats)):
                store = target.fresh()  # created and migrated outside the timing
                start = time.perf_counter()
                summary = store.save_batch(of, source_file="bench.csv", format="bench")
                best = min(best, time.perf_counter() - start)
                assert summary.new == len(of.incidents), summary
            assert store is not None
            return best, store

        bare = IngestBatch(batch.incidents, batch.history.iloc[:0], batch.rejected.iloc[:0])
        first_bare, _ = first_load(bare)
        first, store = first_load(batch)  # `again` re-ingests into the last of these
        lookup = lookup_p99(store, batch)

        def again() -> None:
            summary = store.save_batch(batch, source_file="bench.csv", format="bench")
            assert summary.new == summary.updated == 0, summary

        repeat_time, _ = best_of(repeats, again)
        update_times = []
        for _ in range(max(1, repeats)):
            store = target.fresh()
            store.save_batch(batch, source_file="bench.csv", format="bench")
            start = time.perf_counter()
            summary = store.save_batch(later, source_file="later.csv", format="bench")
            update_times.append(time.perf_counter() - start)
            assert summary.updated == len(batch.incidents) // 10, summary
        rows = len(batch.incidents)
        return [
            (f"{kind}: first load, incidents only", first_bare, rows),
            (f"{kind}: first load (all new, + history)", first, rows),
            (f"{kind}: same batch again (all unchanged)", repeat_time, rows),
            (f"{kind}: 10% updated + 1% new", min(update_times), len(later.incidents)),
            (f"{kind}: get_incident p99 of {LOOKUPS:,} (store of {rows:,})", lookup, 0),
        ]
    finally:
        target.close()


def _child(mode: str, rows: int, seed: int) -> None:
    """Body of a memory-measuring child: build the batch, maybe store it, and exit."""
    batch = generate_batch(rows, seed)
    if mode == "generate":
        return
    target = Target(mode)
    try:
        target.fresh().save_batch(batch, source_file="bench.csv", format="bench")
    finally:
        target.close()


def _peak_rss(mode: str, rows: int, seed: int) -> float:
    """Peak RSS in bytes of a fresh child process running `mode`."""
    child = [sys.executable, "-m", "bench.ingest", "--child", mode, "--rows", str(rows)]
    done = subprocess.run(
        [sys.executable, "-c", _RSS_WRAPPER, *child, "--seed", str(seed)],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return int(done.stdout.split()[-1]) * 1024.0


def _rate(rows: int, elapsed: float) -> str:
    return f"{rows / elapsed:,.0f}/s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Store ingest vs pandas read_csv.")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ROWS:,} incidents")
    parser.add_argument("--rows", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=3, help="best of N (default 3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--no-memory", action="store_true", help="skip the child processes")
    parser.add_argument("--csv-dir", type=Path, default=CACHE_DIR, help=argparse.SUPPRESS)
    parser.add_argument(
        "--child", choices=("generate", "sqlite", "postgresql"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    rows = args.rows or (QUICK_ROWS if args.quick else FULL_ROWS)
    if args.child:
        _child(args.child, rows, args.seed)
        return 0

    start = time.perf_counter()
    batch = generate_batch(rows, args.seed)
    later = next_batch(batch, args.seed + 1)
    path = write_csv(batch, rows, args.seed, args.csv_dir)
    print(
        f"batch: {len(batch.incidents):,} incidents, {len(batch.history):,} history rows, "
        f"{len(batch.rejected):,} rejected; CSV {path.stat().st_size / 2**20:.0f} MiB "
        f"({path}); ready in {time.perf_counter() - start:.1f} s"
    )
    print(f"timing best of {args.repeats} ...")
    read_time, _ = best_of(args.repeats, lambda: pd.read_csv(path, engine="pyarrow"))

    table = [["baseline: pd.read_csv(engine='pyarrow')", seconds(read_time), "", "1.00x"]]
    measured: dict[str, float] = {}
    kinds = ["sqlite"]
    skipped = None
    if args.no_postgres:
        skipped = "postgresql skipped (--no-postgres)"
    else:
        skipped = _postgres_reason()
        if skipped is None:
            kinds.append("postgresql")
        else:
            skipped = f"postgresql skipped: {skipped}"
    for kind in kinds:
        for label, elapsed, count in _time_target(kind, batch, later, args.repeats):
            measured[label] = elapsed
            if not count:  # a latency, not a throughput: no rate, no ratio to the read
                table.append([label, seconds(elapsed), "", ""])
                continue
            table.append(
                [label, seconds(elapsed), _rate(count, elapsed), f"{elapsed / read_time:.2f}x"]
            )
    if not args.no_memory:
        generate_rss = _peak_rss("generate", rows, args.seed)
        table.append(["peak RSS, child: generate the batch", mebibytes(generate_rss), "", ""])
        for kind in kinds:
            rss = _peak_rss(kind, rows, args.seed)
            extra = f"+{mebibytes(rss - generate_rss)}"
            table.append(
                [f"peak RSS, child: generate + {kind} first load", mebibytes(rss), extra, ""]
            )
    print()
    print_table(table, header=["stage", "time", "incidents/s", "/ read"])
    if skipped:
        print(skipped)
    print()
    scale = count_label(rows)
    results = []
    for kind in kinds:
        results += [
            Result(f"ingest {kind} first load {scale}",
                   measured[f"{kind}: first load (all new, + history)"] / read_time,
                   "x", FIRST_LOAD_TARGET),
            Result(f"ingest {kind} unchanged {scale}",
                   measured[f"{kind}: same batch again (all unchanged)"] / read_time,
                   "x", UNCHANGED_TARGET),
            Result(f"ingest {kind} 10% updated {scale}",
                   measured[f"{kind}: 10% updated + 1% new"] / read_time,
                   "x", UPDATED_TARGET),
            Result(f"store {kind} get_incident p99 {scale}",
                   measured[f"{kind}: get_incident p99 of {LOOKUPS:,} (store of {rows:,})"] * 1000,
                   "ms", LOOKUP_P99_TARGET_MS),
        ]  # fmt: skip
    report(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
