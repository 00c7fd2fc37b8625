"""Pure analytics: exposure, business minutes, resolution, support tiers, impact scoring,
correlation, timelines, escalation hotspots, KPIs, mis-prioritised incidents, what-if,
and the weekly review that composes them."""

from impactlens.engine.business_minutes import business_minutes
from impactlens.engine.columns import require_columns
from impactlens.engine.correlation import group_outages, likely_common_causes
from impactlens.engine.escalation import escalation_facts, handoff_graph, handoffs, ping_pong_loops
from impactlens.engine.exposure import ExposureTable, PathStep, compute_exposure
from impactlens.engine.facts import FactRules, IncidentFacts, incident_facts, restored_at
from impactlens.engine.hotspots import HotspotRules, find_hotspots, hotspot_keys
from impactlens.engine.impact import (
    INCIDENT_SCORE_COLUMNS,
    PROCESS_IMPACT_COLUMNS,
    ImpactModel,
    build_impact_model,
    explain,
    process_impacts,
    score_incidents,
)
from impactlens.engine.kpis import kpi_scorecard
from impactlens.engine.misprioritised import misprioritised
from impactlens.engine.repeats import repeat_flags, repeat_keys
from impactlens.engine.resolution import resolve_services
from impactlens.engine.tiers import SupportTiers, support_tiers
from impactlens.engine.timelines import process_timelines
from impactlens.engine.weekly import ReviewSettings, WeeklyReview, review_week, review_window
from impactlens.engine.weeks import last_complete_week, parse_week, week_bounds, week_of
from impactlens.engine.whatif import WhatIf, compare_timelines, whatif_map, whatif_without

__all__ = [
    "INCIDENT_SCORE_COLUMNS",
    "PROCESS_IMPACT_COLUMNS",
    "ExposureTable",
    "FactRules",
    "HotspotRules",
    "ImpactModel",
    "IncidentFacts",
    "PathStep",
    "ReviewSettings",
    "SupportTiers",
    "WeeklyReview",
    "WhatIf",
    "build_impact_model",
    "business_minutes",
    "compare_timelines",
    "compute_exposure",
    "escalation_facts",
    "explain",
    "find_hotspots",
    "group_outages",
    "handoff_graph",
    "handoffs",
    "hotspot_keys",
    "incident_facts",
    "kpi_scorecard",
    "last_complete_week",
    "likely_common_causes",
    "misprioritised",
    "parse_week",
    "ping_pong_loops",
    "process_impacts",
    "process_timelines",
    "repeat_flags",
    "repeat_keys",
    "require_columns",
    "resolve_services",
    "restored_at",
    "review_week",
    "review_window",
    "score_incidents",
    "support_tiers",
    "week_bounds",
    "week_of",
    "whatif_map",
    "whatif_without",
]
