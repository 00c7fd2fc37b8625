"""Correlation across incidents: group outages and likely common causes.

DESIGN.md, "Impact semantics", last paragraph. Scoring one incident at a time
(`engine.impact`) misses what incidents do together; this module looks at them jointly.
Per-process timelines, which score the group outages found here, are `engine.timelines`.

Group outages (`group_outages`). A redundancy group of ``n`` members with ``min_up``
fails when ``k = n - min_up + 1`` members are down, the rule `engine.exposure` applies to
exposure through a group. A member is down while an incident with severity > 0 is open
directly on it, over ``[opened_at, min(resolved_at or as_of, as_of))``; its severity then
is the largest severity of those incidents. Between consecutive incident endpoints the
group's severity is the k-th largest member severity (0 while fewer than ``k`` members are
down). Each row is a maximal run of such elementary segments with the same severity; it
lists every incident open on a member during it and every member down at some moment.

Likely common causes (`likely_common_causes`). Incidents opened within ``window`` (15
minutes) of each other that have an upstream provider in common, within ``hops`` dependency edges (a service is its own
provider at 0 hops; the graph is followed as it is, so a member of a redundancy group
reaches the group's consumers through the group), are linked; connected components of two
or more incidents are reported with the provider most of them share.

Pure: no I/O, no clock (``as_of`` is a parameter).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from impactlens.engine.columns import require_columns
from impactlens.engine.impact import SCORING_INPUT_COLUMNS, ImpactModel, _node_rows, _severity
from impactlens.engine.intervals import MINUTE, counted_interval, max_over_ranges, utc_stamps
from impactlens.engine.propagation import concatenated_ranges
from impactlens.engine.rates import poisson_tail

from impactlens.errors import InvalidSettingsError

__all__ = [
    "COMMON_CAUSE_COLUMNS",
    "GROUP_OUTAGE_COLUMNS",
    "group_outages",
    "likely_common_causes",
]

GROUP_OUTAGE_COLUMNS = (
    "group_id",
    "start",
    "end",
    "minutes",
    "severity",
    "members_down",
    "incident_ids",
)
COMMON_CAUSE_COLUMNS = (
    "cause_id",
    "provider",
    "incident_ids",
    "services",
    "start",
    "end",
    "incidents",
)
_CAUSE_WINDOW = pd.Timedelta(minutes=15)  # incidents opened this close may share a cause
_MIN_RATE_SPAN_US = 7 * 24 * 60 * MINUTE  # a provider's base rate is taken over a week at least


# --------------------------------------------------------------------------- group outages


def group_outages(
    incidents: pd.DataFrame, model: ImpactModel, *, as_of: pd.Timestamp
) -> pd.DataFrame:
    """Intervals during which redundancy groups were down: ``GROUP_OUTAGE_COLUMNS``.

    Needs ``SCORING_INPUT_COLUMNS``. Only incidents directly on a group's members with
    severity > 0 count; an open incident counts up to `as_of`, nothing after `as_of`
    counts. ``start``/``end`` are UTC timestamps, ``minutes`` real elapsed minutes,
    ``severity`` the group's (the k-th largest member severity), ``members_down`` and
    ``incident_ids`` comma-joined and sorted (the members down and the incidents open on
    members at some moment of the row; a row ends only where the severity changes). Rows are ordered by ``group_id``, then ``start``.

    Examples
    --------
    Two database nodes, either of which is enough (``min_up: 1``); both down together
    for 30 minutes. The group takes the 2nd largest member severity, P2's 0.6:

    >>> from impactlens.service_map.build import build_service_map
    >>> from impactlens.engine.impact import build_impact_model
    >>> m = build_service_map({"version": 1,
    ...     "business_processes": [{"id": "sales", "criticality": 1}],
    ...     "services": [{"id": "db-a"}, {"id": "db-b"}, {"id": "shop"},
    ...         {"id": "db", "kind": "redundancy_group", "members": ["db-a", "db-b"],
    ...          "min_up": 1}],
    ...     "dependencies": [{"from": "shop", "to": "db"}],
    ...     "supports": [{"service": "shop", "process": "sales"}]})
    >>> at = pd.Timestamp("2026-11-02T10:00Z")
    >>> incidents = pd.DataFrame({"incident_id": ["A", "B"],
    ...     "opened_at": [at, at + pd.Timedelta("30min")],
    ...     "resolved_at": [at + pd.Timedelta("2h"), at + pd.Timedelta("1h")],
    ...     "priority": [1, 2], "service_id": ["db-a", "db-b"]})
    >>> out = group_outages(incidents, build_impact_model(m), as_of=at + pd.Timedelta("1D"))
    >>> out.drop(columns=["start", "end"]).to_dict("records")
    [{'group_id': 'db', 'minutes': 30.0, 'severity': 0.6, 'members_down': 'db-a,db-b', 'incident_ids': 'A,B'}]
    """
    require_columns(incidents, SCORING_INPUT_COLUMNS, where="group_outages")
    groups = [
        (service, service.min_up)
        for service in model.service_map.services
        if service.kind == "redundancy_group" and service.members and service.min_up
    ]
    if not groups or incidents.empty:
        return _outage_frame([])
    positions = model.exposure.node_positions
    nodes = _node_rows(incidents["service_id"], model.exposure)
    severity = _severity(incidents["priority"], model)
    start, end = counted_interval(incidents, as_of=as_of)
    # Slot len(nodes) stands for "no node" (-1), so a lookup never wraps around.
    member_slot = np.full(len(model.exposure.nodes) + 1, -1, dtype=np.int64)
    for group, _ in groups:
        member_slot[[positions[m] for m in group.members]] = 0
    candidates = np.flatnonzero((member_slot[nodes] >= 0) & (severity > 0) & (start < end))
    # Ids of the candidates only, indexed by incident row (a million strings cost time).
    identifiers = np.empty(len(incidents), dtype=object)
    identifiers[candidates] = incidents["incident_id"].iloc[candidates].astype("str").to_numpy()
    rows: list[pd.DataFrame] = []
    for group, min_up in groups:
        member_slot[:] = -1
        member_slot[[positions[m] for m in group.members]] = np.arange(len(group.members))
        slot = member_slot[nodes[candidates]]
        mine = candidates[slot >= 0]
        if mine.size:
            rows.append(
                _group_episodes(
                    group.id,
                    group.members,
                    len(group.members) - min_up + 1,
                    slot[slot >= 0],
                    severity[mine],
                    start[mine],
                    end[mine],
                    identifiers[mine],
                )
            )
    return _outage_frame(rows)


def _group_episodes(
    group_id: str,
    members: tuple[str, ...],
    must_fail: int,
    slot: np.ndarray,
    severity: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    identifiers: np.ndarray,
) -> pd.DataFrame:
    """The outage rows of one group from the (non-empty) incidents on its members.

    ``slot`` is each incident's member's position in `members`; `must_fail` is ``k``.
    """
    count = len(members)
    times = np.unique(np.concatenate([start, end]))
    segments = times.size - 1
    left = np.searchsorted(times, start)
    right = np.searchsorted(times, end)
    # One row of leaves per member: member j's segment s is leaf j * segments + s.
    member_level = max_over_ranges(
        count * segments, slot * segments + left, slot * segments + right, severity
    ).reshape(count, segments)
    group_level = np.sort(member_level, axis=0)[count - must_fail]  # the k-th largest
    down = np.flatnonzero(group_level > 0)
    if down.size == 0:
        return _outage_frame([])

    # A row is a run of adjacent segments with one severity; it lists every incident
    # open on a member during it, and every member down at some moment of it.
    level = group_level[down]
    breaks = np.ones(down.size, dtype=bool)
    breaks[1:] = (np.diff(down) != 1) | (level[1:] != level[:-1])
    first = np.flatnonzero(breaks)
    last = np.append(first[1:], down.size) - 1
    run_of_segment = np.full(segments, -1, dtype=np.int64)
    run_of_segment[down] = np.cumsum(breaks) - 1
    spans = right - left
    segment_of = concatenated_ranges(left, spans)
    incident_of = np.repeat(np.arange(left.size), spans)
    run = run_of_segment[segment_of]
    during = run >= 0
    pairs = pd.DataFrame({"run": run[during], "id": identifiers[incident_of[during]]})
    pairs = pairs.drop_duplicates().sort_values(["run", "id"], kind="stable")
    ids = pairs.groupby("run", sort=True)["id"].agg(",".join).reindex(range(first.size))
    start_us, end_us = times[down[first]], times[down[last] + 1]
    names = np.array(members, dtype=object)
    was_down = np.logical_or.reduceat(member_level[:, down] > 0, first, axis=1)
    members_down = [",".join(sorted(names[was_down[:, row]])) for row in range(first.size)]
    return pd.DataFrame(
        {
            "group_id": group_id,
            "start": utc_stamps(start_us),
            "end": utc_stamps(end_us),
            "minutes": (end_us - start_us) / MINUTE,
            "severity": level[first],
            "members_down": members_down,
            "incident_ids": ids.to_numpy(dtype=object),
        }
    )


def _outage_frame(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The groups' rows as one frame in the documented order and types."""
    parts = [part for part in parts if len(part)]
    if not parts:
        empty = utc_stamps(np.zeros(0, dtype=np.int64))
        return pd.DataFrame(
            {
                "group_id": pd.array([], dtype="str"),
                "start": empty,
                "end": empty,
                "minutes": np.zeros(0),
                "severity": np.zeros(0),
                "members_down": pd.array([], dtype="str"),
                "incident_ids": pd.array([], dtype="str"),
            }
        )
    frame = pd.concat(parts, ignore_index=True)
    frame = frame.sort_values(["group_id", "start"], kind="stable", ignore_index=True)
    for column in ("group_id", "members_down", "incident_ids"):
        frame[column] = frame[column].astype("str")
    return frame[list(GROUP_OUTAGE_COLUMNS)]


