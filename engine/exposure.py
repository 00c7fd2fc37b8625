"""Exposure of every service to every business process, in one pass over the graph.

``exposure(s, p)`` is the largest product of edge factors over the paths from ``s`` to
``p`` in the impact graph (`service_map.graph.impact_graph`). It is computed for all
services at once: the strongly connected components are condensed, the condensation is
walked in reverse topological order (consumers before providers), and each node's row of
exposures is the element-wise maximum of its successors' rows times the edge factors.
Inside a component (a dependency cycle) the rows are relaxed until they stop improving.
Along the way each node remembers, per process, the successor that gave its best value,
so the explaining path is read off without another search.

Redundancy groups: a group of ``n`` members with ``min_up`` fails when ``k = n - min_up
+ 1`` members fail. A node's exposure through the group is therefore the k-th largest of
its exposures to the members (tracked as extra columns in the same pass). For one member
failing alone that is 1 when ``k == 1`` and 0 otherwise, as DESIGN.md specifies; a
provider shared by all members (a SAN under both database nodes) takes the group down.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import pandas as pd

from impactlens.errors import UnknownServiceError

__all__ = ["ExposureTable", "PathStep", "compute_exposure"]

NO_HOP = -1


@dataclass(frozen=True)
class PathStep:
    """One node of an explaining path and the factor of the edge that led into it."""

    node: str
    factor: float
    note: str = ""


@dataclass(frozen=True)
class ExposureTable:
    """Exposures of every graph node to every business process.

    ``values[i, j]`` is the exposure of ``nodes[i]`` to ``processes[j]``; ``next_hop[i, j]``
    is the index of the node that follows ``nodes[i]`` on its strongest path to
    ``processes[j]`` (``-1`` when there is none). Treat the arrays as read-only.
    """

    nodes: tuple[str, ...]
    processes: tuple[str, ...]
    values: np.ndarray
    next_hop: np.ndarray
    factors: dict[tuple[int, int], float]
    node_positions: dict[str, int]
    process_positions: dict[str, int]
    notes: dict[tuple[int, int], str] = field(default_factory=dict)

    def node_index(self, node: str) -> int:
        """Row index of a service, group or process (`UnknownServiceError` if none)."""
        try:
            return self.node_positions[node]
        except KeyError:
            raise UnknownServiceError(node, known=list(self.nodes)) from None

    def process_index(self, process: str) -> int:
        """Column index of a business process (KeyError if none)."""
        return self.process_positions[process]

    def exposure(self, node: str, process: str) -> float:
        """Exposure of one node to one process."""
        return float(self.values[self.node_index(node), self.process_index(process)])

    def path(self, node: str, process: str) -> list[PathStep]:
        """The strongest path from `node` to `process`; empty when exposure is 0.

        The first step carries factor 1.0 (it is where the incident is).
        """
        column = self.process_index(process)
        current = self.node_index(node)
        if self.values[current, column] <= 0.0:
            return []
        steps = [PathStep(self.nodes[current], 1.0)]
        for _ in range(len(self.nodes)):
            following = int(self.next_hop[current, column])
            if following == NO_HOP:
                break
            key = (current, following)
            steps.append(
                PathStep(self.nodes[following], self.factors[key], self.notes.get(key, ""))
            )
            current = following
        return steps

    def to_frame(self) -> pd.DataFrame:
        """Long table ``node, process_id, exposure`` of every pair with exposure > 0."""
        rows, columns = np.nonzero(self.values)
        return pd.DataFrame(
            {
                "node": np.asarray(self.nodes, dtype=object)[rows],
                "process_id": np.asarray(self.processes, dtype=object)[columns],
                "exposure": self.values[rows, columns],
            }
        )


def compute_exposure(graph: nx.DiGraph) -> ExposureTable:
    """Exposure of every node to every process node (``kind == "process"``).

    Edges with factor 0 carry no impact. Edges with ``relation == "member_of"`` are
    replaced by the group rule above, using each group node's ``members`` and ``min_up``.

    Examples
    --------
    A payments API feeds the web shop (hard) and HR (soft, 0.4); HR serves payroll at 0.5:

    >>> g = nx.DiGraph()
    >>> g.add_node("order-to-cash", kind="process"); g.add_node("payroll", kind="process")
    >>> g.add_edge("pay-api", "web", factor=1.0); g.add_edge("pay-api", "hr-app", factor=0.4)
    >>> g.add_edge("web", "order-to-cash", factor=1.0)
    >>> g.add_edge("hr-app", "payroll", factor=0.5)
    >>> table = compute_exposure(g)
    >>> table.exposure("pay-api", "order-to-cash"), round(table.exposure("pay-api", "payroll"), 2)
    (1.0, 0.2)
    >>> [step.node for step in table.path("pay-api", "payroll")]
    ['pay-api', 'hr-app', 'payroll']
    """
    nodes = tuple(graph.nodes)
    position = {node: index for index, node in enumerate(nodes)}
    processes = tuple(n for n, kind in graph.nodes(data="kind") if kind == "process")
    groups = _Groups.of(graph, position, first_column=len(processes))
    width = len(processes) + len(groups.member_rows)
    values = np.zeros((len(nodes), width), dtype=np.float64)
    next_hop = np.full((len(nodes), width), NO_HOP, dtype=np.int32)
    for column, process in enumerate(processes):
        values[position[process], column] = 1.0
    for offset, member in enumerate(groups.member_rows):
        values[member, len(processes) + offset] = 1.0

    order = nx.DiGraph()  # every edge, member ones included, to order the walk
    order.add_nodes_from(graph.nodes)
    factors: dict[tuple[int, int], float] = {}
    successors: dict[int, list[int]] = {index: [] for index in range(len(nodes))}
    for source, target, data in graph.edges(data=True):
        order.add_edge(source, target)
        factor = float(data.get("factor", 1.0))
        if data.get("relation") != "member_of" and factor > 0.0:
            factors[(position[source], position[target])] = factor
            successors[position[source]].append(position[target])
    walk = _Walk(
        values,
        next_hop,
        factors,
        groups,
        {node: np.array(targets, dtype=np.int64) for node, targets in successors.items()},
    )

    condensed = nx.condensation(order)
    for component in reversed(list(nx.topological_sort(condensed))):
        rows = [position[node] for node in condensed.nodes[component]["members"]]
        # Factors are at most 1, so a best path never needs to go round a cycle:
        # |rows| rounds of strict improvement reach the fixed point, and only strict
        # improvements move a next hop, so the hops never form a loop.
        for _ in range(len(rows)):
            changed = [walk.update(row) for row in rows]
            if len(rows) == 1 or not any(changed):
                break
    shown = len(processes)
    return ExposureTable(
        nodes=nodes,
        processes=processes,
        values=np.ascontiguousarray(values[:, :shown]),
        next_hop=np.ascontiguousarray(next_hop[:, :shown]),
        factors=factors,
        node_positions=position,
        process_positions={process: column for column, process in enumerate(processes)},
        notes=walk.notes,
    )


@dataclass(frozen=True)
class _Groups:
    """Redundancy groups as arrays: which member columns each group reads, and its k."""

    rows: np.ndarray  # group node rows
    must_fail: np.ndarray  # k per group: members that must fail for the group to fail
    sizes: np.ndarray  # members per group
    slots: np.ndarray  # (groups, max members) member column offsets, padded with a zero slot
    member_rows: tuple[int, ...]  # node row of each tracked member column

    @classmethod
    def of(cls, graph: nx.DiGraph, position: dict[str, int], *, first_column: int) -> _Groups:
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
        return cls(
            rows=np.array([position[node] for node, _, _ in found], dtype=np.int64),
            must_fail=np.array([len(m) - up + 1 for _, m, up in found], dtype=np.int64),
            sizes=np.array([len(m) for _, m, _ in found], dtype=np.int64),
            slots=slots,
            member_rows=member_rows,
        )


@dataclass
class _Walk:
    """The state of the pass: rows of exposures and next hops, filled in as it goes."""

    values: np.ndarray
    next_hop: np.ndarray
    factors: dict[tuple[int, int], float]
    groups: _Groups
    successors: dict[int, np.ndarray]
    notes: dict[tuple[int, int], str] = field(default_factory=dict)

    def update(self, node: int) -> bool:
        """Raise `node`'s row to its best successor's; True if anything improved.

        First along edges (which also fills the node's member columns), then through the
        groups those member exposures can take down.
        """
        targets = self.successors[node]
        factors = np.array([self.factors[(node, int(t))] for t in targets])
        along_edges = self._take_best(node, targets, factors)
        through_groups = self._take_best(node, *self._groups_taken_down(node))
        return along_edges or through_groups

    def _take_best(self, node: int, targets: np.ndarray, factors: np.ndarray) -> bool:
        if targets.size == 0:
            return False
        candidates = factors[:, None] * self.values[targets]
        best = candidates.argmax(axis=0)
        best_values = candidates[best, np.arange(candidates.shape[1])]
        improved = best_values > self.values[node]
        if not improved.any():
            return False
        self.values[node, improved] = best_values[improved]
        self.next_hop[node, improved] = targets[best[improved]]
        return True

    def _groups_taken_down(self, node: int) -> tuple[np.ndarray, np.ndarray]:
        """Groups that `node` takes down (k-th largest member exposure > 0), with factors."""
        none = (np.empty(0, dtype=np.int64), np.empty(0))
        first = self.values.shape[1] - len(self.groups.member_rows)
        member_exposure = self.values[node, first:]
        if not member_exposure.any():
            return none
        padded = np.append(member_exposure, 0.0)[self.groups.slots]
        ranked = -np.sort(-padded, axis=1)
        factor = ranked[np.arange(len(ranked)), self.groups.must_fail - 1]
        hit = np.flatnonzero((factor > 0.0) & (self.groups.rows != node))
        if hit.size == 0:
            return none
        for index in hit:
            group, k, size = (
                int(self.groups.rows[index]),
                int(self.groups.must_fail[index]),
                int(self.groups.sizes[index]),
            )
            key = (node, group)
            self.factors[key] = max(self.factors.get(key, 0.0), float(factor[index]))
            if k > 1:
                self.notes[key] = f"takes down {k} of its {size} members"
        return self.groups.rows[hit], factor[hit]
