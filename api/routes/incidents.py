"""``/v1/incidents``: push incidents, read one with its impact, list them."""

from __future__ import annotations

from typing import Annotated

import pandas as pd
from fastapi import APIRouter, Path, Query
from impactlens.api.problems import Problem, problems
from impactlens.api.routes.common import AsOf, Moment, as_of_moment, query_moment, service_map_of
from impactlens.api.schemas import (
    IncidentImpactOut,
    IncidentPageOut,
    IncidentsIn,
    IngestReply,
    ProcessImpact,
    QuarantinedRecord,
)
from impactlens.api.security import IngestKey, ReadKey, State
from impactlens.ingest.pipeline import IngestReport, ingest_records

from impactlens.lookup import find_incidents, incident_impact

router = APIRouter(prefix="/v1/incidents", tags=["incidents"], responses=problems(401))
DEFAULT_DAYS = 30


@router.post(
    "", response_model=IngestReply, status_code=200, responses=problems(400, 403, 413, 422)
)
def post_incidents(body: IncidentsIn, state: State, api_key: IngestKey) -> IngestReply:
    """Upsert up to 10,000 canonical incidents of one source, idempotently: an incident
    whose ``updated_at`` is newer replaces the stored one, an older one never does. A 2xx
    means the incidents are durably stored (committed before the reply). Records that
    cannot be used are quarantined with their index and reason; the rest are stored."""
    report = ingest_records(
        body.incidents, state.store, source=body.source, history=body.history,
        received_from=f"POST /v1/incidents (key {api_key.name})",
        service_map=service_map_of(state), tier_patterns=state.settings.tier_patterns,
    )  # fmt: skip
    state.metrics.ingested.labels(body.source).inc(report.new + report.updated)
    state.metrics.quarantined.labels(body.source).inc(len(report.rejected))
    if report.new + report.updated:
        state.incidents_changed()
    return ingest_reply(report, received=len(body.incidents))


# An ITSM tool's incident id may hold "/": the id is the rest of the path.
@router.get(
    "/{source}/{incident_id:path}", response_model=IncidentImpactOut, responses=problems(404, 422)
)
def get_incident(
    source: Annotated[str, Path(description="The incident's source, as it was pushed.")],
    incident_id: Annotated[str, Path(description="The incident's id in that source.")],
    state: State,
    api_key: ReadKey,
    as_of: AsOf = None,
) -> IncidentImpactOut:
    """The incident with its impact: score, value at risk, business minutes, the impact
    on each business process, the path that explains it, the map version, and the
    priority its business impact suggests."""
    moment = as_of_moment(as_of)
    found = incident_impact(state.store, state.current_map.model, source, incident_id, as_of=moment)
    if found is None:
        raise Problem(404, f"no incident {incident_id!r} of source {source!r} is stored")
    return IncidentImpactOut(
        incident=found.incident,
        processes=[ProcessImpact.model_validate(process) for process in found.processes],
        suggested_priority=found.suggested_priority,
        map_version=found.map_version,
        as_of=found.as_of.isoformat(),
    )


@router.get("", response_model=IncidentPageOut, responses=problems(400, 422))
def list_incidents(
    state: State,
    api_key: ReadKey,
    since: Annotated[
        Moment | None,
        Query(description=f"Opened at or after (default: {DEFAULT_DAYS} days before as_of)."),
    ] = None,
    until: Annotated[Moment | None, Query(description="Opened before (default: as_of).")] = None,
    source: Annotated[str | None, Query(description="Only this source.")] = None,
    service: Annotated[str | None, Query(description="Placed on this service.")] = None,
    process: Annotated[str | None, Query(description="Impact reaches this process.")] = None,
    min_score: Annotated[float | None, Query(ge=0, description="impact_score at least.")] = None,
    cursor: Annotated[str | None, Query(max_length=2000, description="next_cursor.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    as_of: AsOf = None,
) -> IncidentPageOut:
    """Incidents opened in a time window, scored, filtered; oldest first, a page at a
    time (follow ``next_cursor``)."""
    moment = as_of_moment(as_of)
    start = query_moment(since, name="since") if since else moment - pd.Timedelta(days=DEFAULT_DAYS)
    page = find_incidents(
        state.store, state.current_map.model, as_of=moment, since=start,
        until=query_moment(until, name="until") if until else None, source=source, service=service,
        process=process, min_score=min_score, cursor=cursor, limit=limit,
    )  # fmt: skip
    return IncidentPageOut(incidents=page.incidents, next_cursor=page.next_cursor)


def ingest_reply(report: IngestReport, *, received: int, first_line: int = 0) -> IngestReply:
    """An `IngestReport` as the API answers it: each record not stored, with its index in
    the request (0-based; `first_line` is the ``line`` the reader gave the first record)."""
    rejected = report.rejected
    records = [
        QuarantinedRecord(
            index=None if pd.isna(line) else int(line) - first_line,
            problem=str(problem),
            reason=str(reason),
        )
        for line, problem, reason in zip(
            rejected["line"], rejected["problem"], rejected["reason"], strict=True
        )
    ]
    return IngestReply(
        run_id=report.run_id, received=received, new=report.new, updated=report.updated,
        unchanged=report.unchanged, quarantined=len(records), quarantined_records=records,
    )  # fmt: skip
