"""Everything the analyses need to know about each incident, worked out once, from one map.

The store keeps what the source said; every fact that follows from the service map or
from a rule of the product is derived here, in one place, from one map version:

- when the service was **restored**: the source's ``resolved_at``, else its
  ``closed_at`` (an incident closed without a resolution time was restored by then at
  the latest), else still open (`restored_at`);
- the **service** each incident is on (`engine.resolution`) and its **support tier**
  with the rule that decided it (`engine.tiers`);
- its business **impact** (`engine.impact`) and its impact on each process (the pairs);
- its **escalation** facts (`engine.escalation`);
- **time to restore** (``ttr_hours``), **reopened** (reopened at least once: a
  ``reopen_count`` above 0 or a ``reopened_at``) and **repeat** (opened at most
  ``repeat_days`` after another incident with the same symptom was restored:
  `engine.repeats`).

Hotspots, KPIs, mis-prioritised incidents, timelines and what-ifs all read these
columns; none derives them again. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from impactlens.engine.escalation import escalation_facts
from impactlens.engine.impact import (
    PROCESS_IMPACT_COLUMNS,
    ImpactModel,
    process_impacts,
    score_incidents,
)
from impactlens.engine.repeats import repeat_flags, repeat_keys
from impactlens.engine.resolution import resolve_services
from impactlens.engine.tiers import DEFAULT_TIER_PATTERNS, TierPattern, support_tiers

__all__ = ["FACT_COLUMNS", "FactRules", "IncidentFacts", "incident_facts", "restored_at"]

_SCORE_COLUMNS = ("severity", "impact_score", "impact_minutes", "value_at_risk",
                  "top_process", "explanation")  # fmt: skip
_HISTORY_COLUMNS = ("source", "incident_id", "assignment_group", "support_tier")
# The columns `incident_facts` adds (or, for service_id and support_tier, replaces).
FACT_COLUMNS = (
    "service_id", "mapped", "mapped_by", "support_tier", "tier_rule", *_SCORE_COLUMNS,
    "tier_rank", "escalated", "reached_l3", "reassignments", "ping_pong", "bounce",
    "ttr_hours", "reopened", "repeat",
)  # fmt: skip


@dataclass(frozen=True)
class FactRules:
    """The product's rules for facts that are a matter of policy.

    ``repeat_days``: an incident opened this many days or fewer after another with the
    same symptom was restored is a repeat; ``repeat_key``: the `engine.keys.KEY_FIELDS` the symptom
    is made of (empty: the CI, else the service, with category and subcategory).
    ``tier_patterns``: the ordered (tier, regular expression) rules on assignment group
    names (`engine.tiers`).
    """

    repeat_days: float = 14.0
    repeat_key: tuple[str, ...] = ()
    tier_patterns: tuple[TierPattern, ...] = DEFAULT_TIER_PATTERNS


@dataclass(frozen=True)
class IncidentFacts:
    """The incidents with their facts, their impact on each process, and their history.

    ``incidents``: the input columns and `FACT_COLUMNS`, on a fresh 0..n-1 index;
    ``resolved_at`` is the restoration time (`restored_at`). ``pairs``:
    `engine.impact.process_impacts` with ``row`` (the position in ``incidents``).
    ``history``: the assignment history with each assignment's derived tier.
    ``map_version``: the content hash of the map they were derived from (None: no map).
    """

    incidents: pd.DataFrame
    pairs: pd.DataFrame
    history: pd.DataFrame
    map_version: str | None


def restored_at(incidents: pd.DataFrame) -> pd.Series:
    """When each incident's service was restored: ``resolved_at``, else ``closed_at``.

    Missing for an incident still open. The one rule everywhere: an incident closed
    without a resolution time neither counts as open for ever nor drops out of time to
    restore.

    >>> frame = pd.DataFrame({"resolved_at": [pd.NaT, pd.Timestamp("2026-11-02", tz="UTC")],
    ...                       "closed_at": [pd.Timestamp("2026-11-03", tz="UTC"), pd.NaT]})
    >>> restored_at(frame).dt.strftime("%m-%d").tolist()
    ['11-03', '11-02']
    """
    resolved = incidents["resolved_at"]
    if "closed_at" not in incidents.columns:
        return resolved
    return resolved.fillna(incidents["closed_at"])


def incident_facts(
    incidents: pd.DataFrame,
    history: pd.DataFrame | None,
    model: ImpactModel | None,
    *,
    as_of: pd.Timestamp,
    rules: FactRules = FactRules(),
) -> IncidentFacts:
    """Resolve, tier, score and add escalation and outcome facts (see `IncidentFacts`).

    `incidents` are canonical (``source``, ``incident_id``, ``opened_at``,
    ``resolved_at``, ``priority``, ``ci``, ``support_tier``, ...); `history` is their
    assignment history (canonical columns; None: none known, so tiers and escalation
    read the incidents' own fields only). Without a `model` (no service map) nothing
    is resolved or scored: ``service_id`` stays as the source gave it, every impact is 0
    and there are no pairs; tiers come from the explicit tiers and group names, and
    escalation facts still hold.
    """
    incidents = incidents.reset_index(drop=True)
    incidents = incidents.assign(resolved_at=restored_at(incidents))
    if history is None:
        history = pd.DataFrame({name: pd.array([], dtype="string") for name in _HISTORY_COLUMNS})
    service_map = model.service_map if model is not None else None
    if model is not None:
        incidents = resolve_services(incidents, model.service_map)
    else:
        incidents = incidents.assign(
            mapped=incidents["service_id"].notna().to_numpy(),
            mapped_by=pd.array([pd.NA] * len(incidents), dtype="string"),
        )
    tiers = support_tiers(incidents, history, service_map=service_map, patterns=rules.tier_patterns)
    incidents = incidents.assign(support_tier=tiers.incident_tier, tier_rule=tiers.incident_rule)
    history = history.assign(support_tier=tiers.assignment_tier)

    if model is None:
        scores = _no_scores(len(incidents))
        pairs = pd.DataFrame({name: [] for name in (*PROCESS_IMPACT_COLUMNS, "row")})
    else:
        scores = score_incidents(incidents, model, as_of=as_of)[list(_SCORE_COLUMNS)]
        pairs = process_impacts(incidents, model, as_of=as_of, with_rows=True)
    escalation = escalation_facts(incidents, history)
    outcomes = _outcomes(incidents, rules)
    table = pd.concat([incidents, scores.set_axis(incidents.index), escalation, outcomes], axis=1)
    return IncidentFacts(
        incidents=table,
        pairs=pairs,
        history=history,
        map_version=model.version if model is not None else None,
    )


def _no_scores(count: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "severity": np.zeros(count),
            "impact_score": np.zeros(count),
            "impact_minutes": np.zeros(count),
            "value_at_risk": np.zeros(count),
            "top_process": pd.array([pd.NA] * count, dtype="string"),
            "explanation": pd.array(["no service map"] * count, dtype="string"),
        }
    )


def _outcomes(incidents: pd.DataFrame, rules: FactRules) -> pd.DataFrame:
    """Time to restore in hours, reopened, and repeat: one definition each."""
    opened = pd.to_datetime(incidents["opened_at"], utc=True)
    restored = pd.to_datetime(incidents["resolved_at"], utc=True)
    hours = (restored - opened).dt.total_seconds() / 3600.0
    reopened = np.zeros(len(incidents), dtype=bool)
    if "reopen_count" in incidents.columns:
        reopened |= pd.to_numeric(incidents["reopen_count"]).fillna(0).to_numpy() > 0
    if "reopened_at" in incidents.columns:
        reopened |= incidents["reopened_at"].notna().to_numpy()
    keys = repeat_keys(incidents, rules.repeat_key)
    repeat = repeat_flags(keys, opened, restored, repeat_days=rules.repeat_days)
    return pd.DataFrame(
        {"ttr_hours": hours.to_numpy(dtype=np.float64), "reopened": reopened, "repeat": repeat},
        index=incidents.index,
    )
