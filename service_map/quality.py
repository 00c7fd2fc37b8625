"""The map quality report: what in a valid map deserves its owner's attention."""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
from impactlens.service_map.model import ServiceMap

from impactlens.text import counted, plural

__all__ = ["QualityReport", "quality_report"]


@dataclass(frozen=True)
class QualityReport:
    """Counts and findings for one valid service map."""

    services: int
    redundancy_groups: int
    processes: int
    dependencies: int
    supports: int
    cycles: tuple[tuple[str, ...], ...]
    services_serving_no_process: tuple[str, ...]
    processes_served_by_no_service: tuple[str, ...]
    one_member_groups: tuple[str, ...]

    @property
    def findings(self) -> list[str]:
        """One sentence per finding; empty when there is nothing to look at."""
        lines = [
            f"dependency cycle (handled as one unit, but check it is real): "
            f"{' -> '.join(cycle)} -> {cycle[0]}"
            for cycle in self.cycles
        ]
        if self.services_serving_no_process:
            count = len(self.services_serving_no_process)
            lines.append(
                f"{counted(count, 'service')} {plural(count, 'serves', 'serve')} no business "
                "process: " + ", ".join(self.services_serving_no_process)
            )
        if self.processes_served_by_no_service:
            count = len(self.processes_served_by_no_service)
            lines.append(
                f"{counted(count, 'business process', 'business processes')} "
                f"{plural(count, 'is', 'are')} served by no service: "
                + ", ".join(self.processes_served_by_no_service)
            )
        lines.extend(
            f"redundancy group {group} has a single member, so it gives no redundancy"
            for group in self.one_member_groups
        )
        return lines


def quality_report(service_map: ServiceMap, graph: nx.DiGraph[str]) -> QualityReport:
    """Report cycles, services serving no process, unserved processes and one-member groups.

    `graph` is `impact_graph(service_map)`. Reachability here ignores edge factors: a
    redundant member does serve its group's processes, just not on its own.

    Examples
    --------
    >>> from impactlens.service_map.build import build_service_map
    >>> from impactlens.service_map.graph import impact_graph
    >>> m = build_service_map({"version": 1,
    ...     "business_processes": [{"id": "sales", "criticality": 1},
    ...                            {"id": "hr", "criticality": 3}],
    ...     "services": [{"id": "web"}, {"id": "batch"}],
    ...     "supports": [{"service": "web", "process": "sales"}]})
    >>> report = quality_report(m, impact_graph(m))
    >>> report.services_serving_no_process, report.processes_served_by_no_service
    (('batch',), ('hr',))
    """
    process_ids = [process.id for process in service_map.processes]
    reaches_a_process = set(process_ids)
    for process_id in process_ids:
        reaches_a_process |= nx.ancestors(graph, process_id)
    cycles = tuple(
        tuple(_cycle_order(graph, component))
        for component in nx.strongly_connected_components(graph)
        if len(component) > 1
    )
    served = {support.process for support in service_map.supports}
    return QualityReport(
        services=sum(1 for s in service_map.services if s.kind == "service"),
        redundancy_groups=sum(1 for s in service_map.services if s.kind == "redundancy_group"),
        processes=len(service_map.processes),
        dependencies=len(service_map.dependencies),
        supports=len(service_map.supports),
        cycles=tuple(sorted(cycles)),
        services_serving_no_process=tuple(
            s.id for s in service_map.services if s.id not in reaches_a_process
        ),
        processes_served_by_no_service=tuple(p for p in process_ids if p not in served),
        one_member_groups=tuple(
            s.id
            for s in service_map.services
            if s.kind == "redundancy_group" and len(s.members) == 1
        ),
    )


def _cycle_order(graph: nx.DiGraph[str], component: set[str]) -> list[str]:
    """The component's nodes along one of its cycles, starting from the smallest id."""
    start = min(component)
    cycle = nx.find_cycle(graph.subgraph(component), source=start)
    order = [edge[0] for edge in cycle]
    return order if len(order) == len(component) else sorted(component)
