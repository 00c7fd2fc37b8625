"""Pure analytics: exposure, business minutes, resolution, impact scoring, correlation,
timelines, escalation hotspots, KPIs, mis-prioritised incidents and what-if."""

from impactlens.engine.business_minutes import business_minutes
from impactlens.engine.columns import require_columns
from impactlens.engine.correlation import group_outages, likely_common_causes
from impactlens.engine.escalation import escalation_facts, handoff_graph, handoffs, ping_pong_loops
from impactlens.engine.exposure import ExposureTable, PathStep, compute_exposure
from impactlens.engine.facts import IncidentFacts, incident_facts
from impactlens.engine.hotspots import HotspotRules, find_hotspots, hotspot_keys, repeat_flags
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
from impactlens.engine.resolution import resolve_services
from impactlens.engine.timelines import process_timelines
from impactlens.engine.weeks import last_complete_week, parse_week, week_bounds, week_of
from impactlens.engine.whatif import compare_timelines, whatif_map, whatif_without

__all__ = [
    "INCIDENT_SCORE_COLUMNS",
    "PROCESS_IMPACT_COLUMNS",
    "ExposureTable",
    "HotspotRules",
    "ImpactModel",
    "IncidentFacts",
    "PathStep",
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
    "require_columns",
    "resolve_services",
    "score_incidents",
    "week_bounds",
    "week_of",
    "whatif_map",
    "whatif_without",
]
