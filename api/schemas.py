"""The API's request and response bodies: Pydantic models at the edge, with examples.

They describe what the library returns; no route computes anything in them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "BlastRadius",
    "HotspotDetail",
    "Hotspots",
    "IncidentImpactOut",
    "IncidentPageOut",
    "IncidentsIn",
    "IngestReply",
    "Kpis",
    "Process",
    "ProcessImpact",
    "ProcessTimeline",
    "QuarantinedRecord",
    "ServiceMapOut",
]

MAX_RECORDS = 10_000
_INCIDENT_EXAMPLE: dict[str, Any] = {
    "incident_id": "INC0012345",
    "opened_at": "2026-11-16T09:12:00Z",
    "resolved_at": "2026-11-16T11:40:00Z",
    "priority": 2,
    "ci": "PAYAPI01",
    "category": "Payments",
    "assignment_group": "Payments Ops",
    "short_description": "Card payments time out",
}


class IncidentsIn(BaseModel):
    """Canonical incident records of one source (the canonical CSV's columns as JSON)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"source": "itsm", "incidents": [_INCIDENT_EXAMPLE]}]}
    )

    source: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$")
    incidents: list[dict[str, Any]] = Field(max_length=MAX_RECORDS)
    history: list[dict[str, Any]] = Field(
        default_factory=list,
        max_length=10 * MAX_RECORDS,
        description="Assignment history: incident_id, at, assignment_group, in order.",
    )


class QuarantinedRecord(BaseModel):
    index: int | None = Field(description="The record's index in the request (0-based).")
    problem: str
    reason: str


class IngestReply(BaseModel):
    """What was stored: counts, and each quarantined record with its reason."""

    run_id: int
    received: int
    new: int
    updated: int
    unchanged: int
    quarantined: int
    quarantined_records: list[QuarantinedRecord]


class ProcessImpact(BaseModel):
    process_id: str
    exposure: float
    business_minutes: float
    impact_minutes: float
    value_at_risk: float


class IncidentImpactOut(BaseModel):
    """One incident, scored as of ``as_of``, with the path that explains it."""

    incident: dict[str, Any]
    processes: list[ProcessImpact]
    suggested_priority: int | None
    map_version: str | None
    as_of: str


class IncidentPageOut(BaseModel):
    incidents: list[dict[str, Any]]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page.")


class Hotspots(BaseModel):
    week: str
    as_of: str
    map_version: str | None
    hotspots: list[dict[str, Any]]
    notes: list[str]


class HotspotDetail(BaseModel):
    week: str
    key: str
    hotspot: dict[str, Any]
    incidents: list[dict[str, Any]]
    handoffs: list[dict[str, Any]] = Field(description="Edges of the handoff graph.")
    processes: list[dict[str, Any]]
    trend: list[dict[str, Any]] = Field(description="Escalated incidents per week.")


class Process(BaseModel):
    id: str
    name: str
    criticality: int
    value_per_hour: float
    hours: str
    timezone: str


class ProcessTimeline(BaseModel):
    process_id: str
    days: list[dict[str, Any]]


class BlastRadius(BaseModel):
    service: str
    map_version: str | None
    processes: list[dict[str, Any]]


class Kpis(BaseModel):
    week: str
    as_of: str
    map_version: str | None
    kpis: list[dict[str, Any]]


class ServiceMapOut(BaseModel):
    version: str | None
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    quality: list[str]
