"""Synthetic, realistically shaped service maps and incident CSVs for the benchmarks.

`generate_map_records` returns a dict in the service-map YAML contract (DESIGN.md, "The
service map"), ready for `service_map.build.build_service_map`. Its shape follows real
maps: four layers (front ends ~10%, business apps ~30%, shared platforms ~30%,
infrastructure ~30%), dependencies from a consumer in an upper layer to a provider in a
lower one (mostly the next layer, some skipping one), ~20% of them soft, a few redundancy
groups of infrastructure members, and ``supports`` from front ends and business apps to
1-3 processes of their "business domain". Providers are mostly picked from the
consumer's own domain, with a popularity skew, so each service reaches a handful to a few
dozen processes rather than all of them. A few two-service cycles among the platforms
exercise the strongly-connected-component path of the exposure pass.

`generate_incidents_csv` writes a canonical incident CSV (one year of incidents on that
map) and caches it under ``.impactlens/bench/`` keyed by its parameters.

Run ``python -m bench.mapgen`` to print the shape of the default map.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "INCIDENTS_AS_OF",
    "INCIDENTS_START",
    "REPO_ROOT",
    "generate_incidents_csv",
    "generate_map_records",
    "generate_random_map_records",
    "map_edge_count",
    "reach_counts",
    "reach_summary",
]

REPO_ROOT = Path(__file__).resolve().parents[1]
CACHE_DIR = REPO_ROOT / ".impactlens" / "bench"
CSV_FORMAT_VERSION = 1  # bump when the CSV layout changes, so old cached files are not reused

LAYERS = ("fe", "app", "plat", "infra")
LAYER_SHARES = (0.10, 0.30, 0.30, 0.30)
NEXT_LAYER_SHARE = 0.75  # the rest of the dependencies skip one layer (or more)
SOFT_SHARE = 0.20
SAME_DOMAIN_SHARE = 0.90
PROCESSES_PER_DOMAIN = 10
TIME_ZONES = (
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Tokyo",
    "Australia/Sydney",
)
HOURS = (("24x7", 0.35), ("mon-fri 09:00-17:00", 0.40), ("mon-sat 07:00-19:00", 0.25))
OTHER_CATEGORIES = ("Hardware", "Access", "Network", "Other")
SUBCATEGORIES = ("Outage", "Degradation", "Error", "Performance", "Request")

# The incidents cover one year, ending at INCIDENTS_AS_OF (score with that as_of).
INCIDENTS_START = np.datetime64("2025-11-23T00:00:00", "s")
INCIDENTS_AS_OF = "2026-11-23T00:00:00Z"


def _domain_category(domain: int) -> str:
    return f"Domain {domain:02d}"


def generate_map_records(
    services: int = 10_000,
    processes: int = 500,
    edges: int = 30_000,
    seed: int = 0,
    *,
    groups: int | None = None,
    cycles: int | None = None,
) -> dict[str, Any]:
    """A service map as decoded YAML: `services` entries (redundancy groups included).

    Parameters
    ----------
    services
        Number of ``services`` entries, redundancy groups included.
    processes
        Number of business processes.
    edges
        Total of dependencies + supports + redundancy-group memberships.
    seed
        Random seed; the same arguments always give the same map.
    groups
        Number of redundancy groups (default: ``services // 200``, at most 50, at least 1).
    cycles
        Number of two-service dependency cycles among the platforms (default:
        ``services // 2000``).
    """
    rng = np.random.default_rng(seed)
    n_groups = groups if groups is not None else max(1, min(50, services // 200))
    n_cycles = cycles if cycles is not None else services // 2000
    regular = services - n_groups
    n_domains = max(1, processes // PROCESSES_PER_DOMAIN)

    # Layers and domains of the regular services.
    sizes = [round(share * regular) for share in LAYER_SHARES]
    sizes[-1] = regular - sum(sizes[:-1])
    layer_of = np.repeat(np.arange(len(LAYERS)), sizes)
    domain_of = rng.integers(0, n_domains, size=regular)
    ids = [
        f"{LAYERS[layer]}-d{domain:02d}-{index:05d}"
        for index, (layer, domain) in enumerate(zip(layer_of, domain_of, strict=True))
    ]
    popularity = rng.lognormal(0.0, 1.0, size=regular)  # a few providers are used by many

    # Business processes, clustered in domains.
    process_domain = np.arange(processes) % n_domains
    hour_specs = [spec for spec, _ in HOURS]
    hour_p = [share for _, share in HOURS]
    process_records = []
    for index in range(processes):
        process_records.append(
            {
                "id": f"proc-{index:03d}",
                "name": f"Process {index} ({_domain_category(int(process_domain[index]))})",
                "criticality": int(rng.choice([1, 2, 3, 4], p=[0.1, 0.25, 0.35, 0.3])),
                "value_per_hour": int(rng.choice([100, 250, 500, 1000, 2500, 6000, 10000])),
                "hours": hour_specs[int(rng.choice(len(hour_specs), p=hour_p))],
                "timezone": TIME_ZONES[int(rng.integers(len(TIME_ZONES)))],
            }
        )
    processes_in_domain = [np.flatnonzero(process_domain == d) for d in range(n_domains)]

    # Provider pools per (layer, domain), with popularity weights.
    pools: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
    for layer in range(len(LAYERS)):
        for domain in range(n_domains):
            members = np.flatnonzero((layer_of == layer) & (domain_of == domain))
            if members.size:
                weights = popularity[members]
                pools[(layer, domain)] = (members, weights / weights.sum())
    layer_members = [np.flatnonzero(layer_of == layer) for layer in range(len(LAYERS))]

    def pick(layer: int, domain: int) -> int:
        if rng.random() >= SAME_DOMAIN_SHARE or (layer, domain) not in pools:
            domain = int(rng.integers(n_domains))
        if (layer, domain) not in pools:
            return int(rng.choice(layer_members[layer]))
        members, weights = pools[(layer, domain)]
        return int(members[rng.choice(members.size, p=weights)])

    # Redundancy groups of 2-3 infrastructure members from one domain.
    infra_layer = len(LAYERS) - 1
    group_records = []
    group_domain: list[int] = []
    used_members: set[int] = set()
    for index in range(n_groups):
        size = int(rng.choice([2, 3], p=[0.6, 0.4]))
        domain = int(rng.integers(n_domains))
        members, _ = pools.get((infra_layer, domain), (layer_members[infra_layer], None))
        free = [int(m) for m in members if int(m) not in used_members]
        if len(free) < size:
            free = [int(m) for m in layer_members[infra_layer] if int(m) not in used_members]
        chosen = [int(m) for m in rng.choice(free, size=size, replace=False)]
        used_members.update(chosen)
        group_records.append(
            {
                "id": f"grp-d{domain:02d}-{index:03d}",
                "name": f"Redundant pair {index}",
                "kind": "redundancy_group",
                "members": [ids[m] for m in chosen],
                "min_up": int(min(size, rng.choice([1, 2]))),
            }
        )
        group_domain.append(domain)
    memberships = sum(len(g["members"]) for g in group_records)

    # Supports: each front end and business app serves 1-3 processes of its domain.
    support_records = []
    for service in np.flatnonzero(layer_of <= 1):
        candidates = processes_in_domain[int(domain_of[service])]
        count = min(candidates.size, int(rng.choice([1, 2, 3], p=[0.4, 0.4, 0.2])))
        for process in rng.choice(candidates, size=count, replace=False):
            record = {"service": ids[service], "process": process_records[int(process)]["id"]}
            if rng.random() < 0.1:
                record["weight"] = round(float(rng.uniform(0.2, 0.8)), 2)
            support_records.append(record)

    # Dependencies: the rest of the edge budget, spread over the consumers.
    budget = max(0, edges - len(support_records) - memberships)
    seen: set[tuple[int, int]] = set()
    dependency_records: list[dict[str, Any]] = []

    def add(consumer: str, provider: str, key: tuple[int, int]) -> bool:
        if key in seen or consumer == provider:
            return False
        seen.add(key)
        record: dict[str, Any] = {"from": consumer, "to": provider}
        if rng.random() < SOFT_SHARE:
            record["weight"] = round(float(rng.uniform(0.2, 0.8)), 2)
        dependency_records.append(record)
        return True

    platform = layer_members[2]
    for _ in range(min(n_cycles, budget // 2)):
        a, b = (int(x) for x in rng.choice(platform, size=2, replace=False))
        if (a, b) not in seen and (b, a) not in seen:
            add(ids[a], ids[b], (a, b))
            add(ids[b], ids[a], (b, a))
    consumers = np.flatnonzero(layer_of < infra_layer)
    remaining = budget - len(dependency_records)
    # Every consumer gets at least one provider; the rest go by a multinomial draw.
    base = 1 if remaining >= consumers.size else 0
    extra = rng.multinomial(
        remaining - base * consumers.size, np.full(consumers.size, 1.0 / consumers.size)
    )
    group_ids = [g["id"] for g in group_records]
    for consumer, count in zip(consumers, extra + base, strict=True):
        layer, domain = int(layer_of[consumer]), int(domain_of[consumer])
        made = attempts = 0
        while made < count and attempts < 20 * count:
            attempts += 1
            target = layer + 1
            if rng.random() >= NEXT_LAYER_SHARE and layer + 2 <= infra_layer:
                target = int(rng.integers(layer + 2, infra_layer + 1))
            if target == infra_layer and group_ids and rng.random() < 0.08:
                index = int(rng.integers(len(group_ids)))
                key = (int(consumer), regular + index)
                made += add(ids[consumer], group_ids[index], key)
                continue
            provider = pick(target, domain)
            made += add(ids[consumer], ids[provider], (int(consumer), provider))

    service_records: list[dict[str, Any]] = []
    first_front_end: dict[int, int] = {}
    for index, service_id in enumerate(ids):
        domain = int(domain_of[index])
        record: dict[str, Any] = {
            "id": service_id,
            "name": f"{LAYERS[int(layer_of[index])]} service {index}",
            "aliases": [f"{LAYERS[int(layer_of[index])].upper()}{index:05d}PRD"],
            "support_tiers": {
                "Service Desk": "L1",
                f"D{domain:02d} Ops": "L2",
                f"D{domain:02d} Dev": "L3",
            },
        }
        if layer_of[index] == 0 and domain not in first_front_end:
            first_front_end[domain] = index
            record["match"] = {"category": [_domain_category(domain)]}
        service_records.append(record)
    service_records.extend(group_records)

    return {
        "version": 1,
        "business_processes": process_records,
        "services": service_records,
        "dependencies": dependency_records,
        "supports": support_records,
    }


def map_edge_count(records: dict[str, Any]) -> int:
    """Dependencies + supports + redundancy-group memberships of map records."""
    members = sum(len(s.get("members", ())) for s in records["services"])
    return len(records["dependencies"]) + len(records["supports"]) + members


def _passes(members: int, min_up: int) -> bool:
    return members - 1 < min_up


def reach_counts(records: dict[str, Any]) -> dict[str, int]:
    """Number of processes each service (or group) reaches over edges with factor > 0.

    Computed directly from the records (Python int bitsets over the condensation), so it
    does not depend on the engine it is used to check.
    """
    import networkx as nx

    process_ids = [p["id"] for p in records["business_processes"]]
    bit = {process: 1 << index for index, process in enumerate(process_ids)}
    graph = nx.DiGraph()
    graph.add_nodes_from(s["id"] for s in records["services"])
    for service in records["services"]:
        if service.get("kind") == "redundancy_group" and _passes(
            len(service["members"]), service["min_up"]
        ):
            for member in service["members"]:
                graph.add_edge(member, service["id"])
    for dependency in records["dependencies"]:
        graph.add_edge(dependency["to"], dependency["from"])
    direct: dict[str, int] = {}
    for support in records["supports"]:
        direct[support["service"]] = direct.get(support["service"], 0) | bit[support["process"]]
    condensed = nx.condensation(graph)
    reach: dict[int, int] = {}
    for component in reversed(list(nx.topological_sort(condensed))):
        mask = 0
        for member in condensed.nodes[component]["members"]:
            mask |= direct.get(member, 0)
        for successor in condensed.successors(component):
            mask |= reach[successor]
        reach[component] = mask
    mapping = condensed.graph["mapping"]
    return {node: reach[mapping[node]].bit_count() for node in graph.nodes}


def reach_summary(records: dict[str, Any]) -> str:
    """One line: min / median / p90 / max processes reached per service, by layer."""
    counts = reach_counts(records)
    values = np.array(list(counts.values()))
    parts = [_describe_counts("all", values)]
    by_layer: dict[str, list[int]] = {}
    for node, count in counts.items():
        by_layer.setdefault(node.split("-", 1)[0], []).append(count)
    for layer in (*LAYERS, "grp"):
        if layer in by_layer:
            parts.append(_describe_counts(layer, np.array(by_layer[layer])))
    return "processes reached per service (min/median/p90/max): " + "; ".join(parts)


def _describe_counts(label: str, values: np.ndarray) -> str:
    return (
        f"{label} {values.min()}/{np.median(values):g}/{np.percentile(values, 90):g}/{values.max()}"
    )


def _records_key(records: dict[str, Any], n: int, seed: int) -> str:
    text = json.dumps(records, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha1(f"{CSV_FORMAT_VERSION}|{n}|{seed}|{text}".encode()).hexdigest()
    return digest[:12]


def generate_incidents_csv(
    path: str | os.PathLike[str] | None,
    records: dict[str, Any],
    n: int = 1_000_000,
    seed: int = 0,
) -> Path:
    """Write a canonical incident CSV of `n` incidents on the map `records`; return its path.

    `path` is the file to write, or a directory (or None for ``.impactlens/bench/``) in
    which a file named by a hash of the parameters is reused when it already exists.

    Columns: ``incident_id, opened_at, resolved_at, priority, ci, category, subcategory,
    assignment_group``. Incidents open over the year before `INCIDENTS_AS_OF`, sorted by
    ``opened_at``, timestamps like ``2026-09-01T08:15:00Z``; ~2% are still open (empty
    ``resolved_at``). ~80% name their service in ``ci`` by id or alias in varied case;
    the rest have an empty ``ci`` and a category (a domain's, which a match rule may
    resolve, or a generic one).
    """
    target = Path(path) if path is not None else CACHE_DIR
    if path is None or target.is_dir():
        target.mkdir(parents=True, exist_ok=True)
        target = target / f"incidents-{n}-s{seed}-{_records_key(records, n, seed)}.csv"
        if target.is_file():
            return target
    table = _incident_table(records, n, seed)
    import pyarrow.csv as pa_csv

    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + f".{os.getpid()}.partial")
    pa_csv.write_csv(table, partial)
    partial.replace(target)
    return target


def _incident_table(records: dict[str, Any], n: int, seed: int):
    import pyarrow as pa
    import pyarrow.compute as pc

    rng = np.random.default_rng([seed, 1])
    services = [s for s in records["services"] if s.get("kind", "service") == "service"]
    ids = np.array([s["id"] for s in services], dtype=object)
    aliases = np.array([(s.get("aliases") or [s["id"]])[0] for s in services], dtype=object)
    domains = np.array(
        [
            int(s["id"].split("-")[1][1:])
            if s["id"].count("-") >= 2 and s["id"].split("-")[1][1:].isdigit()
            else 0
            for s in services
        ]
    )
    n_domains = int(domains.max()) + 1 if domains.size else 1

    # Which service: skewed, so some services collect many incidents (hotspots).
    weights = rng.lognormal(0.0, 1.2, size=len(services))
    service = rng.choice(len(services), size=n, p=weights / weights.sum())
    has_ci = rng.random(n) < 0.80
    by_alias = rng.random(n) < 0.6
    names = np.where(by_alias, aliases[service], ids[service])
    ci = pa.array(np.where(has_ci, names, None), type=pa.string())
    case = rng.random(n)
    ci = pc.if_else(
        pa.array(case < 0.2),
        pc.utf8_lower(ci),
        pc.if_else(pa.array(case > 0.8), pc.utf8_upper(ci), ci),
    )

    domain = domains[service]
    no_ci_domain = rng.integers(0, n_domains, size=n)
    generic = rng.random(n) < 0.3
    category_text = np.array(
        [_domain_category(d) for d in range(n_domains)] + list(OTHER_CATEGORIES), dtype=object
    )
    category_code = np.where(
        has_ci,
        domain,
        np.where(generic, n_domains + rng.integers(0, len(OTHER_CATEGORIES), size=n), no_ci_domain),
    )
    category = category_text[category_code]
    subcategory = np.array(SUBCATEGORIES, dtype=object)[rng.integers(0, len(SUBCATEGORIES), n)]
    group_names = np.array(
        ["Service Desk"]
        + [f"D{d:02d} Ops" for d in range(n_domains)]
        + [f"D{d:02d} Dev" for d in range(n_domains)],
        dtype=object,
    )
    tier = rng.choice(3, size=n, p=[0.5, 0.35, 0.15])
    group_domain = np.where(has_ci, domain, no_ci_domain)
    group = group_names[
        np.where(tier == 0, 0, np.where(tier == 1, 1 + group_domain, 1 + n_domains + group_domain))
    ]

    year = 365 * 24 * 3600
    opened = np.sort(rng.integers(0, year, size=n))
    duration = np.maximum(60, rng.lognormal(np.log(90 * 60), 1.3, size=n)).astype(np.int64)
    resolved = opened + duration
    still_open = (rng.random(n) < 0.02) | (resolved >= year)
    opened_at = pa.array(INCIDENTS_START + opened.astype("timedelta64[s]"))
    resolved_at = pa.array(INCIDENTS_START + resolved.astype("timedelta64[s]"), mask=still_open)
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    numbers = pc.cast(pa.array(np.arange(1, n + 1)), pa.string())
    incident_id = pc.binary_join_element_wise(
        "INC", pc.utf8_lpad(numbers, width=8, padding="0"), ""
    )
    priority = rng.choice([1, 2, 3, 4, 5], size=n, p=[0.02, 0.08, 0.30, 0.45, 0.15])
    return pa.table(
        {
            "incident_id": incident_id,
            "opened_at": pc.strftime(opened_at, format=stamp),
            "resolved_at": pc.strftime(resolved_at, format=stamp),
            "priority": pa.array(priority, type=pa.int64()),
            "ci": ci,
            "category": pa.array(category, type=pa.string()),
            "subcategory": pa.array(subcategory, type=pa.string()),
            "assignment_group": pa.array(group, type=pa.string()),
        }
    )


def _main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=500)
    parser.add_argument("--edges", type=int, default=30_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(list(argv) if argv is not None else None)
    records = generate_map_records(args.services, args.processes, args.edges, args.seed)
    print(
        f"{len(records['services'])} services, {len(records['business_processes'])} "
        f"processes, {map_edge_count(records)} edges ({len(records['dependencies'])} "
        f"dependencies, {len(records['supports'])} supports)"
    )
    print(reach_summary(records))


if __name__ == "__main__":
    _main()


def generate_random_map_records(
    services: int = 10_000,
    processes: int = 500,
    edges: int = 30_000,
    seed: int = 0,
    *,
    acyclic: bool = False,
) -> dict[str, Any]:
    """A shapeless map for contrast: a uniform random directed graph, no layers, no domains.

    Each dependency joins two random services, and ``services // 2`` random services each
    support one random process. With ``acyclic=False`` (default) the graph has a giant
    strongly connected component (~80% of the services at 3 edges per service), so each
    service reaches most of the graph: the shape on which a search per service is slowest
    (the "41 s" baseline of the notes). With ``acyclic=True`` the consumer is always the
    earlier service of a random order. Real maps (`generate_map_records`) are neither.
    """
    rng = np.random.default_rng([seed, 2])
    ids = [f"svc-{index:05d}" for index in range(services)]
    process_records = [
        {
            "id": f"proc-{index:03d}",
            "criticality": int(rng.integers(1, 5)),
            "value_per_hour": 1000,
            "hours": HOURS[index % len(HOURS)][0],
            "timezone": TIME_ZONES[index % len(TIME_ZONES)],
        }
        for index in range(processes)
    ]
    supporters = rng.choice(services, size=min(services, services // 2), replace=False)
    supports = [
        {"service": ids[int(s)], "process": f"proc-{int(rng.integers(processes)):03d}"}
        for s in supporters
    ]
    seen: set[tuple[int, int]] = set()
    dependencies: list[dict[str, Any]] = []
    budget = max(0, edges - len(supports))
    while len(dependencies) < budget:
        a, b = (int(x) for x in rng.choice(services, size=2, replace=False))
        if acyclic and a > b:
            a, b = b, a
        if (a, b) in seen:
            continue
        seen.add((a, b))
        record: dict[str, Any] = {"from": ids[a], "to": ids[b]}
        if rng.random() < SOFT_SHARE:
            record["weight"] = round(float(rng.uniform(0.2, 0.8)), 2)
        dependencies.append(record)
    return {
        "version": 1,
        "business_processes": process_records,
        "services": [{"id": service_id} for service_id in ids],
        "dependencies": dependencies,
        "supports": supports,
    }
