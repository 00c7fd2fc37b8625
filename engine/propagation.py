"""The machinery of the exposure pass (see `engine.exposure` for what it computes).

Rows are kept sparse (`SparseRows`) for nodes outside cycles, computed a level at a time;
nodes in a dependency cycle are relaxed on dense rows (`Walk`). `Edges` and `Groups` hold
the graph as arrays. Everything here is internal to `compute_exposure`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import numpy.typing as npt

__all__ = [
    "NO_HOP",
    "Edges",
    "Groups",
    "SparseRows",
    "Walk",
    "concatenated_ranges",
    "edge_ends",
]

NO_HOP = -1

# Sparse entries as parallel arrays: (owner row, column, value, next hop).
_Entries = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


class SparseRows:
    """Each node's row as its nonzero (column, value, next hop) entries, in growing buffers.

    A row is ``start[n] : start[n] + length[n]`` of the buffers; rewriting a row appends.
    """

    def __init__(self, count: int, width: int, seed_rows: np.ndarray) -> None:
        self.width = width
        self.start = np.zeros(count, dtype=np.int64)
        self.length = np.zeros(count, dtype=np.int64)
        self.columns = np.empty(1024, dtype=np.int64)
        self.values = np.empty(1024, dtype=np.float64)
        self.hops = np.empty(1024, dtype=np.int64)
        self.used = 0
        self.seed_rows = seed_rows
        self.seed_columns = np.arange(len(seed_rows), dtype=np.int64)

    def compute(self, level: np.ndarray, edges: Edges, groups: Groups, walk: Walk) -> None:
        """Rows of `level` from their (finished) successors' rows, then through groups."""
        if level.size == 0:
            return
        owner, column, value, hop = self._seeds(level)
        counts = np.diff(edges.start)[level]
        edge = concatenated_ranges(edges.start[level], counts)
        entry_counts = self.length[edges.target[edge]]
        entry = concatenated_ranges(self.start[edges.target[edge]], entry_counts)
        edge = np.repeat(edge, entry_counts)
        found = self._best(
            (
                np.concatenate([owner, np.repeat(np.repeat(level, counts), entry_counts)]),
                np.concatenate([column, self.columns[entry]]),
                np.concatenate([value, edges.factor[edge] * self.values[entry]]),
                np.concatenate([hop, edges.target[edge]]),
            )
        )
        self._write(*found)
        through = walk.groups_taken_down_sparse(*found)
        if through is not None:
            taker, group_row, factor = through
            entry_counts = self.length[group_row]
            entry = concatenated_ranges(self.start[group_row], entry_counts)
            # Listed after the rows found so far: on a tie the edge path is kept.
            self._write(
                *self._best(
                    (
                        np.concatenate([found[0], np.repeat(taker, entry_counts)]),
                        np.concatenate([found[1], self.columns[entry]]),
                        np.concatenate(
                            [found[2], np.repeat(factor, entry_counts) * self.values[entry]]
                        ),
                        np.concatenate([found[3], np.repeat(group_row, entry_counts)]),
                    )
                )
            )

    def _seeds(self, level: np.ndarray) -> _Entries:
        chosen = np.isin(self.seed_rows, level)
        rows = self.seed_rows[chosen]
        return (
            rows,
            self.seed_columns[chosen],
            np.ones(rows.size),
            np.full(rows.size, NO_HOP, dtype=np.int64),
        )

    def _best(self, candidates: _Entries) -> _Entries:
        """Per (owner, column), the largest value; the earliest candidate on ties."""
        owner, column, value, hop = candidates
        key = owner * self.width + column
        order = np.lexsort((np.arange(key.size), -value, key))
        key = key[order]
        first = order[np.r_[True, key[1:] != key[:-1]]] if key.size else order
        keep = first[value[first] > 0.0]
        return owner[keep], column[keep], value[keep], hop[keep]

    def _write(
        self, owner: np.ndarray, column: np.ndarray, value: np.ndarray, hop: np.ndarray
    ) -> None:
        """Store rows for the owners (entries grouped by owner, as `_best` returns them)."""
        if owner.size == 0:
            return
        self._reserve(owner.size)
        begin = self.used
        end = begin + owner.size
        self.columns[begin:end], self.values[begin:end], self.hops[begin:end] = column, value, hop
        starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
        self.start[owner[starts]] = begin + starts
        self.length[owner[starts]] = np.diff(np.r_[starts, owner.size])
        self.used = end

    def _reserve(self, extra: int) -> None:
        if self.used + extra <= self.columns.size:
            return
        size = max(2 * self.columns.size, self.used + extra)
        for name in ("columns", "values", "hops"):
            grown = np.empty(size, dtype=getattr(self, name).dtype)
            grown[: self.used] = getattr(self, name)[: self.used]
            setattr(self, name, grown)

    def densify(self, rows: np.ndarray, values: np.ndarray, next_hop: np.ndarray) -> None:
        """Copy these rows (seeds included) into the dense arrays."""
        owner = np.repeat(rows, self.length[rows])
        entry = concatenated_ranges(self.start[rows], self.length[rows])
        values[owner, self.columns[entry]] = self.values[entry]
        next_hop[owner, self.columns[entry]] = self.hops[entry]
        seeded = np.isin(self.seed_rows, rows)
        seed_rows, seed_columns = self.seed_rows[seeded], self.seed_columns[seeded]
        values[seed_rows, seed_columns] = np.maximum(values[seed_rows, seed_columns], 1.0)

    def store_dense(self, rows: np.ndarray, values: np.ndarray, next_hop: np.ndarray) -> None:
        """Take these rows back from the dense arrays."""
        owner, column = np.nonzero(values[rows] > 0.0)
        owner = rows[owner]
        order = np.argsort(owner, kind="stable")
        owner, column = owner[order], column[order]
        self._write(owner, column, values[owner, column], next_hop[owner, column].astype(np.int64))


