"""Everything the weekly analyses need to know about each incident, worked out once.

`incident_facts` resolves each incident's service, scores its business impact
(`engine.impact`), and adds its escalation facts (`engine.escalation`). Hotspots, KPIs,
mis-prioritised incidents and what-ifs all start from its result. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from impactlens.engine.escalation import escalation_facts
from impactlens.engine.impact import (
    PROCESS_IMPACT_COLUMNS,
    ImpactModel,
    process_impacts,
    score_incidents,
)
from impactlens.engine.resolution import resolve_services

__all__ = ["IncidentFacts", "incident_facts"]

_SCORE_COLUMNS = ("severity", "impact_score", "impact_minutes", "value_at_risk",
                  "top_process", "explanation")  # fmt: skip


@dataclass(frozen=True)
class IncidentFacts:
    """The incidents with their facts, and their impact on each process.

    ``incidents``: the input columns, ``service_id``/``mapped_by`` resolved, the score
    columns of `engine.impact.score_incidents` and `engine.escalation.ESCALATION_COLUMNS`,
    on a fresh 0..n-1 index. ``pairs``: `engine.impact.process_impacts` with ``row`` (the
    position in ``incidents``).
    """

    incidents: pd.DataFrame
    pairs: pd.DataFrame


def incident_facts(
    incidents: pd.DataFrame,
    history: pd.DataFrame,
    model: ImpactModel | None,
    *,
    as_of: pd.Timestamp,
) -> IncidentFacts:
    """Resolve, score and add escalation facts to canonical `incidents` (see `IncidentFacts`).

    `history` is their assignment history (canonical columns). Without a `model` (no
    service map) nothing is resolved or scored: the services stay as given, every
    impact is 0 and there are no pairs; escalation facts still hold.

    An incident closed without a resolution time (``resolved_at`` missing, ``closed_at``
    known) was restored by the time it was closed: ``resolved_at`` becomes ``closed_at``,
    so it neither counts as open for ever nor drops out of time to restore.
    """
    incidents = incidents.reset_index(drop=True)
    if "closed_at" in incidents.columns:
        incidents = incidents.assign(
            resolved_at=incidents["resolved_at"].fillna(incidents["closed_at"])
        )
    facts = escalation_facts(incidents, history)
    if model is None:
        scores = pd.DataFrame(
            {
                "mapped": incidents["service_id"].notna().to_numpy(),
                "severity": 0.0,
                "impact_score": 0.0,
                "impact_minutes": 0.0,
                "value_at_risk": 0.0,
                "top_process": pd.array([pd.NA] * len(incidents), dtype="string"),
                "explanation": "no service map",
            },
            index=incidents.index,
        )
        pairs = pd.DataFrame({name: [] for name in (*PROCESS_IMPACT_COLUMNS, "row")})
        return IncidentFacts(incidents=pd.concat([incidents, scores, facts], axis=1), pairs=pairs)
    resolved = resolve_services(incidents, model.service_map)
    scores = score_incidents(resolved, model, as_of=as_of)
    table = pd.concat([resolved, scores[list(_SCORE_COLUMNS)], facts], axis=1)
    pairs = process_impacts(resolved, model, as_of=as_of, with_rows=True)
    return IncidentFacts(incidents=table, pairs=pairs)
