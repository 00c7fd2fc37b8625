"""The service map as plain, immutable values.

A `ServiceMap` is what `build_service_map` returns once a map has been validated; nothing
downstream ever sees an unvalidated map. Field names follow the YAML contract in
DESIGN.md ("The service map"), except that a dependency's `from`/`to` become
`consumer`/`provider`, which say which way impact flows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Literal

from impactlens.errors import UnknownProcessError, UnknownServiceError

__all__ = [
    "DEFAULT_PRIORITY_WEIGHTS",
    "DEFAULT_TIER_WEIGHTS",
    "BusinessProcess",
    "Dependency",
    "Scoring",
    "Service",
    "ServiceMap",
    "Support",
]

DEFAULT_PRIORITY_WEIGHTS: Mapping[int, float] = MappingProxyType(
    {1: 1.0, 2: 0.6, 3: 0.3, 4: 0.1, 5: 0.0}
)
DEFAULT_TIER_WEIGHTS: Mapping[int, float] = MappingProxyType({1: 1.0, 2: 0.5, 3: 0.2, 4: 0.05})

ServiceKind = Literal["service", "redundancy_group"]


@dataclass(frozen=True)
class Scoring:
    """How priorities become severities and criticalities become weights."""

    priority_weights: Mapping[int, float] = field(default_factory=lambda: DEFAULT_PRIORITY_WEIGHTS)
    tier_weights: Mapping[int, float] = field(default_factory=lambda: DEFAULT_TIER_WEIGHTS)


@dataclass(frozen=True)
class BusinessProcess:
    """A business workflow that services serve, with its value and its business hours."""

    id: str
    name: str
    criticality: int
    value_per_hour: float
    hours: str = "24x7"
    timezone: str = "UTC"


@dataclass(frozen=True)
class Service:
    """A service, or (``kind == "redundancy_group"``) a group of interchangeable members."""

    id: str
    name: str
    kind: ServiceKind = "service"
    aliases: tuple[str, ...] = ()
    match: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    support_tiers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    members: tuple[str, ...] = ()
    min_up: int | None = None


@dataclass(frozen=True)
class Dependency:
    """`consumer` depends on `provider`: when the provider fails, impact reaches the consumer.

    ``weight`` is the edge factor: 1.0 for a hard dependency, less for a soft one.
    """

    consumer: str
    provider: str
    weight: float = 1.0


@dataclass(frozen=True)
class Support:
    """`service` serves business process `process` with factor ``weight``."""

    service: str
    process: str
    weight: float = 1.0


@dataclass(frozen=True)
class ServiceMap:
    """A validated service map."""

    version: int
    scoring: Scoring
    processes: tuple[BusinessProcess, ...]
    services: tuple[Service, ...]
    dependencies: tuple[Dependency, ...] = ()
    supports: tuple[Support, ...] = ()

    # Lookups derived from the map, made once per map (a frozen dataclass still has a
    # __dict__ for `cached_property`): scoring one incident must not walk every service.

    @cached_property
    def service_positions(self) -> Mapping[str, int]:
        """Every id and alias of the services (stripped, lowercased; validation keeps
        them unique) -> the service's position in `services`."""
        positions: dict[str, int] = {}
        for index, service in enumerate(self.services):
            positions[service.id.lower()] = index
            for alias in service.aliases:
                positions[alias.strip().lower()] = index
        return MappingProxyType(positions)

    @cached_property
    def support_groups(self) -> Mapping[str, frozenset[str]]:
        """Each support group the services name (stripped, lowercased) -> the tiers they
        give it."""
        groups: dict[str, set[str]] = {}
        for service in self.services:
            for group, tier in service.support_tiers.items():
                groups.setdefault(group.strip().lower(), set()).add(tier)
        return MappingProxyType({group: frozenset(tiers) for group, tiers in groups.items()})

    @cached_property
    def service_ids(self) -> tuple[str, ...]:
        """The ids of `services`, in their order."""
        return tuple(service.id for service in self.services)

    @cached_property
    def _processes_by_id(self) -> Mapping[str, BusinessProcess]:
        return MappingProxyType({process.id: process for process in self.processes})

    @cached_property
    def _services_by_id(self) -> Mapping[str, Service]:
        return MappingProxyType({service.id: service for service in self.services})

    def process(self, process_id: str) -> BusinessProcess:
        """The process with this id (`UnknownProcessError` if none)."""
        found = self._processes_by_id.get(process_id)
        if found is None:
            raise UnknownProcessError(process_id, known=[process.id for process in self.processes])
        return found

    def service(self, service_id: str) -> Service:
        """The service or redundancy group with this id (`UnknownServiceError` if none)."""
        found = self._services_by_id.get(service_id)
        if found is None:
            raise UnknownServiceError(service_id, known=list(self.service_ids))
        return found
