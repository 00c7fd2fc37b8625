"""Support tiers (L1, L2, L3): of each assignment, and the highest each incident reached.

The store keeps what the source said (the assignment groups, and a tier only where the
source names one); the tiers are derived here, at analysis, from one map version, so an
incident's tier never depends on which map happened to be given when it was ingested.
The tier of an assignment comes from the first rule that knows it:

1. ``explicit``: the source said so (a tier column, a PagerDuty escalation level);
2. ``service map``: the map's ``support_tiers`` name the group (case-insensitive; a
   group two services rank differently counts at its higher tier);
3. ``group name``: the first of an ordered list of (tier, regular expression) patterns
   that matches the group's name. The built-in list, highest tier first (so a name that
   carries two tiers, ``L1 2nd``, takes the higher), knows the forms real exports use:
   ``2nd``/``3rd``/``1st`` as a word anywhere (``G230 2nd``, ``V5 3rd``), ``second line``,
   ``third level``, ``L2``, ``Tier 3``, ``level 2``, ``service desk``, ``help desk``;
4. ``reassignment``: with none of these, an incident reassigned away from its first
   group counts as escalated (L2), otherwise L1. This is the stated fallback: it cannot
   tell L2 from L3.

An incident's tier is the tier the source gave the incident itself, else the highest of
its assignments' tiers, else the fallback. Pure: frames in, arrays out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import numpy.typing as npt
import pandas as pd
from impactlens.engine.columns import require_columns
from impactlens.engine.keys import incident_positions
from impactlens.service_map.model import ServiceMap

from impactlens.errors import InvalidSettingsError

__all__ = [
    "DEFAULT_TIER_PATTERNS",
    "TIERS",
    "TIER_RANK",
    "TIER_RULES",
    "SupportTiers",
    "TierPattern",
    "group_name_tiers",
    "support_tiers",
    "tier_patterns",
    "tier_ranks",
]

TIERS = ("L1", "L2", "L3")
TIER_RANK: Mapping[str, int] = MappingProxyType({tier: rank for rank, tier in enumerate(TIERS, 1)})
TIER_RULES = ("explicit", "service map", "group name", "reassignment")
TierPattern = tuple[str, str]  # (tier, regular expression on a group name)
# Ordered: the first that matches places the group. Highest tier first, so "L3 escalation
# from 2nd line" is L3 and "L1 2nd" is L2. "third"/"second"/"first" only with line,
# level or tier ("Third party" is no tier); the ordinals as a word anywhere.
DEFAULT_TIER_PATTERNS: tuple[TierPattern, ...] = (
    ("L3", r"(?i)\b3rd\b|\bthird[ -]?(line|level|tier)\b|\bL3\b|\btier[ -]?3\b|\blevel[ -]?3\b"),
    ("L2", r"(?i)\b2nd\b|\bsecond[ -]?(line|level|tier)\b|\bL2\b|\btier[ -]?2\b|\blevel[ -]?2\b"),
    ("L1", r"(?i)\b1st\b|\bfirst[ -]?(line|level|tier)\b|\bL1\b|\btier[ -]?1\b|\blevel[ -]?1\b"
     r"|\bservice[ -]?desk\b|\bhelp[ -]?desk\b"),
)  # fmt: skip
_NAMES = np.array([None, *TIERS], dtype=object)  # by rank; 0 is unknown
_EXPLICIT, _MAP, _NAME, _FALLBACK = range(len(TIER_RULES))


@dataclass(frozen=True)
class SupportTiers:
    """The derived tiers: per incident (``incident_tier``, ``incident_rule``), per
    assignment row (``assignment_tier``; missing where no rule names one), and per
    assignment group (``groups``: ``group, tier, rule, incidents``, the incidents it
    handled; ``rule`` is missing for a group no rule places; most incidents first).

    Tiers are text (``L1``..``L3``, nullable), rules one of `TIER_RULES`.
    """

    incident_tier: pd.Series
    incident_rule: pd.Series
    assignment_tier: pd.Series
    groups: pd.DataFrame
    rule_incidents: Mapping[str, int]

    def rule_counts(self) -> dict[str, int]:
        """How many incidents each rule decided, in `TIER_RULES` order, zeros included."""
        counts = self.incident_rule.value_counts()
        return {rule: int(counts.get(rule, 0)) for rule in TIER_RULES}

    def group_rule_counts(self) -> dict[str, tuple[int, int]]:
        """Per rule that places groups (explicit, service map, group name): how many
        groups it placed, and how many incidents had an assignment it placed."""
        return {
            rule: (int((self.groups["rule"] == rule).sum()), int(self.rule_incidents[rule]))
            for rule in TIER_RULES[:-1]
        }

    def unplaced_groups(self, top: int = 5) -> list[tuple[str, int]]:
        """The groups no rule placed that handled the most incidents, with that count."""
        unplaced = self.groups[self.groups["rule"].isna()].head(top)
        return [
            (str(g), int(n)) for g, n in zip(unplaced["group"], unplaced["incidents"], strict=True)
        ]


def tier_patterns(patterns: object) -> tuple[TierPattern, ...]:
    """Checked (tier, regular expression) pairs from a list of pairs or of
    ``{"tier": ..., "pattern": ...}`` tables (as settings and mapping files write them).

    Raises `InvalidSettingsError` naming the entry and the problem.

    >>> tier_patterns([["l2", "(?i)ops"], {"tier": "L3", "pattern": "dev"}])
    (('L2', '(?i)ops'), ('L3', 'dev'))
    """
    if isinstance(patterns, Mapping) or not isinstance(patterns, list | tuple):
        raise InvalidSettingsError(
            "tier patterns must be a list of [tier, pattern] pairs (or tables with tier and "
            "pattern), checked in order"
        )
    checked = []
    for place, entry in enumerate(patterns):
        if isinstance(entry, Mapping):
            entry = (entry.get("tier"), entry.get("pattern"))
        if not isinstance(entry, list | tuple) or len(entry) != 2:
            raise InvalidSettingsError(f"tier pattern [{place}]: expected [tier, pattern]")
        tier, pattern = (str(part) if part is not None else "" for part in entry)
        if tier.strip().upper() not in TIERS:
            raise InvalidSettingsError(
                f"tier pattern [{place}]: {tier!r} is not a support tier ({', '.join(TIERS)})"
            )
        try:
            re.compile(pattern)
        except re.error as error:
            raise InvalidSettingsError(
                f"tier pattern [{place}]: {pattern!r} is not a regular expression ({error})"
            ) from None
        checked.append((tier.strip().upper(), pattern))
    return tuple(checked)


def group_name_tiers(
    groups: pd.Series, patterns: Sequence[TierPattern] = DEFAULT_TIER_PATTERNS
) -> np.ndarray:
    """The tier rank (1-3; 0 where none) the first matching pattern gives each group name.

    Tried once per distinct name.

    >>> group_name_tiers(pd.Series(["G230 2nd", "V5 3rd", "L1 2nd", "Tier3x", None]))
    array([2, 3, 2, 0, 0])
    """
    codes, names = pd.factorize(groups.astype("string").str.strip())
    compiled = [(TIER_RANK[tier], re.compile(pattern)) for tier, pattern in patterns]
    ranks = np.zeros(len(names) + 1, dtype=np.int64)
    for index, name in enumerate(names):
        ranks[index] = next((rank for rank, rule in compiled if rule.search(str(name))), 0)
    return ranks[np.where(codes >= 0, codes, len(names))]


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
    patterns: Sequence[TierPattern] = DEFAULT_TIER_PATTERNS,
) -> SupportTiers:
    """Each incident's support tier and the rule that decided it (see the module text).

    `incidents` need ``source``, ``incident_id`` and ``support_tier`` (the source's own,
    usually missing), and use ``reassignment_count`` when present. `history` needs
    ``source``, ``incident_id``, ``assignment_group`` and ``support_tier`` (again the
    source's own). `patterns`: the ordered (tier, regular expression) list of the
    ``group name`` rule.

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
    codes, names = pd.factorize(history["assignment_group"].astype("string").str.strip())
    group_rank, group_rule = _group_tiers(names, service_map, patterns)
    rank = tier_ranks(history["support_tier"])
    rule = np.where(rank > 0, _EXPLICIT, _FALLBACK)
    unknown = rank == 0
    at = np.where(codes >= 0, codes, len(names))
    rank[unknown] = group_rank[at[unknown]]
    rule[unknown] = group_rule[at[unknown]]

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

    moved = _distinct_groups(owner[known], codes[known], count)
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
        groups=_group_table(names, codes, owner, rank, rule, group_rule),
        rule_incidents={
            name: int(np.unique(owner[known & (rule == index) & (rank > 0)]).size)
            for index, name in enumerate(TIER_RULES[:-1])
        },
    )


