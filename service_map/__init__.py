"""The service map: model, validation, loaders, the impact graph and its quality report."""

from impactlens.service_map.build import build_service_map
from impactlens.service_map.edge_list import parse_edge_list, skeleton_yaml
from impactlens.service_map.graph import impact_graph, member_passes_impact
from impactlens.service_map.hours import InvalidHoursError, WeeklyHours, parse_hours, weekly_hours
from impactlens.service_map.load import load_service_map
from impactlens.service_map.model import (
    BusinessProcess,
    Dependency,
    Scoring,
    Service,
    ServiceMap,
    Support,
)
from impactlens.service_map.quality import QualityReport, quality_report

__all__ = [
    "BusinessProcess",
    "Dependency",
    "InvalidHoursError",
    "QualityReport",
    "Scoring",
    "Service",
    "ServiceMap",
    "Support",
    "WeeklyHours",
    "build_service_map",
    "impact_graph",
    "load_service_map",
    "member_passes_impact",
    "parse_edge_list",
    "parse_hours",
    "quality_report",
    "skeleton_yaml",
    "weekly_hours",
]