# --------------------------------------------------------------------------- common causes


def likely_common_causes(
    incidents: pd.DataFrame,
    model: ImpactModel,
    *,
    as_of: pd.Timestamp,
    hops: int = 2,
    window: pd.Timedelta = _CAUSE_WINDOW,
    alpha: float = 0.01,
) -> pd.DataFrame:
    """Groups of incidents that are likely one cause: ``COMMON_CAUSE_COLUMNS``.

    Two mapped incidents are linked when they were opened within `window` of each other
    (so their intervals overlap) and some node is upstream of both within `hops` edges
    (edges among services and groups, provider to consumer; a service is its own
    provider at 0 hops). Opening together, not merely being open together, is what
    suggests one cause: a long-open incident overlaps hundreds of unrelated ones, and
    linking on overlap chains a busy week into a single "cause". And a burst counts only
    when it is more than chance: a provider with many services under it sees incidents
    opened close together every day, so its cluster of ``c`` incidents opened over ``d``
    is kept when ``P(Poisson(rate x (d + window)) >= c) < alpha``, the rate being its
    downstream incidents per unit of time over the span of the data (at least a week). A cause is a connected component of two or more incidents. ``provider`` is
    the provider shared by the most of its incidents (ties: the smallest total hops,
    then the name); ``incident_ids`` and ``services`` are comma-joined and sorted;
    ``start``/``end`` span the incidents' counted intervals; ``cause_id`` counts from 1
    in order of ``start``.

    Examples
    --------
    A shop and a back office both use the payments API; their incidents open 10 minutes
    apart:

    >>> from impactlens.service_map.build import build_service_map
    >>> from impactlens.engine.impact import build_impact_model
    >>> m = build_service_map({"version": 1,
    ...     "business_processes": [{"id": "sales", "criticality": 1}],
    ...     "services": [{"id": "pay"}, {"id": "shop"}, {"id": "office"}],
    ...     "dependencies": [{"from": "shop", "to": "pay"}, {"from": "office", "to": "pay"}],
    ...     "supports": [{"service": "shop", "process": "sales"}]})
    >>> at = pd.Timestamp("2026-11-02T10:00Z")
    >>> incidents = pd.DataFrame({"incident_id": ["A", "B"],
    ...     "opened_at": [at, at + pd.Timedelta("10min")],
    ...     "resolved_at": [at + pd.Timedelta("1h"), at + pd.Timedelta("2h")],
    ...     "priority": [2, 3], "service_id": ["shop", "office"]})
    >>> out = likely_common_causes(incidents, build_impact_model(m), as_of=at + pd.Timedelta("1D"))
    >>> out.drop(columns=["start", "end"]).to_dict("records")
    [{'cause_id': 1, 'provider': 'pay', 'incident_ids': 'A,B', 'services': 'office,shop', 'incidents': 2}]
    """
    require_columns(incidents, SCORING_INPUT_COLUMNS, where="likely_common_causes")
    if hops < 0:
        raise InvalidSettingsError(f"hops must be 0 or more, got {hops}")
    exposure = model.exposure
    nodes = _node_rows(incidents["service_id"], exposure)
    start, end = counted_interval(incidents, as_of=as_of)
    is_process = np.zeros(len(exposure.nodes) + 1, dtype=bool)  # the last slot: no node
    is_process[[exposure.node_positions[p] for p in exposure.processes]] = True
    is_process[-1] = True
    kept = np.flatnonzero(~is_process[nodes] & (start < end))
    if kept.size < 2:
        return _cause_frame(None)
    node, start, end = nodes[kept], start[kept], end[kept]

    # (incident, provider) pairs.
    ancestor_start, ancestor, ancestor_hops = _upstream(model, hops)
    shared = ancestor_start[node + 1] - ancestor_start[node]
    pair_incident = np.repeat(np.arange(kept.size), shared)
    pair_entry = concatenated_ranges(ancestor_start[node], shared)
    pair_provider = ancestor[pair_entry]

    # Per provider, its incidents by opening time: a new cluster begins where an incident
    # opens more than `window` after the one before it (of that provider). Times become
    # ranks, so provider * span + rank orders by provider, then time, without overflow.
    times, rank = np.unique(start, return_inverse=True)
    order = np.argsort(pair_provider * times.size + rank[pair_incident], kind="stable")
    provider_sorted = pair_provider[order]
    opened_sorted = start[pair_incident[order]]
    new = np.ones(order.size, dtype=bool)
    new[1:] = (provider_sorted[1:] != provider_sorted[:-1]) | (
        np.diff(opened_sorted) > int(window.total_seconds() * 1_000_000)
    )
    cluster = np.cumsum(new) - 1
    # A cluster is more than chance when a Poisson count at the provider's own rate of
    # downstream incidents (over the data's span, at least a week) rarely reaches its size
    # within its span plus the window.
    window_us = int(window.total_seconds() * 1_000_000)
    span_us = max(int(start.max() - start.min()), _MIN_RATE_SPAN_US)
    rate = np.bincount(pair_provider, minlength=len(exposure.nodes)) / span_us
    first, last = np.flatnonzero(new), np.append(np.flatnonzero(new)[1:], order.size) - 1
    cluster_size = last - first + 1
    expected = rate[provider_sorted[first]] * (
        opened_sorted[last] - opened_sorted[first] + window_us
    )
    unlikely = (cluster_size >= 2) & (poisson_tail(cluster_size, expected) < alpha)
    linked = unlikely[cluster]
    if not linked.any():
        return _cause_frame(None)
    head = pair_incident[order[first]]
    component = _components(kept.size, pair_incident[order][linked], head[cluster][linked])
    in_cluster = np.zeros(kept.size, dtype=bool)
    in_cluster[pair_incident[order][linked]] = True

    size = np.bincount(component, minlength=kept.size)
    chosen = in_cluster & (size[component] >= 2)
    if not chosen.any():
        return _cause_frame(None)
    names = np.array(exposure.nodes, dtype=object)
    name_rank = np.empty(len(names), dtype=np.int64)
    name_rank[np.argsort(names.astype(str), kind="stable")] = np.arange(len(names))
    # Each cause's provider: shared by the most incidents, then fewest hops, then name.
    in_cause = np.zeros(order.size, dtype=bool)
    in_cause[order[linked]] = True
    votes = (
        pd.DataFrame(
            {
                "component": component[pair_incident[in_cause]],
                "provider": pair_provider[in_cause],
                "hops": ancestor_hops[pair_entry[in_cause]],
            }
        )
        .groupby(["component", "provider"], sort=False)
        .agg(incidents=("hops", "size"), hops=("hops", "sum"))
        .reset_index()
    )
    votes["name_rank"] = name_rank[votes["provider"].to_numpy()]
    votes = votes.sort_values(
        ["component", "incidents", "hops", "name_rank"], ascending=[True, False, True, True]
    ).drop_duplicates("component")
    provider_of = dict(zip(votes["component"], names[votes["provider"].to_numpy()], strict=True))

    members = pd.DataFrame(
        {
            "component": component[chosen],
            "incident_id": incidents["incident_id"].iloc[kept[chosen]].astype("str").to_numpy(),
            "service": names[node[chosen]],
            "start": start[chosen],
            "end": end[chosen],
        }
    )
    causes = members.groupby("component", sort=False).agg(
        incident_ids=("incident_id", lambda ids: ",".join(sorted(ids))),
        services=("service", lambda services: ",".join(sorted(set(services)))),
        start=("start", "min"),
        end=("end", "max"),
        incidents=("incident_id", "size"),
    )
    causes["provider"] = [provider_of[c] for c in causes.index]
    return _cause_frame(causes)