@dataclass(frozen=True)
class Edges:
    """Impact edges (member edges and factor-0 edges left out), grouped by source row."""

    start: np.ndarray  # first edge of each source row (CSR offsets, one more than rows)
    target: np.ndarray
    factor: np.ndarray

    @classmethod
    def of(cls, graph: nx.DiGraph[str], ends: np.ndarray) -> Edges:
        """From `graph` and its `edge_ends` (numpy over each edge's attributes, no tuples)."""
        count = len(ends)
        attributes = [data for _, _, data in graph.edges(data=True)]
        factor = np.fromiter((data.get("factor", 1.0) for data in attributes), np.float64, count)
        member = (data.get("relation") == "member_of" for data in attributes)
        kept = ~np.fromiter(member, np.bool_, count) & (factor > 0.0)
        source = ends[kept, 0]
        order = np.argsort(source, kind="stable")
        start = np.searchsorted(source[order], np.arange(len(graph) + 1))
        return cls(start=start, target=ends[kept, 1][order], factor=factor[kept][order])

    def factors(self) -> dict[tuple[int, int], float]:
        sources = np.repeat(np.arange(len(self.start) - 1), np.diff(self.start))
        return dict(
            zip(
                zip(sources.tolist(), self.target.tolist(), strict=True),
                self.factor.tolist(),
                strict=True,
            )
        )


@dataclass(frozen=True)
class Groups:
    """Redundancy groups as arrays: which member columns each group reads, and its k."""

    rows: np.ndarray  # group node rows
    must_fail: np.ndarray  # k per group: members that must fail for the group to fail
    sizes: np.ndarray  # members per group
    slots: np.ndarray  # (groups, max members) member column offsets, padded with a zero slot
    member_rows: tuple[int, ...]  # node row of each tracked member column
    member_start: np.ndarray  # CSR offsets: the groups of member column c are
    member_groups: np.ndarray  # member_groups[member_start[c] : member_start[c + 1]]

    @classmethod
    def of(cls, graph: nx.DiGraph[str], position: dict[str, int]) -> Groups:
        found = [
            (node, tuple(data["members"]), int(data["min_up"]))
            for node, data in graph.nodes(data=True)
            if data.get("kind") == "redundancy_group" and "members" in data
        ]
        member_rows = tuple(dict.fromkeys(position[m] for _, members, _ in found for m in members))
        offset = {row: index for index, row in enumerate(member_rows)}
        widest = max((len(members) for _, members, _ in found), default=0)
        slots = np.full((len(found), widest), len(member_rows), dtype=np.int64)
        for index, (_, members, _) in enumerate(found):
            slots[index, : len(members)] = [offset[position[m]] for m in members]
        pairs = sorted(
            (offset[position[m]], index)
            for index, (_, members, _) in enumerate(found)
            for m in members
        )
        member_of = np.array([member for member, _ in pairs], dtype=np.int64)
        return cls(
            member_start=np.searchsorted(member_of, np.arange(len(member_rows) + 1)),
            member_groups=np.array([group for _, group in pairs], dtype=np.int64),
            rows=np.array([position[node] for node, _, _ in found], dtype=np.int64),
            must_fail=np.array([len(m) - up + 1 for _, m, up in found], dtype=np.int64),
            sizes=np.array([len(m) for _, m, _ in found], dtype=np.int64),
            slots=slots,
            member_rows=member_rows,
        )


