"""Blast radius: what stops, and how badly, if one service fails.

For a service (named by its id, an alias or the CI name an ITSM tool uses), every
business process its failure reaches, with the process's criticality, the exposure,
the value per hour at risk (exposure x the process's value per hour) and the strongest
path that explains it. Pure.
"""

from __future__ import annotations

import pandas as pd
from impactlens.engine.impact import ImpactModel, explain
from impactlens.engine.resolution import service_named

from impactlens.errors import InvalidSettingsError, UnknownServiceError

__all__ = ["BLAST_RADIUS_COLUMNS", "blast_radius"]

BLAST_RADIUS_COLUMNS = (
    "process_id", "process", "criticality", "exposure", "value_per_hour_at_risk", "path",
)  # fmt: skip


def blast_radius(model: ImpactModel, name: str) -> tuple[str, pd.DataFrame]:
    """The service `name` names (id, alias or CI, case-insensitive; a redundancy group by
    its id) and `BLAST_RADIUS_COLUMNS`, one row per process it reaches: most exposed
    first, then by process id.

    Raises `UnknownServiceError` (with close names) for a name the map does not know,
    and `InvalidSettingsError` for a business process's id.

    >>> from impactlens.service_map.build import build_service_map
    >>> from impactlens.engine.impact import build_impact_model
    >>> model = build_impact_model(build_service_map({"version": 1,
    ...     "business_processes": [{"id": "sales", "criticality": 1, "value_per_hour": 600}],
    ...     "services": [{"id": "web", "aliases": ["WEB01"]}],
    ...     "supports": [{"service": "web", "process": "sales", "weight": 0.5}]}))
    >>> service, table = blast_radius(model, "web01")
    >>> service, table[["process_id", "exposure", "value_per_hour_at_risk", "path"]].values.tolist()
    ('web', [['sales', 0.5, 300.0, 'web -> sales (x0.5)']])
    """
    graph = model.graph
    service = service_named(model.service_map, name)
    if service is None and name in graph and graph.nodes[name].get("kind") != "process":
        service = name  # a redundancy group is named by its id
    if service is None:
        if name in graph:
            raise InvalidSettingsError(f"{name!r} is a business process, not a service")
        raise UnknownServiceError(name, known=[s.id for s in model.service_map.services])
    row = model.exposure.node_index(service)
    rows = []
    for column, process_id in enumerate(model.exposure.processes):
        exposure = float(model.exposure.values[row, column])
        if exposure > 0:
            process = model.service_map.process(process_id)
            rows.append(
                (process_id, process.name, process.criticality, exposure,
                 exposure * float(process.value_per_hour),
                 explain(model, service, process_id))
            )  # fmt: skip
    table = pd.DataFrame(rows, columns=list(BLAST_RADIUS_COLUMNS))
    table = table.sort_values(["exposure", "process_id"], ascending=[False, True], kind="stable")
    return service, table.reset_index(drop=True)
