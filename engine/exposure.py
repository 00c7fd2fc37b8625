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

from collections.abc import Iterator
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import pandas as pd
from impactlens.engine.propagation import (
    NO_HOP,
    Edges,
    Groups,
    SparseRows,
    Walk,
    concatenated_ranges,
    edge_ends,
)

from impactlens.errors import UnknownServiceError

__all__ = ["NO_HOP", "ExposureTable", "PathStep", "compute_exposure"]


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


def compute_exposure(graph: nx.DiGraph[str]) -> ExposureTable:
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
    processes = tuple(n for n, data in graph.nodes(data=True) if data.get("kind") == "process")
    groups = Groups.of(graph, position)
    ends = edge_ends(graph, position)
    edges = Edges.of(graph, ends)
    width = len(processes) + len(groups.member_rows)
    # Each node starts with its own column: a process is fully exposed to itself, and a
    # group member to its own failure.
    seed_rows = np.array(
        [position[p] for p in processes] + list(groups.member_rows), dtype=np.int64
    )
    rows = SparseRows(len(nodes), width, seed_rows)
    # Dense rows are filled only where cycles need them (and at the end).
    values = np.zeros((len(nodes), width), dtype=np.float64)
    next_hop = np.full((len(nodes), width), NO_HOP, dtype=np.int32)
    walk = Walk(values, next_hop, edges, groups, len(processes))
    for level, cycles in _levels(graph, position, ends):
        rows.compute(level, edges, groups, walk)
        for cycle in cycles:
            needed = np.unique(
                np.concatenate(
                    [
                        edges.target[
                            concatenated_ranges(edges.start[cycle], np.diff(edges.start)[cycle])
                        ],
                        groups.rows,
                        cycle,
                    ]
                )
            )
            rows.densify(needed, values, next_hop)
            walk.relax(cycle)
            rows.store_dense(cycle, values, next_hop)
    shown = len(processes)
    rows.densify(np.arange(len(nodes)), values, next_hop)
    return ExposureTable(
        nodes=nodes,
        processes=processes,
        values=np.ascontiguousarray(values[:, :shown]),
        next_hop=np.ascontiguousarray(next_hop[:, :shown]),
        factors=walk.factors,
        node_positions=position,
        process_positions={process: column for column, process in enumerate(processes)},
        notes=walk.notes,
    )


def _levels(
    graph: nx.DiGraph[str], position: dict[str, int], ends: np.ndarray
) -> Iterator[tuple[np.ndarray, list[np.ndarray]]]:
    """Levels of the condensation, consumers first: (single-node rows, [cycle rows, ...]).

    Every successor of a level's nodes (member edges included, since a group is reached
    through its members) lies in an earlier level, so a level is computed in one batch.
    """
    label_of: dict[str, int] = {}
    cycles_of: dict[int, np.ndarray] = {}  # the rows of each component of several nodes
    for label, nodes in enumerate(nx.strongly_connected_components(graph)):
        label_of.update(dict.fromkeys(nodes, label))
        if len(nodes) > 1:
            cycles_of[label] = np.array([position[node] for node in nodes], dtype=np.int64)
    component = np.fromiter((label_of[node] for node in position), np.int64, len(position))
    count = len(cycles_of) + len(position) - sum(len(rows) for rows in cycles_of.values())
    single_row = np.full(count, -1, dtype=np.int64)  # a one-node component's row
    is_single = np.bincount(component, minlength=count) == 1
    single_row[component[is_single[component]]] = np.flatnonzero(is_single[component])
    linked = component[ends]
    # Distinct component links (one integer each: np.unique over rows sorts far slower).
    codes = np.unique(linked[:, 0] * count + linked[:, 1])
    links = np.stack([codes // count, codes % count], axis=1)
    links = links[links[:, 0] != links[:, 1]]
    waiting = np.bincount(links[:, 0], minlength=count)  # successors left per component
    upstream = links[np.argsort(links[:, 1], kind="stable")]
    upstream_start = np.searchsorted(upstream[:, 1], np.arange(count + 1))
    frontier = np.flatnonzero(waiting == 0)
    while frontier.size:
        singles = single_row[frontier[is_single[frontier]]]
        cycles = [cycles_of[c] for c in frontier[~is_single[frontier]].tolist()]
        yield singles, cycles
        heads = upstream[
            concatenated_ranges(upstream_start[frontier], np.diff(upstream_start)[frontier]), 0
        ]
        waiting -= np.bincount(heads, minlength=count)
        frontier = np.unique(heads[waiting[heads] == 0])