def _group_tiers(
    names: pd.Index, service_map: ServiceMap | None, patterns: Sequence[TierPattern]
) -> tuple[np.ndarray, np.ndarray]:
    """Per distinct group name (and a last entry for none): the tier rank the map or the
    patterns give it (0: none) and that rule (``_FALLBACK``: none)."""
    named = service_map.support_groups if service_map else {}
    by_name = group_name_tiers(pd.Series(names, dtype="string"), patterns)
    group_rank = np.zeros(len(names) + 1, dtype=np.int64)
    group_rule = np.full(len(names) + 1, _FALLBACK, dtype=np.int64)
    for index, name in enumerate(names):
        tiers = named.get(str(name).lower())
        if tiers:  # the highest rank any service of the map gives the group
            group_rank[index], group_rule[index] = max(TIER_RANK[t] for t in tiers), _MAP
        elif by_name[index]:
            group_rank[index], group_rule[index] = by_name[index], _NAME
    return group_rank, group_rule


def _group_table(
    names: pd.Index,
    codes: np.ndarray,
    owner: np.ndarray,
    rank: np.ndarray,
    rule: np.ndarray,
    group_rule: np.ndarray,
) -> pd.DataFrame:
    """`SupportTiers.groups`: each group's tier and rule, and the incidents it handled."""
    size = len(names)
    rows = (codes >= 0) & (owner >= 0)
    pairs = np.unique(owner[rows] * (size + 1) + codes[rows])
    incidents = np.bincount(pairs % (size + 1), minlength=size + 1)[:size]
    # A group placed by no map or pattern may still carry the source's explicit tier.
    best = np.zeros(size + 1, dtype=np.int64)
    np.maximum.at(best, np.where(codes >= 0, codes, size), rank)
    placed = group_rule[:size]
    explicit = np.zeros(size + 1, dtype=bool)
    explicit[np.where(codes >= 0, codes, size)[rule == _EXPLICIT]] = True
    how = np.where(placed != _FALLBACK, placed, np.where(explicit[:size], _EXPLICIT, -1))
    rules = pd.array([*TIER_RULES, None], dtype="string")
    table = pd.DataFrame(
        {
            "group": pd.array(list(names), dtype="string"),
            "tier": _text(best[:size]),
            "rule": rules.take(np.where(how >= 0, how, len(TIER_RULES))),
            "incidents": incidents.astype(np.int64),
        }
    )
    return table.sort_values(["incidents", "group"], ascending=[False, True], ignore_index=True)


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
