"""The service map as a NetworkX graph whose edges point the way impact flows.

Edges run provider -> consumer -> business process, each with a ``factor`` in [0, 1]:
a dependency's weight, a ``supports`` weight, or, for a member of a redundancy group,
1.0 when that member failing alone leaves fewer than ``min_up`` members up, else 0.0.
(Exposure treats member edges by the group rule instead: see `engine.exposure`.)
"""

from __future__ import annotations

import networkx as nx
from impactlens.service_map.model import ServiceMap

__all__ = ["impact_graph", "member_passes_impact"]


def member_passes_impact(members: int, min_up: int) -> bool:
    """Whether one failing member alone takes a group of `members` below `min_up`.

    >>> member_passes_impact(2, 1), member_passes_impact(2, 2), member_passes_impact(1, 1)
    (False, True, True)
    """
    return members - 1 < min_up


def impact_graph(service_map: ServiceMap) -> nx.DiGraph[str]:
    """Build the impact graph of a validated map.

    Nodes carry ``kind`` (``service``, ``redundancy_group`` or ``process``) and ``name``;
    groups also carry ``members`` and ``min_up``; processes also carry ``criticality``, ``value_per_hour``, ``hours`` and ``timezone``.
    Edges carry ``factor`` and ``relation`` (``dependency``, ``supports``, ``member_of``);
    ``member_of`` edges also carry ``note``, a sentence on the redundancy arithmetic.

    Examples
    --------
    >>> from impactlens.service_map.build import build_service_map
    >>> m = build_service_map({"version": 1,
    ...     "business_processes": [{"id": "sales", "criticality": 1}],
    ...     "services": [{"id": "web"}, {"id": "db"}],
    ...     "dependencies": [{"from": "web", "to": "db", "weight": 0.5}],
    ...     "supports": [{"service": "web", "process": "sales"}]})
    >>> sorted(impact_graph(m).edges(data="factor"))
    [('db', 'web', 0.5), ('web', 'sales', 1.0)]
    """
    graph: nx.DiGraph[str] = nx.DiGraph()
    for process in service_map.processes:
        graph.add_node(
            process.id,
            kind="process",
            name=process.name,
            criticality=process.criticality,
            value_per_hour=process.value_per_hour,
            hours=process.hours,
            timezone=process.timezone,
        )
    for service in service_map.services:
        graph.add_node(service.id, kind=service.kind, name=service.name)
        if service.kind == "redundancy_group" and service.min_up is not None:
            graph.nodes[service.id].update(members=service.members, min_up=service.min_up)
    for service in service_map.services:
        if service.kind != "redundancy_group" or service.min_up is None:
            continue
        size = len(service.members)
        passes = member_passes_impact(size, service.min_up)
        note = f"{size - 1} of {size} members of {service.id} still up, min_up {service.min_up}"
        for member in service.members:
            graph.add_edge(
                member, service.id, factor=1.0 if passes else 0.0, relation="member_of", note=note
            )
    for dependency in service_map.dependencies:
        graph.add_edge(
            dependency.provider,
            dependency.consumer,
            factor=dependency.weight,
            relation="dependency",
        )
    for support in service_map.supports:
        graph.add_edge(support.service, support.process, factor=support.weight, relation="supports")
    return graph
