"""The benchmarks' results file: ``.impactlens/bench/results.json``.

Every benchmark prints its table and its target lines, and records the same results here
so a run can be read by a program: a list of ``{"name", "value", "unit", "target"}``, and
a result holds when ``value <= target``. ``unit`` is ``x`` for the ratio of a job's time
to its baseline's in the same run (a speed-up target of 50x is the ratio target 0.02) or
``ms`` for a latency.

A benchmark replaces the entries of the names it measures and keeps the others, so the
file of one ``make bench`` holds every benchmark's latest results (``make bench`` starts
from an empty file).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.mapgen import REPO_ROOT

__all__ = ["RESULTS_PATH", "Result", "count_label", "record_results", "report"]

RESULTS_PATH = REPO_ROOT / ".impactlens" / "bench" / "results.json"
RESULTS_ENV = "IMPACTLENS_BENCH_RESULTS"  # another results file (the tests use their own)


@dataclass(frozen=True)
class Result:
    """One measured result and its target: it holds when ``value <= target``."""

    name: str
    value: float
    unit: str  # "x" (a ratio to the baseline of the same run), "ms", "s" or "MiB"
    target: float

    @property
    def holds(self) -> bool:
        return self.value <= self.target

    def line(self) -> str:
        """``target scoring 1M <= 2x: 7.23x FAIL``."""
        unit = "x" if self.unit == "x" else f" {self.unit}"
        return (
            f"target {self.name} <= {_number(self.target)}{unit}: "
            f"{_number(self.value)}{unit} {'PASS' if self.holds else 'FAIL'}"
        )


def report(results: Sequence[Result], path: Path | None = None) -> None:
    """Print each result's target line and record them all in the results file."""
    for result in results:
        print(result.line())
    record_results(results, path)


def record_results(results: Sequence[Result], path: Path | None = None) -> None:
    """Merge `results` into the results file (`path`; default: ``$IMPACTLENS_BENCH_RESULTS``
    or `RESULTS_PATH`): entries of the same names are replaced, the others kept in their
    order. Written atomically."""
    if path is None:
        path = Path(os.environ.get(RESULTS_ENV) or RESULTS_PATH)
    kept: list[dict[str, object]] = []
    if path.is_file():
        try:
            kept = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            kept = []  # a file cut short by an interrupted run: start again
    names = {result.name for result in results}
    entries = [entry for entry in kept if entry.get("name") not in names]
    entries += [asdict(result) for result in results]
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(entries, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, path)


def count_label(count: int) -> str:
    """How many, short, for a result's name: ``1M``, ``10M``, ``20k``, ``500``."""
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if count >= size:
            return f"{count / size:g}{suffix}"
    return str(count)


def _number(value: float) -> str:
    """Three significant digits: ``7.23``, ``61``, ``0.0357``, ``2``, ``1234``."""
    return f"{value:.0f}" if abs(value) >= 1000 else f"{value:.3g}"
