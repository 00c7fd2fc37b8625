"""Time as integer microseconds, and the largest level over many ranges at once.

The arithmetic under `engine.correlation` and `engine.timelines`: incidents' counted
intervals as UTC microseconds, and `max_over_ranges`, which gives every leaf the largest
level of the ranges covering it for all ranges in whole-array steps. Pure.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from impactlens.engine.impact import _interval

from impactlens.errors import InvalidSettingsError

__all__ = [
    "CHUNK",
    "MINUTE",
    "NAT",
    "bounds_index",
    "counted_interval",
    "max_over_ranges",
    "microseconds",
    "stable_order",
    "utc_stamps",
]

MINUTE = 60 * 1_000_000  # microseconds, the unit of every time here
NAT = np.iinfo(np.int64).min


def counted_interval(
    incidents: pd.DataFrame, *, as_of: pd.Timestamp
) -> tuple[np.ndarray, np.ndarray]:
    """Each incident's counted ``[start, end)`` (open ones up to `as_of`) in UTC
    microseconds; a missing ``opened_at`` gives an empty interval."""
    opened, ended = _interval(incidents, as_of=as_of)
    start = np.asarray(opened, dtype="datetime64[us]").view(np.int64)
    end = np.asarray(ended, dtype="datetime64[us]").view(np.int64)
    missing = (start == NAT) | (end == NAT)
    if missing.any():
        start, end = start.copy(), end.copy()
        start[missing] = end[missing] = 0
    return start, end


def microseconds(values: Any) -> np.ndarray:
    """UTC microseconds since the epoch of timestamps (timezone-aware, or naive UTC)."""
    index = pd.DatetimeIndex(values)
    return np.asarray(index.as_unit("us").asi8, dtype=np.int64)


def utc_stamps(microseconds: np.ndarray) -> pd.DatetimeIndex:
    """UTC timestamps from UTC microseconds since the epoch."""
    stamps = np.asarray(microseconds, dtype=np.int64).view("datetime64[us]")
    return pd.DatetimeIndex(stamps).tz_localize("UTC")


def bounds_index(bounds: Any) -> pd.DatetimeIndex:
    """`bounds` as a DatetimeIndex, checked to increase strictly (naive means UTC)."""
    index = pd.DatetimeIndex(bounds)
    if index.tz is None:
        index = index.tz_localize("UTC")
    if index.hasnans or (index.size > 1 and not (np.diff(index.as_unit("us").asi8) > 0).all()):
        raise InvalidSettingsError("bounds must be period boundaries in strictly increasing order")
    return index


def stable_order(labels: np.ndarray, groups: int) -> np.ndarray:
    """Positions of `labels` (ints in ``[0, groups)``) sorted by label, stably.

    A stable sort of 16-bit integers is a radix sort in numpy: one linear pass.
    """
    if groups <= 1 << 16:
        return np.argsort(labels.astype(np.uint16, copy=False), kind="stable")
    return np.argsort(labels, kind="stable")


# Ranges of at least this many leaves are split at chunk boundaries (`max_over_ranges`).
CHUNK_BITS = 6
CHUNK = 1 << CHUNK_BITS


def max_over_ranges(
    size: int, left: np.ndarray, right: np.ndarray, level: np.ndarray
) -> np.ndarray:
    """Per leaf ``0 .. size - 1``: the largest `level` of the ranges ``[left, right)``
    covering it (0 where none does).

    Leaves are grouped in chunks of 64. A range shorter than a chunk goes to
    `_block_max` as it is. A longer one is cut in three: its head, up to the first chunk
    boundary, and its tail, from the last one (both shorter than a chunk, both to
    `_block_max`), and the whole chunks between, which are a range over chunks: the
    same problem on 64 times fewer leaves, solved the same way. A leaf's answer is the
    larger of its own and its chunk's. Each range costs O(1) writes per level of
    chunks, and each level a few vectorised passes over its leaves: a two-level
    segment tree of fan-out 64 that is pushed down by blocks, not node by node.

    >>> left, right = np.array([0, 2, 5, 1]), np.array([3, 5, 5, 200])
    >>> level = np.array([1.0, 2.0, 9.0, 0.5])
    >>> leaves = max_over_ranges(202, left, right, level)
    >>> leaves[:6].tolist(), leaves[6:200].min(), leaves[200:].tolist()
    ([1.0, 1.0, 2.0, 2.0, 2.0, 0.5], np.float64(0.5), [0.0, 0.0])
    """
    chunks = -(-size // CHUNK)
    live = left < right
    long = live & (right - left >= CHUNK)
    short = live & ~long
    if not long.any():
        return _block_max(size, left[short], right[short], level[short])
    start, end, value = left[long], right[long], level[long]
    first_whole = (start + (CHUNK - 1)) >> CHUNK_BITS  # the first chunk wholly inside
    last_whole = end >> CHUNK_BITS  # one past the last chunk wholly inside
    by_chunk = max_over_ranges(chunks, first_whole, last_whole, value)
    head_end = np.minimum(first_whole << CHUNK_BITS, end)
    tail_start = np.maximum(last_whole << CHUNK_BITS, head_end)
    leaves = _block_max(
        chunks * CHUNK,
        np.concatenate([left[short], start, tail_start]),
        np.concatenate([right[short], head_end, end]),
        np.concatenate([level[short], value, value]),
    ).reshape(chunks, CHUNK)
    np.maximum(leaves, by_chunk[:, None], out=leaves)
    return leaves.ravel()[:size]


def _block_max(size: int, left: np.ndarray, right: np.ndarray, level: np.ndarray) -> np.ndarray:
    """`max_over_ranges` for ranges shorter than a chunk, by power-of-two blocks.

    A range of ``n`` leaves with ``2**k <= n < 2**(k + 1)`` is the union of two blocks
    of ``2**k`` leaves, one from each end. ``block[i]`` holds the largest level of the
    blocks of the current size that start at ``i``; halving the size, a block's value
    goes to both its halves (``block[i]`` and ``block[i + half]``): one vectorised step
    per size, largest first. Empty ranges are skipped.

    >>> _block_max(6, np.array([0, 2, 5]), np.array([3, 5, 5]), np.array([1.0, 2.0, 9.0])).tolist()
    [1.0, 1.0, 2.0, 2.0, 2.0, 0.0]
    """
    block = np.zeros(size)
    live = left < right
    if not live.all():
        left, right, level = left[live], right[live], level[live]
    if left.size == 0:
        return block
    length = right - left
    size_class = np.zeros(length.size, dtype=np.int8)  # k = floor(log2(length))
    for k in range(1, int(length.max()).bit_length()):
        size_class += length >= (1 << k)
    # Grouped by size class (a radix sort of 8-bit keys), so each step takes a slice.
    order = np.argsort(size_class, kind="stable")
    class_end = np.cumsum(np.bincount(size_class))
    left, right, level = left[order], right[order], level[order]
    spare = np.empty(size)  # the other buffer: no temporary per step
    for k in range(class_end.size - 1, -1, -1):
        chosen = slice(class_end[k - 1] if k else 0, class_end[k])
        np.maximum.at(block, left[chosen], level[chosen])
        np.maximum.at(block, right[chosen] - (1 << k), level[chosen])
        if k:
            half = 1 << (k - 1)
            spare[:half] = block[:half]
            np.maximum(block[half:], block[:-half], out=spare[half:])
            block, spare = spare, block
    return block