# Candidate arrays are (edges x columns); past this many cells a batch is split.
_BATCH_CELLS = 1 << 22


@dataclass
class Walk:
    """The state of the pass: rows of exposures and next hops, filled in as it goes."""

    values: np.ndarray
    next_hop: np.ndarray
    edges: Edges
    groups: Groups
    first_member_column: int
    factors: dict[tuple[int, int], float] = field(init=False)
    notes: dict[tuple[int, int], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.factors = self.edges.factors()

    def relax(self, cycle: np.ndarray) -> None:
        """Relax the dense rows of one strongly connected component to their fixed point.

        Each round updates, from the values of the round before, the nodes whose
        successors improved. Factors are at most 1, so a best path never goes round the
        cycle and the rounds end; a next hop moves only on a strict improvement, to a
        value the successor already had, so the hops never form a loop.
        """
        inside = np.zeros(len(self.values), dtype=bool)
        inside[cycle] = True
        sources = np.repeat(np.arange(len(self.edges.start) - 1), np.diff(self.edges.start))
        is_group = np.isin(cycle, self.groups.rows)
        active = np.sort(cycle)
        for _ in range(len(cycle) + 1):
            improved = self.update(active)
            if improved.size == 0:
                return
            followers = sources[np.isin(self.edges.target, improved)]
            if is_group.any() and np.isin(improved, self.groups.rows).any():
                # a group got worse news: whoever can take it down must look again
                followers = np.concatenate([followers, cycle])
            active = np.unique(followers[inside[followers]])

    def update(self, rows: np.ndarray) -> np.ndarray:
        """Raise each row to the best of its successors' rows; return the rows improved.

        First along edges (which also fills the rows' member columns), then through the
        groups those member exposures take down.
        """
        counts = self.edges.start[rows + 1] - self.edges.start[rows]
        with_edges = counts > 0
        edge_index = concatenated_ranges(self.edges.start[rows[with_edges]], counts[with_edges])
        along_edges = self._take_best(
            rows[with_edges],
            counts[with_edges],
            self.edges.target[edge_index],
            self.edges.factor[edge_index],
        )
        through_groups = self._take_best(*self._groups_taken_down(rows))
        return np.union1d(along_edges, through_groups)

    def _take_best(
        self, rows: np.ndarray, counts: np.ndarray, targets: np.ndarray, factors: np.ndarray
    ) -> np.ndarray:
        """Rows get the best of their candidates; `counts[i]` consecutive ones per row."""
        if rows.size == 0:
            return np.empty(0, dtype=np.int64)
        width = self.values.shape[1]
        ends = np.cumsum(counts)
        per_batch = max(1, _BATCH_CELLS // width)
        improved_rows: list[np.ndarray] = []
        first = 0
        while first < len(rows):
            # whole rows per batch, about `per_batch` candidate edges each
            last = int(np.searchsorted(ends, ends[first] - counts[first] + per_batch, "right"))
            last = max(last, first + 1)
            lo, hi = int(ends[first] - counts[first]), int(ends[last - 1])
            improved_rows.append(
                self._take_best_batch(
                    rows[first:last], counts[first:last], targets[lo:hi], factors[lo:hi]
                )
            )
            first = last
        return np.concatenate(improved_rows)

    def _take_best_batch(
        self, rows: np.ndarray, counts: np.ndarray, targets: np.ndarray, factors: np.ndarray
    ) -> np.ndarray:
        candidates = factors[:, None] * self.values[targets]
        segment_starts = np.cumsum(counts) - counts
        best = np.maximum.reduceat(candidates, segment_starts, axis=0)
        improved: npt.NDArray[np.bool_] = best > self.values[rows]
        if not improved.any():
            return np.empty(0, dtype=np.int64)
        # the first candidate reaching the best value gives the next hop
        is_best = candidates == np.repeat(best, counts, axis=0)
        local = np.where(is_best, np.arange(len(targets))[:, None], len(targets))
        winner = np.minimum.reduceat(local, segment_starts, axis=0)
        winner_target = targets[np.minimum(winner, len(targets) - 1)]
        self.values[rows] = np.where(improved, best, self.values[rows])
        self.next_hop[rows] = np.where(improved, winner_target, self.next_hop[rows])
        return rows[improved.any(axis=1)]

    def groups_taken_down_sparse(
        self, owner: np.ndarray, column: np.ndarray, value: np.ndarray, hop: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """(taker, group row, factor) for each node that takes a group down, or None.

        The entries are sparse rows (as `SparseRows._best` returns them); a taker's
        factor is the k-th largest of its exposures to the group's members.
        """
        groups = self.groups
        is_member = column >= self.first_member_column
        if not groups.member_rows or not is_member.any():
            return None
        owner, member, value = (
            owner[is_member],
            column[is_member] - self.first_member_column,
            value[is_member],
        )
        # each (node, member) entry counts for every group the member belongs to
        counts = np.diff(groups.member_start)[member]
        slot = concatenated_ranges(groups.member_start[member], counts)
        group_index = groups.member_groups[slot]
        owner, value = np.repeat(owner, counts), np.repeat(value, counts)
        key = owner * len(groups.rows) + group_index
        order = np.lexsort((-value, key))
        key, owner, group_index, value = key[order], owner[order], group_index[order], value[order]
        first_of_key = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        rank = np.arange(key.size) - np.repeat(first_of_key, np.diff(np.r_[first_of_key, key.size]))
        chosen = (rank == groups.must_fail[group_index] - 1) & (groups.rows[group_index] != owner)
        if not chosen.any():
            return None
        taker, group_index, factor = owner[chosen], group_index[chosen], value[chosen]
        self._note_group_steps(taker, group_index, factor)
        return taker, groups.rows[group_index], factor

    def _note_group_steps(
        self, rows: np.ndarray, group_index: np.ndarray, factor: np.ndarray
    ) -> None:
        for row, index, value in zip(
            rows.tolist(), group_index.tolist(), factor.tolist(), strict=True
        ):
            group = int(self.groups.rows[index])
            key = (row, group)
            self.factors[key] = max(self.factors.get(key, 0.0), value)
            k = int(self.groups.must_fail[index])
            if k > 1:
                self.notes[key] = f"takes down {k} of its {int(self.groups.sizes[index])} members"

    def _groups_taken_down(
        self, rows: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per row, the groups it takes down (k-th largest member exposure > 0)."""
        empty = np.empty(0, dtype=np.int64)
        if not self.groups.member_rows or rows.size == 0:
            return empty, empty, empty, np.empty(0)
        member_exposure = self.values[rows, self.first_member_column :]
        rows = rows[member_exposure.any(axis=1)]
        if rows.size == 0:
            return empty, empty, empty, np.empty(0)
        padded = np.concatenate(
            [self.values[rows, self.first_member_column :], np.zeros((len(rows), 1))], axis=1
        )[:, self.groups.slots]
        ranked = -np.sort(-padded, axis=2)
        factor = ranked[:, np.arange(len(self.groups.rows)), self.groups.must_fail - 1]
        factor[rows[:, None] == self.groups.rows[None, :]] = 0.0  # not through itself
        row_index, group_index = np.nonzero(factor > 0.0)
        pair_rows = rows[row_index]
        pair_groups = self.groups.rows[group_index]
        pair_factors = factor[row_index, group_index]
        self._note_group_steps(pair_rows, group_index, pair_factors)
        unique_rows, counts = np.unique(pair_rows, return_counts=True)
        return unique_rows, counts, pair_groups, pair_factors


def edge_ends(graph: nx.DiGraph[str], position: dict[str, int]) -> np.ndarray:
    """Every edge of `graph` as a row ``[source row, target row]``, in the graph's order."""
    rows = map(position.__getitem__, itertools.chain.from_iterable(graph.edges))
    return np.fromiter(rows, np.int64, 2 * graph.number_of_edges()).reshape(-1, 2)


def concatenated_ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``concat(range(s, s + c) for s, c in zip(starts, counts))`` without a Python loop.

    >>> concatenated_ranges(np.array([5, 0]), np.array([2, 3])).tolist()
    [5, 6, 0, 1, 2]
    """
    if counts.sum() == 0:
        return np.empty(0, dtype=np.int64)
    offsets = np.repeat(starts - (np.cumsum(counts) - counts), counts)
    ranges: np.ndarray = np.arange(int(counts.sum())) + offsets
    return ranges
