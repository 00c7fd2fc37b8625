"""Validate decoded service-map records and build a `ServiceMap`.

`build_service_map` is pure: it takes what a YAML (or JSON) decoder returned and either
returns a `ServiceMap` or raises `MapValidationError` carrying every problem found, each
with its place (``services[3].aliases[1]``). Reading the file is `load.load_service_map`.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from impactlens.service_map.hours import InvalidHoursError, parse_hours
from impactlens.service_map.model import (
    DEFAULT_PRIORITY_WEIGHTS,
    DEFAULT_TIER_WEIGHTS,
    BusinessProcess,
    Dependency,
    Scoring,
    Service,
    ServiceMap,
    Support,
)

from impactlens.errors import InvalidTimezoneError, MapIssue, MapValidationError, excerpt
from impactlens.moments import time_zone

__all__ = ["MATCH_COLUMNS", "SUPPORT_TIERS", "build_service_map"]

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
MATCH_COLUMNS = ("category", "subcategory", "assignment_group", "location", "service_component")
SUPPORT_TIERS = ("L1", "L2", "L3")

_TOP_KEYS = {"version", "scoring", "business_processes", "services", "dependencies", "supports"}
_PROCESS_KEYS = {"id", "name", "criticality", "value_per_hour", "hours", "timezone"}
_SERVICE_KEYS = {"id", "name", "kind", "aliases", "match", "support_tiers", "members", "min_up"}
_KINDS = ("service", "redundancy_group")


@dataclass
class _Checker:
    """Collects issues while the records are walked, so all of them are reported at once."""

    issues: list[MapIssue] = field(default_factory=list)

    def add(self, place: str, message: str) -> None:
        self.issues.append(MapIssue(place, message))

    def mapping(self, value: Any, place: str) -> Mapping[str, Any] | None:
        if isinstance(value, Mapping):
            return value
        self.add(place, f"must be a mapping, got {_describe(value)}")
        return None

    def listing(self, value: Any, place: str) -> list[Any]:
        if value is None:
            return []
        if isinstance(value, list):
            return value
        self.add(place, f"must be a list, got {_describe(value)}")
        return []

    def unknown_keys(self, record: Mapping[str, Any], allowed: set[str], place: str) -> None:
        for key in record:
            if key not in allowed:
                known = ", ".join(sorted(allowed))
                self.add(f"{place}.{_step(key)}", f"unknown key (expected one of: {known})")

    def identifier(self, record: Mapping[str, Any], place: str) -> str | None:
        value = record.get("id")
        if value is None:
            self.add(f"{place}.id", "missing")
            return None
        if not isinstance(value, str) or not ID_PATTERN.match(value):
            self.add(
                f"{place}.id",
                f"{excerpt(value)} is not a valid id (lowercase letters, digits, '-' and '_', "
                "starting with a letter or digit)",
            )
            return None
        return value

    def number(
        self, value: Any, place: str, *, low: float, high: float | None, low_open: bool = False
    ) -> float | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.add(place, f"must be a number, got {_describe(value)}")
            return None
        # YAML's .nan and .inf would poison every score; a 400-digit whole number
        # overflows a float.
        if not isinstance(value, float) and abs(value) > sys.float_info.max:
            self.add(place, f"a whole number of {value.bit_length():,} bits is too large")
            return None
        if not math.isfinite(value):
            self.add(place, f"must be a finite number, got {value!r}")
            return None
        too_low = value <= low if low_open else value < low
        if too_low or (high is not None and value > high):
            left = "(" if low_open else "["
            right = f"{high:g}]" if high is not None else "inf)"
            self.add(place, f"{excerpt(value)} is outside {left}{low:g}, {right}")
            return None
        return float(value)

    def integer(self, value: Any, place: str, *, low: int, high: int | None) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(place, f"must be a whole number, got {_describe(value)}")
            return None
        if value < low or (high is not None and value > high):
            upper = f"..{high}" if high is not None else " or more"
            self.add(place, f"{value} is outside {low}{upper}")
            return None
        return value

    def text(self, value: Any, place: str) -> str | None:
        if isinstance(value, str) and value.strip():
            return value
        self.add(place, f"must be a non-empty string, got {_describe(value)}")
        return None


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, str):
        return f"the string {excerpt(value)}"
    return f"{type(value).__name__} {excerpt(value)}"


def _step(key: Any) -> str:
    """A mapping key as a step of a place (``services[3].<key>``), cut when it is long."""
    return excerpt(str(key), 40, quote=False)


def build_service_map(records: Any, *, source: str | None = None) -> ServiceMap:
    """Validate decoded map records and return the `ServiceMap` they describe.

    Parameters
    ----------
    records
        The decoded document: a mapping with ``version``, ``business_processes``,
        ``services`` and optionally ``scoring``, ``dependencies`` and ``supports``.
    source
        Where the records came from, used only in the error message.

    Raises
    ------
    MapValidationError
        With every problem found, each with its place.

    Examples
    --------
    >>> m = build_service_map({
    ...     "version": 1,
    ...     "business_processes": [{"id": "sales", "criticality": 1, "value_per_hour": 600}],
    ...     "services": [{"id": "web"}, {"id": "db"}],
    ...     "dependencies": [{"from": "web", "to": "db"}],
    ...     "supports": [{"service": "web", "process": "sales"}],
    ... })
    >>> [s.id for s in m.services], m.dependencies[0].provider
    (['web', 'db'], 'db')
    >>> build_service_map({"version": 1, "business_processes": [], "services": [{"id": "Web"}]})
    Traceback (most recent call last):
    ...
    impactlens.errors.MapValidationError: service map is invalid (1 error):
      services[0].id: 'Web' is not a valid id (lowercase letters, digits, '-' and '_', starting with a letter or digit)
    """
    check = _Checker()
    root = check.mapping(records, "(top level)")
    if root is None:
        raise MapValidationError(check.issues, source=source)
    check.unknown_keys(root, _TOP_KEYS, "(top level)")

    version = root.get("version")
    if version is None:
        check.add("version", "missing (expected 1)")
    elif version != 1:
        check.add("version", f"{excerpt(version)} is not supported (expected 1)")

    scoring = _scoring(root.get("scoring"), check)
    processes = _processes(root.get("business_processes"), check)
    services = _services(root.get("services"), check)
    _check_unique_ids(processes, services, check)
    # Entries with other errors still declare their ids, so references to them are not
    # reported a second time as unknown.
    service_ids = _declared_ids(root.get("services"))
    process_ids = _declared_ids(root.get("business_processes"))
    _check_members(services, service_ids, check)
    _check_aliases(services, check)

    def service(value: Any, place: str) -> str | None:
        return _reference(value, place, service_ids, process_ids, check)

    def process(value: Any, place: str) -> str | None:
        return _process_reference(value, place, service_ids, process_ids, check)

    dependencies = [
        Dependency(consumer=consumer, provider=provider, weight=weight)
        for consumer, provider, weight in _edges(
            root.get("dependencies"), "dependencies", ("from", "to"), (service, service), check
        )
    ]
    supports = [
        Support(service=service_id, process=process_id, weight=weight)
        for service_id, process_id, weight in _edges(
            root.get("supports"), "supports", ("service", "process"), (service, process), check
        )
    ]

    if check.issues:
        raise MapValidationError(check.issues, source=source)
    return ServiceMap(
        version=1,
        scoring=scoring,
        processes=tuple(process for _, process in processes),
        services=tuple(service for _, service in services),
        dependencies=tuple(dependencies),
        supports=tuple(supports),
    )


def _declared_ids(value: Any) -> set[str]:
    if not isinstance(value, list):
        return set()
    return {
        item["id"]
        for item in value
        if isinstance(item, Mapping)
        and isinstance(item.get("id"), str)
        and ID_PATTERN.match(item["id"])
    }


def _scoring(value: Any, check: _Checker) -> Scoring:
    if value is None:
        return Scoring()
    record = check.mapping(value, "scoring")
    if record is None:
        return Scoring()
    check.unknown_keys(record, {"priority_weights", "tier_weights"}, "scoring")
    priority = _weights(
        record.get("priority_weights"), "scoring.priority_weights", DEFAULT_PRIORITY_WEIGHTS, check
    )
    tiers = _weights(
        record.get("tier_weights"), "scoring.tier_weights", DEFAULT_TIER_WEIGHTS, check
    )
    return Scoring(priority_weights=priority, tier_weights=tiers)


def _weights(
    value: Any, place: str, defaults: Mapping[int, float], check: _Checker
) -> Mapping[int, float]:
    merged = dict(defaults)
    if value is None:
        return MappingProxyType(merged)
    # Keys are whatever the file holds (priorities and tiers are numbers), not only text.
    record: Mapping[Any, Any] = check.mapping(value, place) or {}
    for key, weight in record.items():
        if key not in defaults:
            keys = ", ".join(str(k) for k in defaults)
            check.add(f"{place}.{_step(key)}", f"unknown key (expected one of: {keys})")
            continue
        number = check.number(weight, f"{place}.{key}", low=0.0, high=None)
        if number is not None:
            merged[key] = number
    return MappingProxyType(merged)


def _processes(value: Any, check: _Checker) -> list[tuple[str, BusinessProcess]]:
    if value is None:
        check.add("business_processes", "missing (a map needs at least one business process)")
    result = []
    for index, item in enumerate(check.listing(value, "business_processes")):
        place = f"business_processes[{index}]"
        record = check.mapping(item, place)
        if record is None:
            continue
        check.unknown_keys(record, _PROCESS_KEYS, place)
        process_id = check.identifier(record, place)
        name = record.get("name", process_id)
        if "name" in record:
            check.text(name, f"{place}.name")
        criticality = None
        if "criticality" not in record:
            check.add(f"{place}.criticality", "missing (1 = mission critical ... 4 = low)")
        else:
            criticality = check.integer(
                record["criticality"], f"{place}.criticality", low=1, high=4
            )
        value_per_hour = check.number(
            record.get("value_per_hour", 0), f"{place}.value_per_hour", low=0.0, high=None
        )
        hours = record.get("hours", "24x7")
        timezone = record.get("timezone", "UTC")
        # Hours and zone are checked apart, so that a map with both wrong hears of both.
        if check.text(hours, f"{place}.hours"):
            try:
                parse_hours(str(hours))
            except InvalidHoursError as error:
                check.add(f"{place}.hours", str(error))
        if check.text(timezone, f"{place}.timezone"):
            try:
                time_zone(str(timezone))
            except InvalidTimezoneError as error:
                check.add(f"{place}.timezone", str(error))
        if process_id and criticality is not None and value_per_hour is not None:
            result.append(
                (
                    place,
                    BusinessProcess(
                        id=process_id,
                        name=str(name),
                        criticality=criticality,
                        value_per_hour=value_per_hour,
                        hours=str(hours),
                        timezone=str(timezone),
                    ),
                )
            )
    return result


def _services(value: Any, check: _Checker) -> list[tuple[str, Service]]:
    if value is None:
        check.add("services", "missing (a map needs at least one service)")
    result = []
    for index, item in enumerate(check.listing(value, "services")):
        place = f"services[{index}]"
        record = check.mapping(item, place)
        if record is None:
            continue
        check.unknown_keys(record, _SERVICE_KEYS, place)
        service_id = check.identifier(record, place)
        name = record.get("name", service_id)
        if "name" in record:
            check.text(name, f"{place}.name")
        kind = record.get("kind", "service")
        if kind not in _KINDS:
            check.add(f"{place}.kind", f"{excerpt(kind)} is not one of: {', '.join(_KINDS)}")
            continue
        aliases = _strings(record.get("aliases"), f"{place}.aliases", check)
        match = _match(record.get("match"), f"{place}.match", check)
        tiers = _support_tiers(record.get("support_tiers"), f"{place}.support_tiers", check)
        members: tuple[str, ...] = ()
        min_up = None
        if kind == "redundancy_group":
            members = _strings(record.get("members"), f"{place}.members", check)
            if not members:
                check.add(f"{place}.members", "a redundancy group needs at least one member")
            if "min_up" not in record:
                check.add(f"{place}.min_up", "missing (how many members must be up)")
            else:
                min_up = check.integer(record["min_up"], f"{place}.min_up", low=1, high=None)
                if min_up is not None and members and min_up > len(members):
                    check.add(
                        f"{place}.min_up",
                        f"{min_up} is more than the group's "
                        f"{len(members)} members: the group could never be up",
                    )
        else:
            for key in ("members", "min_up"):
                if key in record:
                    check.add(
                        f"{place}.{key}",
                        "only a service of kind redundancy_group has members and min_up",
                    )
        if service_id:
            result.append(
                (
                    place,
                    Service(
                        id=service_id,
                        name=str(name),
                        kind=kind,
                        aliases=aliases,
                        match=MappingProxyType(match),
                        support_tiers=MappingProxyType(tiers),
                        members=members,
                        min_up=min_up,
                    ),
                )
            )
    return result


def _strings(value: Any, place: str, check: _Checker) -> tuple[str, ...]:
    result = []
    for index, item in enumerate(check.listing(value, place)):
        if isinstance(item, bool) or not isinstance(item, str | int) or not str(item).strip():
            check.add(f"{place}[{index}]", f"must be a non-empty string, got {_describe(item)}")
        else:
            result.append(str(item).strip())
    return tuple(result)


def _match(value: Any, place: str, check: _Checker) -> dict[str, tuple[str, ...]]:
    if value is None:
        return {}
    record = check.mapping(value, place)
    rules: dict[str, tuple[str, ...]] = {}
    for column, allowed in (record or {}).items():
        if column not in MATCH_COLUMNS:
            check.add(
                f"{place}.{_step(column)}",
                f"cannot match on {excerpt(column)} (use one of: {', '.join(MATCH_COLUMNS)})",
            )
            continue
        values = [allowed] if isinstance(allowed, str) else allowed
        strings = _strings(values, f"{place}.{column}", check)
        if strings:
            rules[column] = strings
        elif isinstance(values, list) and not values:
            check.add(f"{place}.{column}", "needs at least one value")
    return rules


def _support_tiers(value: Any, place: str, check: _Checker) -> dict[str, str]:
    if value is None:
        return {}
    record = check.mapping(value, place)
    tiers: dict[str, str] = {}
    for group, tier in (record or {}).items():
        normalised = f"L{tier}" if isinstance(tier, int) and not isinstance(tier, bool) else tier
        if not isinstance(normalised, str) or normalised.upper() not in SUPPORT_TIERS:
            check.add(
                f"{place}.{_step(group)}", f"{excerpt(tier)} is not a support tier (L1, L2 or L3)"
            )
            continue
        tiers[str(group)] = normalised.upper()
    return tiers


def _check_unique_ids(
    processes: list[tuple[str, BusinessProcess]],
    services: list[tuple[str, Service]],
    check: _Checker,
) -> None:
    seen: dict[str, str] = {}
    items: list[tuple[str, BusinessProcess | Service]] = [*processes, *services]
    for place, item in items:
        if item.id in seen:
            check.add(f"{place}.id", f"{excerpt(item.id)} is already used by {seen[item.id]}")
        else:
            seen[item.id] = place


def _check_members(
    services: list[tuple[str, Service]], service_ids: set[str], check: _Checker
) -> None:
    for place, service in services:
        seen: set[str] = set()
        for index, member in enumerate(service.members):
            member_place = f"{place}.members[{index}]"
            if member == service.id:
                check.add(member_place, "a redundancy group cannot be its own member")
            elif member not in service_ids:
                check.add(member_place, f"unknown service {excerpt(member)}")
            elif member in seen:
                check.add(member_place, f"{excerpt(member)} is listed twice")
            seen.add(member)


def _check_aliases(services: list[tuple[str, Service]], check: _Checker) -> None:
    owner: dict[str, tuple[str, str]] = {}  # lowercased name -> (service id, place)
    for place, service in services:
        owner[service.id.lower()] = (service.id, place)
    for place, service in services:
        for index, alias in enumerate(service.aliases):
            key = alias.lower()
            claimed = owner.get(key)
            if claimed is None:
                owner[key] = (service.id, place)
            elif claimed[0] != service.id:
                check.add(
                    f"{place}.aliases[{index}]",
                    f'alias "{excerpt(alias, quote=False)}" is already claimed by {claimed[1]} '
                    f"({excerpt(claimed[0], quote=False)})",
                )


def _edges(
    value: Any,
    section: str,
    keys: tuple[str, str],
    endpoints: tuple[Callable[[Any, str], str | None], Callable[[Any, str], str | None]],
    check: _Checker,
) -> list[tuple[str, str, float]]:
    """(one end, other end, weight) of each valid entry of an edge section.

    `keys` name the two ends (``from``/``to``, ``service``/``process``); each of
    `endpoints` checks its end's value at its place and returns the id, or None.
    """
    result: list[tuple[str, str, float]] = []
    seen: dict[tuple[str, str], str] = {}
    for index, item in enumerate(check.listing(value, section)):
        place = f"{section}[{index}]"
        record = check.mapping(item, place)
        if record is None:
            continue
        check.unknown_keys(record, {*keys, "weight"}, place)
        first, second = (
            endpoint(record.get(key), f"{place}.{key}")
            for key, endpoint in zip(keys, endpoints, strict=True)
        )
        weight = check.number(
            record.get("weight", 1.0), f"{place}.weight", low=0.0, high=1.0, low_open=True
        )
        if first is None or second is None or weight is None:
            continue
        if first == second:
            check.add(place, f"{excerpt(first)} cannot depend on itself")
        elif (first, second) in seen:
            check.add(
                place,
                f"repeats {seen[(first, second)]} "
                f"({excerpt(first, quote=False)} -> {excerpt(second, quote=False)})",
            )
        else:
            seen[(first, second)] = place
            result.append((first, second, weight))
    return result


def _process_reference(
    value: Any, place: str, service_ids: set[str], process_ids: set[str], check: _Checker
) -> str | None:
    if value is None:
        check.add(place, "missing")
        return None
    # A list or mapping here is unhashable: it is no id, and must not crash the lookup.
    if not isinstance(value, str) or value not in process_ids:
        hint = " (that is a service id)" if isinstance(value, str) and value in service_ids else ""
        check.add(place, f"unknown business process {excerpt(value)}{hint}")
        return None
    return str(value)


def _reference(
    value: Any, place: str, service_ids: set[str], process_ids: set[str], check: _Checker
) -> str | None:
    if value is None:
        check.add(place, "missing")
        return None
    if not isinstance(value, str) or value not in service_ids:
        known_process = isinstance(value, str) and value in process_ids
        hint = " (that is a business process; use supports)" if known_process else ""
        check.add(place, f"unknown service {excerpt(value)}{hint}")
        return None
    return str(value)
