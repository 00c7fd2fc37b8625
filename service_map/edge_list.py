"""Import a plain edge list (``caller,callee``: the caller depends on the callee).

`parse_edge_list` turns rows into map records (a skeleton to complete by hand), and
`skeleton_yaml` writes those records as commented YAML. Reading the CSV is the caller's job.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import yaml

from impactlens.errors import InputFileError, excerpt

__all__ = ["parse_edge_list", "service_id_for", "skeleton_yaml"]

PLACEHOLDER_PROCESS = "business-process-1"


def service_id_for(name: str) -> str:
    """A valid map id for a service name from another tool.

    >>> service_id_for("ts-Order_Service"), service_id_for("Payments API (prod)")
    ('ts-order_service', 'payments-api-prod')
    """
    cleaned = re.sub(r"[^a-z0-9_-]+", "-", name.strip().lower()).strip("-_")
    return cleaned or "service"


def parse_edge_list(rows: Iterable[Sequence[str]], *, source: str = "edge list") -> dict[str, Any]:
    """Map records for the services and dependencies in `rows` of ``(caller, callee)``.

    Every service becomes a map service (its original name kept as an alias when the id
    differs); every row a hard dependency; repeated rows count once. Services that nothing
    calls are the entry points: they get a ``supports`` edge to one placeholder business
    process, so the skeleton validates and propagates before its owner names the real
    processes.

    Examples
    --------
    >>> records = parse_edge_list([("frontend", "cart"), ("cart", "redis"), ("frontend", "cart")])
    >>> [s["id"] for s in records["services"]], len(records["dependencies"])
    (['frontend', 'cart', 'redis'], 2)
    >>> records["supports"]
    [{'service': 'frontend', 'process': 'business-process-1'}]
    """
    services: dict[str, str] = {}  # id -> original name
    dependencies: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for line, row in enumerate(rows, start=2):
        if len(row) < 2 or not str(row[0]).strip() or not str(row[1]).strip():
            raise InputFileError(
                f"{source}, line {line}: expected caller,callee, got {excerpt(row)}"
            )
        ids = []
        for name in (str(row[0]).strip(), str(row[1]).strip()):
            service_id = service_id_for(name)
            if services.setdefault(service_id, name) != name:
                raise InputFileError(
                    f"{source}, line {line}: {excerpt(name)} and {excerpt(services[service_id])} "
                    f"both become the id {excerpt(service_id)}"
                )
            ids.append(service_id)
        edge = (ids[0], ids[1])
        if edge[0] != edge[1] and edge not in seen:
            seen.add(edge)
            dependencies.append(edge)
    called = {callee for _, callee in dependencies}
    entry_points = [service_id for service_id in services if service_id not in called]
    return {
        "version": 1,
        "business_processes": [
            {
                "id": PLACEHOLDER_PROCESS,
                "name": "Rename me: the process the entry points serve",
                "criticality": 2,
                "value_per_hour": 0,
                "hours": "24x7",
                "timezone": "UTC",
            },
        ],
        "services": [
            {"id": service_id, "name": name} | ({"aliases": [name]} if name != service_id else {})
            for service_id, name in services.items()
        ],
        "dependencies": [{"from": caller, "to": callee} for caller, callee in dependencies],
        "supports": [{"service": s, "process": PLACEHOLDER_PROCESS} for s in entry_points],
    }


def skeleton_yaml(records: dict[str, Any], *, source: str) -> str:
    """The records as YAML under a header that says what to fill in."""
    header = (
        f"# Service map skeleton imported from {source}\n"
        f"# {len(records['services'])} services, {len(records['dependencies'])} dependencies.\n"
        "# To do: name the real business processes (criticality, value_per_hour, hours,\n"
        "# timezone), point `supports` at them, add aliases as your ITSM tool names the CIs,\n"
        "# and mark soft dependencies with a weight < 1.\n"
    )
    return header + yaml.safe_dump(records, sort_keys=False, allow_unicode=True, width=100)
