"""The version of a service map: a hash of what it says, not of how its file is written.

Every score and review names the map version it was computed with, so that two figures
can be compared only when they rest on the same map. The hash covers the validated map
(processes, services, edges, scoring), in a canonical form: reordering keys, adding
comments or changing whitespace in the YAML keeps the version; changing a weight, an
alias or a process's hours makes a new one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from impactlens.service_map.model import ServiceMap

__all__ = ["map_version"]

VERSION_LENGTH = 12  # hex digits: 48 bits, plenty to tell a project's map versions apart


def map_version(service_map: ServiceMap) -> str:
    """The map's content hash, 12 hex digits.

    >>> from impactlens.service_map.build import build_service_map
    >>> records = {"version": 1, "business_processes": [{"id": "sales", "criticality": 1}],
    ...            "services": [{"id": "web"}]}
    >>> first = map_version(build_service_map(records))
    >>> records["services"][0]["aliases"] = ["WEB01"]
    >>> len(first), first == map_version(build_service_map(records))
    (12, False)
    """
    text = json.dumps(_canonical(service_map), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:VERSION_LENGTH]


def _canonical(value: Any) -> Any:
    """Plain JSON values: dataclasses and mappings as dicts, sequences as lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: _canonical(getattr(value, field.name))
            for field in dataclasses.fields(value)
        }
    if isinstance(value, Mapping):
        return {str(key): _canonical(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    return value
