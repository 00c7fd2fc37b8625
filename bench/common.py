"""Small helpers shared by the benchmarks: best-of-N timing and aligned output.

The machines are small and noisy, so a benchmark never judges an absolute time: it
measures its baseline in the same run, takes the best of N repeats on both sides, and
prints ratios.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

__all__ = ["best_of", "mebibytes", "print_table", "seconds"]

T = TypeVar("T")


def best_of(repeats: int, func: Callable[[], T]) -> tuple[float, T]:
    """Best wall time (seconds) of `repeats` calls of `func`, and the last call's result."""
    best = float("inf")
    result: Any = None
    for _ in range(max(1, repeats)):
        result = None  # let the previous result go before the next run
        gc.collect()
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result


def print_table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> None:
    """Print rows as an aligned table: first column left-aligned, the others right."""
    table = [list(header), *[list(row) for row in rows]]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        return "  ".join(cells).rstrip()

    print(line(table[0]))
    print("  ".join("-" * width for width in widths))
    for row in table[1:]:
        print(line(row))


def seconds(value: float) -> str:
    """A duration for a table cell."""
    if value >= 10:
        return f"{value:.1f} s"
    if value >= 1:
        return f"{value:.2f} s"
    return f"{value * 1000:.0f} ms" if value >= 0.01 else f"{value * 1000:.1f} ms"


def mebibytes(value: float) -> str:
    """A size in bytes for a table cell."""
    return f"{value / 2**20:.0f} MiB"
