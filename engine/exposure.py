"""Exposure of every service to every business process, in one pass over the graph.

``exposure(s, p)`` is the largest product of edge factors over the paths from ``s`` to
``p`` in the impact graph (`service_map.graph.impact_graph`). It is computed for all
services at once: the strongly connected components are condensed, the condensation is
walked in reverse topological order (consumers before providers), and each node's row of
exposures is the element-wise maximum of its successors' rows times the edge factors.
Inside a component (a dependency cycle) the rows are relaxed until they stop improving.
Along the way each node remembers, per process, the successor that gave its best value,
so the explaining path is read off without another search.
"""

from __future__ import annotations

from dataclasses import dataclass

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
            steps.append(PathStep(self.nodes[following], self.factors[(current, following)]))
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

    Edges with factor 0 (a redundant member that cannot take its group down alone)
    carry no impact and are left out.

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
    processes = tuple(n for n, kind in graph.nodes(data="kind") if kind == "process")
    position = {node: index for index, node in enumerate(nodes)}
    values = np.zeros((len(nodes), len(processes)), dtype=np.float64)
    next_hop = np.full((len(nodes), len(processes)), NO_HOP, dtype=np.int32)
    for column, process in enumerate(processes):
        values[position[process], column] = 1.0

    live = nx.DiGraph()
    live.add_nodes_from(graph.nodes)
    factors: dict[tuple[int, int], float] = {}
    for source, target, factor in graph.edges(data="factor", default=1.0):
        if factor > 0.0:
            live.add_edge(source, target)
            factors[(position[source], position[target])] = float(factor)

    successors = {
        position[node]: np.fromiter((position[t] for t in live.successors(node)), dtype=np.int64)
        for node in nodes
    }
    condensed = nx.condensation(live)
    for component in reversed(list(nx.topological_sort(condensed))):
        members = [position[node] for node in condensed.nodes[component]["members"]]
        if len(members) == 1:
            _take_best_successor(members[0], successors[members[0]], values, next_hop, factors)
        else:
            _relax_component(members, successors, values, next_hop, factors)
    return ExposureTable(
        nodes=nodes,
        processes=processes,
        values=values,
        next_hop=next_hop,
        factors=factors,
        node_positions=position,
        process_positions={process: column for column, process in enumerate(processes)},
    )


def _take_best_successor(
    node: int,
    targets: np.ndarray,
    values: np.ndarray,
    next_hop: np.ndarray,
    factors: dict[tuple[int, int], float],
) -> bool:
    """Raise `node`'s row to the best of its successors' rows; True if anything improved."""
    if targets.size == 0:
        return False
    edge_factors = np.array([factors[(node, int(t))] for t in targets])
    candidates = edge_factors[:, None] * values[targets]
    best = candidates.argmax(axis=0)
    best_values = candidates[best, np.arange(candidates.shape[1])]
    improved = best_values > values[node]
    if not improved.any():
        return False
    values[node, improved] = best_values[improved]
    next_hop[node, improved] = targets[best[improved]]
    return True


def _relax_component(
    members: list[int],
    successors: dict[int, np.ndarray],
    values: np.ndarray,
    next_hop: np.ndarray,
    factors: dict[tuple[int, int], float],
) -> None:
    # Factors are at most 1, so a best path never needs to go round a cycle: |members|
    # rounds of strict improvement reach the fixed point, and only strict improvements
    # move a next hop, so the hops never form a loop.
    for _ in range(len(members)):
        changed = False
        for node in members:
            changed |= _take_best_successor(node, successors[node], values, next_hop, factors)
        if not changed:
            return