def _cause_frame(causes: pd.DataFrame | None) -> pd.DataFrame:
    """Causes numbered in order of start, in the documented columns and types."""
    if causes is None or causes.empty:
        empty = utc_stamps(np.zeros(0, dtype=np.int64))
        return pd.DataFrame(
            {
                "cause_id": np.zeros(0, dtype=np.int64),
                "provider": pd.array([], dtype="str"),
                "incident_ids": pd.array([], dtype="str"),
                "services": pd.array([], dtype="str"),
                "start": empty,
                "end": empty,
                "incidents": np.zeros(0, dtype=np.int64),
            }
        )
    causes = causes.sort_values(["start", "provider", "incident_ids"], ignore_index=True)
    return pd.DataFrame(
        {
            "cause_id": np.arange(1, len(causes) + 1, dtype=np.int64),
            "provider": causes["provider"].astype("str"),
            "incident_ids": causes["incident_ids"].astype("str"),
            "services": causes["services"].astype("str"),
            "start": utc_stamps(causes["start"].to_numpy(dtype=np.int64)),
            "end": utc_stamps(causes["end"].to_numpy(dtype=np.int64)),
            "incidents": causes["incidents"].to_numpy(dtype=np.int64),
        }
    )


def _upstream(model: ImpactModel, hops: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every node's providers within `hops` edges (itself at 0), as compressed rows.

    Node ``n``'s providers are ``ancestor[start[n]:start[n + 1]]``, with the fewest
    edges to each in ``hop_count``. Only edges between non-process nodes count. One
    vectorised step per hop, over all nodes at once.
    """
    exposure = model.exposure
    count = len(exposure.nodes)
    position = exposure.node_positions
    kinds = {node: data.get("kind") for node, data in model.graph.nodes(data=True)}
    links = np.array(
        [
            (position[provider], position[consumer])
            for provider, consumer in model.graph.edges
            if kinds[provider] != "process" and kinds[consumer] != "process"
        ],
        dtype=np.int64,
    ).reshape(-1, 2)
    links = links[np.argsort(links[:, 1], kind="stable")]  # grouped by consumer
    link_start = np.searchsorted(links[:, 1], np.arange(count + 1))
    services = np.array(
        [index for index, node in enumerate(exposure.nodes) if kinds[node] != "process"],
        dtype=np.int64,
    )
    found_node, found_provider = [services], [services]
    found_hops = [np.zeros(services.size, dtype=np.int64)]
    seen = services * count + services
    frontier_node, frontier_provider = services, services
    for hop in range(1, hops + 1):
        fan = link_start[frontier_provider + 1] - link_start[frontier_provider]
        keys = np.unique(
            np.repeat(frontier_node, fan) * count
            + links[concatenated_ranges(link_start[frontier_provider], fan), 0]
        )
        keys = keys[~np.isin(keys, seen)]
        if keys.size == 0:
            break
        seen = np.union1d(seen, keys)
        frontier_node, frontier_provider = keys // count, keys % count
        found_node.append(frontier_node)
        found_provider.append(frontier_provider)
        found_hops.append(np.full(keys.size, hop, dtype=np.int64))
    node = np.concatenate(found_node)
    order = np.argsort(node, kind="stable")
    start = np.searchsorted(node[order], np.arange(count + 1))
    return start, np.concatenate(found_provider)[order], np.concatenate(found_hops)[order]


def _components(count: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected components of ``count`` items linked by pairs ``(a[i], b[i])``: each
    item's label is the smallest item of its component.

    Union-find for all links at once: hook the larger root of each link that joins two
    trees under the smaller, then jump pointers until every item points at its root;
    repeat until no link joins two trees.

    >>> _components(5, np.array([0, 3, 4]), np.array([1, 4, 1])).tolist()
    [0, 0, 2, 0, 0]
    """
    label = np.arange(count)
    while True:
        root_a, root_b = label[a], label[b]
        differ = root_a != root_b
        if not differ.any():
            return label
        lower = np.minimum(root_a[differ], root_b[differ])
        np.minimum.at(label, root_a[differ], lower)
        np.minimum.at(label, root_b[differ], lower)
        while True:
            jumped = label[label]
            if np.array_equal(jumped, label):
                break
            label = jumped
