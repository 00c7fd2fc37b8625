"""Pure analytics: exposure, business minutes, incident resolution and impact scoring."""

from engine.business_minutes import business_minutes
from engine.columns import require_columns
from engine.exposure import ExposureTable, PathStep, compute_exposure
from engine.impact import (
    INCIDENT_SCORE_COLUMNS,
    PROCESS_IMPACT_COLUMNS,
    ImpactModel,
    build_impact_model,
    explain,
    process_impacts,
    score_incidents,
)
from engine.resolution import resolve_services

__all__ = [
    "INCIDENT_SCORE_COLUMNS",
    "PROCESS_IMPACT_COLUMNS",
    "ExposureTable",
    "ImpactModel",
    "PathStep",
    "build_impact_model",
    "business_minutes",
    "compute_exposure",
    "explain",
    "process_impacts",
    "require_columns",
    "resolve_services",
    "score_incidents",
]
