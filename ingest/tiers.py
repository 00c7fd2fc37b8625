"""Support tiers (L1, L2, L3): of each assignment, and the highest each incident reached.

The tier of an assignment comes from the first rule that knows it:

1. ``explicit``: the source said so (a tier column, a PagerDuty escalation level);
2. ``service map``: the map's ``support_tiers`` name the group (case-insensitive; a
   group two services rank differently counts at its higher tier);
3. ``group name``: a pattern on the group's name, e.g. ``2nd line`` or ``L3 Payments``;
4. ``reassignment``: with none of these, an incident reassigned away from its first
   group counts as escalated (L2), otherwise L1. This is the stated fallback: it cannot
   tell L2 from L3.

An incident's tier is the highest of its assignments' tiers (or the tier the source gave
the incident itself); `assign_support_tiers` also says which rule decided each incident.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace

import numpy as np
import pandas as pd
from impactlens.ingest.batch import IngestBatch
from impactlens.service_map.model import ServiceMap

__all__ = ["DEFAULT_TIER_PATTERNS", "TIER_RULES", "assign_support_tiers", "tier_rule_counts"]

TIER_RULES = ("explicit", "service map", "group name", "reassignment")
# Checked from the highest tier down: "L3 escalation from 2nd line" is L3.
DEFAULT_TIER_PATTERNS: Mapping[str, str] = {
    "L3": r"(?i)(\b(3rd|third)[ -]?(line|level|tier)\b|\bL3\b|\btier ?3\b|\blevel ?3\b)",
    "L2": r"(?i)(\b(2nd|second)[ -]?(line|level|tier)\b|\bL2\b|\btier ?2\b|\blevel ?2\b)",
    "L1": r"(?i)(\b(1st|first)[ -]?(line|level|tier)\b|\bL1\b|\btier ?1\b|\blevel ?1\b"
    r"|\bservice ?desk\b|\bhelp ?desk\b)",
}
_RANK = {"L1": 1, "L2": 2, "L3": 3}
_TIER = np.array([pd.NA, "L1", "L2", "L3"], dtype=object)


def assign_support_tiers(
    batch: IngestBatch,
    *,
    service_map: ServiceMap | None = None,
    patterns: Mapping[str, str] = DEFAULT_TIER_PATTERNS,
) -> tuple[IngestBatch, pd.Series]:
    """Fill ``support_tier`` in the history and the incidents; count the deciding rules.

    Returns the new batch and, per incident (indexed like ``batch.incidents``), the rule
    that decided its tier (one of `TIER_RULES`).

    Examples
    --------
    >>> from impactlens.ingest.batch import empty_batch
    >>> base = empty_batch()
    >>> history = pd.DataFrame({"source": "t", "incident_id": ["A", "A", "B", "B"],
    ...     "at": pd.to_datetime(["2026-11-02 09:00"] * 4, utc=True),
    ...     "assignment_group": ["Service Desk", "Network 2nd line", "Desk", "Apps"],
    ...     "support_tier": pd.array([pd.NA] * 4, dtype="string")})
    >>> incidents = base.incidents.reindex(range(2)).assign(
    ...     source="t", incident_id=["A", "B"], reassignment_count=[1, 1])
    >>> batch, rules = assign_support_tiers(IngestBatch(incidents, history, base.rejected))
    >>> batch.incidents["support_tier"].tolist(), rules.tolist()
    (['L2', 'L2'], ['group name', 'reassignment'])
    """
    history = batch.history
    tier_rank, rule = _history_tiers(history, service_map, patterns)
    key = history["source"].astype("string") + "\x1f" + history["incident_id"].astype("string")
    by_incident = pd.DataFrame({"key": key.to_numpy(), "rank": tier_rank, "rule": rule})
    best = by_incident.sort_values("rank", kind="stable").groupby("key").tail(1).set_index("key")

    incidents = batch.incidents
    incident_key = (
        incidents["source"].astype("string") + "\x1f" + incidents["incident_id"].astype("string")
    ).to_numpy()
    explicit = _ranks(incidents["support_tier"])
    from_history = best["rank"].reindex(incident_key).fillna(0).to_numpy(dtype=np.int64)
    history_rule = best["rule"].reindex(incident_key).to_numpy(dtype=object)

    groups_seen = history.groupby(key.to_numpy())["assignment_group"].nunique()
    moved = groups_seen.reindex(incident_key).fillna(0).to_numpy() > 1
    if "reassignment_count" in incidents.columns:
        moved |= pd.to_numeric(incidents["reassignment_count"]).fillna(0).to_numpy() > 0
    fallback = np.where(moved, _RANK["L2"], _RANK["L1"])

    rank = np.where(explicit > 0, explicit, np.where(from_history > 0, from_history, fallback))
    deciding = np.where(
        explicit > 0, "explicit", np.where(from_history > 0, history_rule, "reassignment")
    )
    new_incidents = incidents.assign(support_tier=pd.array(_TIER[rank], dtype="string"))
    new_history = history.assign(support_tier=pd.array(_TIER[tier_rank], dtype="string"))
    return (
        replace(batch, incidents=new_incidents, history=new_history),
        pd.Series(deciding, index=incidents.index, name="tier_rule"),
    )


def tier_rule_counts(rules: pd.Series) -> dict[str, int]:
    """How many incidents each rule decided, in `TIER_RULES` order, zeros included."""
    counts = rules.value_counts()
    return {rule: int(counts.get(rule, 0)) for rule in TIER_RULES}


def _history_tiers(
    history: pd.DataFrame, service_map: ServiceMap | None, patterns: Mapping[str, str]
) -> tuple[np.ndarray, np.ndarray]:
    """Tier rank (0 = unknown) and deciding rule of each assignment."""
    explicit = _ranks(history["support_tier"])
    rank = explicit.copy()
    rule = np.where(explicit > 0, "explicit", None).astype(object)
    codes, groups = pd.factorize(history["assignment_group"].astype("string").str.strip())
    named = _tiers_from_map(service_map)
    compiled = [(tier, re.compile(pattern)) for tier, pattern in patterns.items()]
    group_rank = np.zeros(len(groups) + 1, dtype=np.int64)
    group_rule = np.full(len(groups) + 1, None, dtype=object)
    for index, group in enumerate(groups):
        if group.lower() in named:
            group_rank[index], group_rule[index] = _RANK[named[group.lower()]], "service map"
            continue
        for tier, pattern in sorted(compiled, key=lambda item: -_RANK[item[0]]):
            if pattern.search(group):
                group_rank[index], group_rule[index] = _RANK[tier], "group name"
                break
    unknown = rank == 0
    at = np.where(codes >= 0, codes, len(groups))
    rank[unknown] = group_rank[at[unknown]]
    rule[unknown] = group_rule[at[unknown]]
    return rank, rule


def _tiers_from_map(service_map: ServiceMap | None) -> dict[str, str]:
    named: dict[str, str] = {}
    for service in service_map.services if service_map else ():
        for group, tier in service.support_tiers.items():
            key = group.strip().lower()
            if _RANK[tier] > _RANK.get(named.get(key, ""), 0):
                named[key] = tier
    return named


def _ranks(tiers: pd.Series) -> np.ndarray:
    """1-3 for L1-L3 (case-insensitive), 0 for missing or anything else."""
    text = tiers.astype("string").str.strip().str.upper()
    return text.map(_RANK).fillna(0).to_numpy(dtype=np.int64)
