"""Support tiers (L1, L2, L3): of each assignment, and the highest each incident reached.

The store keeps what the source said (the assignment groups, and a tier only where the
source names one); the tiers are derived here, at analysis, from one map version, so an
incident's tier never depends on which map happened to be given when it was ingested.
The tier of an assignment comes from the first rule that knows it:

1. ``explicit``: the source said so (a tier column, a PagerDuty escalation level);
2. ``service map``: the map's ``support_tiers`` name the group (case-insensitive; a
   group two services rank differently counts at its higher tier);
3. ``group name``: a pattern on the group's name, e.g. ``2nd line`` or ``L3 Payments``;
4. ``reassignment``: with none of these, an incident reassigned away from its first
   group counts as escalated (L2), otherwise L1. This is the stated fallback: it cannot
   tell L2 from L3.

An incident's tier is the tier the source gave the incident itself, else the highest of
its assignments' tiers, else the fallback. Pure: frames in, arrays out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import numpy.typing as npt
import pandas as pd
from impactlens.engine.columns import require_columns
from impactlens.engine.keys import incident_positions
from impactlens.service_map.model import ServiceMap

__all__ = [
    "DEFAULT_TIER_PATTERNS",
    "TIERS",
    "TIER_RANK",
    "TIER_RULES",
    "SupportTiers",
    "support_tiers",
    "tier_ranks",
]

TIERS = ("L1", "L2", "L3")
TIER_RANK: Mapping[str, int] = MappingProxyType({tier: rank for rank, tier in enumerate(TIERS, 1)})
TIER_RULES = ("explicit", "service map", "group name", "reassignment")
# Checked from the highest tier down: "L3 escalation from 2nd line" is L3.
DEFAULT_TIER_PATTERNS: Mapping[str, str] = MappingProxyType(
    {
        "L3": r"(?i)(\b(3rd|third)[ -]?(line|level|tier)\b|\bL3\b|\btier ?3\b|\blevel ?3\b)",
        "L2": r"(?i)(\b(2nd|second)[ -]?(line|level|tier)\b|\bL2\b|\btier ?2\b|\blevel ?2\b)",
        "L1": r"(?i)(\b(1st|first)[ -]?(line|level|tier)\b|\bL1\b|\btier ?1\b|\blevel ?1\b"
        r"|\bservice ?desk\b|\bhelp ?desk\b)",
    }
)
_NAMES = np.array([None, *TIERS], dtype=object)  # by rank; 0 is unknown
_EXPLICIT, _MAP, _NAME, _FALLBACK = range(len(TIER_RULES))


@dataclass(frozen=True)
class SupportTiers:
    """The derived tiers: per incident (``incident_tier``, ``incident_rule``) and per
    assignment row (``assignment_tier``; missing where no rule names one).

    Tiers are text (``L1``..``L3``, nullable), rules one of `TIER_RULES`.
    """

    incident_tier: pd.Series
    incident_rule: pd.Series
    assignment_tier: pd.Series

    def rule_counts(self) -> dict[str, int]:
        """How many incidents each rule decided, in `TIER_RULES` order, zeros included."""
        counts = self.incident_rule.value_counts()
        return {rule: int(counts.get(rule, 0)) for rule in TIER_RULES}


def tier_ranks(tiers: pd.Series) -> np.ndarray:
    """1-3 for L1-L3 (case-insensitive, spaces ignored), 0 for missing or anything else.

    >>> tier_ranks(pd.Series(["L2", " l3 ", None, "gold"])).tolist()
    [2, 3, 0, 0]
    """
    codes, uniques = pd.factorize(tiers.astype("string"), use_na_sentinel=True)
    ranks = [TIER_RANK.get(str(value).strip().upper(), 0) for value in uniques]
    return np.array([*ranks, 0], dtype=np.int64)[np.where(codes >= 0, codes, len(uniques))]


def support_tiers(
    incidents: pd.DataFrame,
    history: pd.DataFrame,
    *,
    service_map: ServiceMap | None = None,
    patterns: Mapping[str, str] = DEFAULT_TIER_PATTERNS,
) -> SupportTiers:
    """Each incident's support tier and the rule that decided it (see the module text).

    `incidents` need ``source``, ``incident_id`` and ``support_tier`` (the source's own,
    usually missing), and use ``reassignment_count`` when present. `history` needs
    ``source``, ``incident_id``, ``assignment_group`` and ``support_tier`` (again the
    source's own). `patterns` map a tier to a regular expression on group names.

    Examples
    --------
    >>> incidents = pd.DataFrame({"source": "t", "incident_id": ["A", "B"],
    ...     "support_tier": [None, None], "reassignment_count": [1, 1]})
    >>> history = pd.DataFrame({"source": "t", "incident_id": ["A", "A", "B", "B"],
    ...     "assignment_group": ["Service Desk", "Network 2nd line", "Desk", "Apps"],
    ...     "support_tier": [None] * 4})
    >>> tiers = support_tiers(incidents, history)
    >>> tiers.incident_tier.tolist(), tiers.incident_rule.tolist()
    (['L2', 'L2'], ['group name', 'reassignment'])
    """
    require_columns(incidents, ("source", "incident_id", "support_tier"), where="support_tiers")
    require_columns(
        history,
        ("source", "incident_id", "assignment_group", "support_tier"),
        where="support_tiers history",
    )
    rank, rule = _assignment_tiers(history, service_map, patterns)
    count = len(incidents)
    owner = incident_positions(history, incidents)
    known = owner >= 0

    # The highest tier an incident's assignments reached, and the rule of that assignment
    # (the last assignment of that tier, in history order).
    reached = np.zeros(count, dtype=np.int64)
    np.maximum.at(reached, owner[known], rank[known])
    reached_rule = np.full(count, _FALLBACK, dtype=np.int64)
    top = np.flatnonzero(known & (rank > 0))
    top = top[rank[top] == reached[owner[top]]]
    reached_rule[owner[top]] = rule[top]  # repeated positions: the last write wins

    groups, _ = pd.factorize(history["assignment_group"].astype("string").str.strip())
    moved = _distinct_groups(owner[known], groups[known], count)
    if "reassignment_count" in incidents.columns:
        counted = pd.to_numeric(incidents["reassignment_count"]).fillna(0).to_numpy()
        moved |= counted > 0
    fallback = np.where(moved, TIER_RANK["L2"], TIER_RANK["L1"])

    explicit = tier_ranks(incidents["support_tier"])
    incident_rank = np.where(explicit > 0, explicit, np.where(reached > 0, reached, fallback))
    incident_rule = np.where(
        explicit > 0, _EXPLICIT, np.where(reached > 0, reached_rule, _FALLBACK)
    )
    rules = pd.array(list(TIER_RULES), dtype="string")
    return SupportTiers(
        incident_tier=pd.Series(_text(incident_rank), index=incidents.index, name="support_tier"),
        incident_rule=pd.Series(rules.take(incident_rule), index=incidents.index, name="tier_rule"),
        assignment_tier=pd.Series(_text(rank), index=history.index, name="support_tier"),
    )


def _assignment_tiers(
    history: pd.DataFrame, service_map: ServiceMap | None, patterns: Mapping[str, str]
) -> tuple[np.ndarray, np.ndarray]:
    """Tier rank (0 = unknown) and deciding rule of each assignment row.

    The map and the patterns are tried once per distinct group name, not per row.
    """
    rank = tier_ranks(history["support_tier"])
    rule = np.where(rank > 0, _EXPLICIT, _FALLBACK)
    codes, groups = pd.factorize(history["assignment_group"].astype("string").str.strip())
    named = _tiers_from_map(service_map)
    compiled = sorted(
        ((TIER_RANK[tier], re.compile(pattern)) for tier, pattern in patterns.items()),
        key=lambda item: -item[0],
    )
    group_rank = np.zeros(len(groups) + 1, dtype=np.int64)
    group_rule = np.full(len(groups) + 1, _FALLBACK, dtype=np.int64)
    for index, group in enumerate(groups):
        if str(group).lower() in named:
            group_rank[index], group_rule[index] = named[str(group).lower()], _MAP
            continue
        for tier_rank, pattern in compiled:
            if pattern.search(str(group)):
                group_rank[index], group_rule[index] = tier_rank, _NAME
                break
    unknown = rank == 0
    at = np.where(codes >= 0, codes, len(groups))[unknown]
    rank[unknown] = group_rank[at]
    rule[unknown] = group_rule[at]
    return rank, rule


def _tiers_from_map(service_map: ServiceMap | None) -> dict[str, int]:
    """Group name (lowercased) -> the highest rank any service of the map gives it."""
    named: dict[str, int] = {}
    for service in service_map.services if service_map else ():
        for group, tier in service.support_tiers.items():
            key = group.strip().lower()
            named[key] = max(named.get(key, 0), TIER_RANK[tier])
    return named


def _distinct_groups(owner: np.ndarray, groups: np.ndarray, count: int) -> np.ndarray:
    """Whether each incident position was assigned to more than one group (codes >= 0).

    Two groups or more exactly when the smallest and largest group code differ: two
    grouped reductions, no sort.
    """
    keep = groups >= 0
    owner, groups = owner[keep], groups[keep]
    lowest = np.full(count, np.iinfo(np.int64).max, dtype=np.int64)
    highest = np.full(count, -1, dtype=np.int64)
    np.minimum.at(lowest, owner, groups)
    np.maximum.at(highest, owner, groups)
    moved: np.ndarray = (highest >= 0) & (lowest != highest)
    return moved


def _text(ranks: np.ndarray) -> pd.api.extensions.ExtensionArray:
    names: npt.NDArray[np.object_] = _NAMES[ranks]
    return pd.array(names, dtype="string")
