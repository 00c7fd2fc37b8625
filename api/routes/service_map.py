"""``/v1/service-map``, ``/v1/processes``, ``/v1/services``: the map and what it implies."""

from __future__ import annotations

from typing import Annotated

import pandas as pd
from fastapi import APIRouter, Path, Query, Request
from impactlens.api.problems import Problem, problems
from impactlens.api.routes.common import AsOf, Moment, as_of_moment, query_moment
from impactlens.api.schemas import BlastRadius, Process, ProcessTimeline, ServiceMapOut
from impactlens.api.security import AdminKey, ReadKey, State
from impactlens.api.state import CurrentMap
from impactlens.engine.blast_radius import blast_radius
from impactlens.engine.impact import ImpactModel
from impactlens.service_map.quality import quality_report

from impactlens.jsonable import json_records, json_value
from impactlens.lookup import process_timeline

router = APIRouter(prefix="/v1", tags=["service map"], responses=problems(401))
MAP_MEDIA_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "application/json",
                   "text/plain")  # fmt: skip


@router.get("/service-map", response_model=ServiceMapOut)
def get_service_map(state: State, api_key: ReadKey) -> ServiceMapOut:
    """The current map as a graph (nodes with their kind and attributes, edges with their
    factor and relation), its version and its quality report."""
    return _map_out(state.current_map)


@router.put(
    "/service-map",
    response_model=ServiceMapOut,
    responses=problems(400, 403, 413, 415, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {media: {"schema": {"type": "string"}} for media in MAP_MEDIA_TYPES},
        }
    },
)
async def put_service_map(request: Request, state: State, api_key: AdminKey) -> ServiceMapOut:
    """Replace the map (YAML or JSON body; admin). The new map is validated whole: an
    invalid one is refused with every error and its place, and the current one stays."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in MAP_MEDIA_TYPES:
        raise Problem(415, f"send the map as YAML or JSON ({', '.join(MAP_MEDIA_TYPES)})")
    data = await request.body()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise Problem(400, f"the map is not UTF-8 text (byte {error.start})") from None
    current = state.replace_map(text)
    return _map_out(current)


@router.get("/processes", response_model=list[Process], responses=problems(404))
def get_processes(state: State, api_key: ReadKey) -> list[Process]:
    """The business processes of the map, most critical first."""
    model = _required(state.current_map.model)
    processes = sorted(model.service_map.processes, key=lambda p: (p.criticality, p.id))
    return [
        Process(id=p.id, name=p.name, criticality=p.criticality, value_per_hour=p.value_per_hour,
                hours=p.hours, timezone=p.timezone)
        for p in processes
    ]  # fmt: skip


@router.get(
    "/processes/{process_id}/timeline",
    response_model=ProcessTimeline,
    responses=problems(404, 422),
)
def get_process_timeline(
    process_id: Annotated[str, Path(max_length=200)],
    state: State,
    api_key: ReadKey,
    since: Annotated[Moment | None, Query(alias="from", description="Default: 7 days ago.")] = None,
    until: Annotated[Moment | None, Query(alias="to", description="Default: as_of.")] = None,
    as_of: AsOf = None,
) -> ProcessTimeline:
    """Business minutes the process lost each day (in the timezone setting), concurrent
    incidents counted once."""
    model = _required(state.current_map.model)
    moment = as_of_moment(as_of)
    end = query_moment(until, name="to") if until else moment
    start = query_moment(since, name="from") if since else end - pd.Timedelta(days=7)
    days = process_timeline(
        state.store, model, process_id, since=start, until=end, as_of=moment,
        timezone=state.settings.timezone,
    )  # fmt: skip
    return ProcessTimeline(process_id=process_id, days=json_records(days))


@router.get(
    "/services/{service}/blast-radius", response_model=BlastRadius, responses=problems(404, 422)
)
def get_blast_radius(
    service: Annotated[str, Path(max_length=200, description="Service id, alias or CI.")],
    state: State,
    api_key: ReadKey,
) -> BlastRadius:
    """Every business process the service reaches, with its exposure, the value per hour
    at risk and the path."""
    model = _required(state.current_map.model)
    found, table = blast_radius(model, service)
    return BlastRadius(service=found, map_version=model.version, processes=json_records(table))


def _required(model: ImpactModel | None) -> ImpactModel:
    if model is None:
        raise Problem(
            404, "the service has no service map: PUT /v1/service-map, or start it with --map"
        )
    return model


def _map_out(current: CurrentMap) -> ServiceMapOut:
    model = current.model
    if model is None:
        return ServiceMapOut(version=None, nodes=[], edges=[], quality=[])
    graph = model.graph
    nodes = [{"id": node, **{k: json_value(v) for k, v in data.items()}}
             for node, data in graph.nodes(data=True)]  # fmt: skip
    edges = [{"from": a, "to": b, **{k: json_value(v) for k, v in data.items()}}
             for a, b, data in graph.edges(data=True)]  # fmt: skip
    findings = quality_report(model.service_map, graph).findings
    return ServiceMapOut(version=model.version, nodes=nodes, edges=edges, quality=findings)
