"""``/v1/hotspots``, ``/v1/kpis``, ``/v1/reports``: views of a week's review (cached)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from impactlens.api.problems import Problem, problems
from impactlens.api.routes.common import AsOf, WeekQuery, as_of_moment
from impactlens.api.schemas import HotspotDetail, Hotspots, Kpis
from impactlens.api.security import ReadKey, State
from impactlens.engine.hotspot_view import hotspot_view
from impactlens.engine.hotspots import SORT_ORDERS, sort_hotspots
from impactlens.engine.keys import key_fields_from_text
from impactlens.reports import render, render_files

from impactlens.jsonable import json_records

router = APIRouter(prefix="/v1", tags=["weekly review"], responses=problems(401))
SORTS = tuple(SORT_ORDERS)
_MEDIA_TYPES = {
    "html": "text/html; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
}

GroupBy = Annotated[
    str | None,
    Query(
        max_length=200,
        description="Hotspot key fields, comma separated (service, ci, category, "
        "assignment_group, ...). Default: the group_by setting.",
    ),
]


@router.get("/hotspots", response_model=Hotspots, responses=problems(400, 422))
def get_hotspots(
    state: State,
    api_key: ReadKey,
    week: WeekQuery = None,
    group_by: GroupBy = None,
    sort: Annotated[str, Query(pattern="^(" + "|".join(SORTS) + ")$")] = "rank",
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    as_of: AsOf = None,
) -> Hotspots:
    """The week's escalation hotspots with their reasons and problem-record suggestions."""
    found = state.review(week=week, as_of=as_of_moment(as_of), group_by=_fields(group_by))
    table = sort_hotspots(found.hotspots, sort)
    return Hotspots(
        week=found.week, as_of=found.as_of.isoformat(), map_version=found.map_version,
        hotspots=json_records(table.head(limit)), notes=list(found.notes),
    )  # fmt: skip


# A key of several fields is joined with " / " (and a CI may hold "/"): the rest of the path.
@router.get("/hotspots/{key:path}", response_model=HotspotDetail, responses=problems(400, 404, 422))
def get_hotspot(
    key_name: Annotated[str, Path(alias="key", description="A key of GET /v1/hotspots.")],
    state: State,
    api_key: ReadKey,
    week: WeekQuery = None,
    group_by: GroupBy = None,
    as_of: AsOf = None,
) -> HotspotDetail:
    """One hotspot: its reasons, incidents of the week, handoff graph, processes hurt and
    the escalations of each week of its baseline."""
    found = state.review(week=week, as_of=as_of_moment(as_of), group_by=_fields(group_by))
    view = hotspot_view(found, key_name)
    if view.hotspot.empty:
        raise Problem(404, f"{key_name!r} had no incident in week {found.week}")
    return HotspotDetail(
        week=found.week, key=key_name,
        hotspot=json_records(view.hotspot.to_frame().T)[0],
        incidents=json_records(view.incidents), handoffs=json_records(view.handoffs),
        processes=json_records(view.processes), trend=json_records(view.trend),
    )  # fmt: skip


@router.get("/kpis", response_model=Kpis, responses=problems(400, 422))
def get_kpis(state: State, api_key: ReadKey, week: WeekQuery = None, as_of: AsOf = None) -> Kpis:
    """The joint KPI scorecard of the week, with the week before and the 8-week trend."""
    found = state.review(week=week, as_of=as_of_moment(as_of))
    return Kpis(
        week=found.week, as_of=found.as_of.isoformat(), map_version=found.map_version,
        kpis=json_records(found.kpis),
    )  # fmt: skip


@router.get(
    "/reports/{week}",
    responses={
        200: {"content": {media: {} for media in _MEDIA_TYPES.values()}},
        **problems(400, 404, 406, 422),
    },
    response_class=Response,
)
def get_report(
    week: Annotated[str, Path(pattern=r"^\d{4}-?W\d{2}$", examples=["2026-W47"])],
    request: Request,
    state: State,
    api_key: ReadKey,
    format: Annotated[
        str | None, Query(pattern="^(html|md|json|csv)$", description="Else by Accept.")
    ] = None,
    table: Annotated[
        str | None, Query(max_length=100, description="For csv: the table (default kpis).")
    ] = None,
    as_of: AsOf = None,
) -> Response:
    """The weekly impact report, as the weekly flow renders it: HTML, Markdown, JSON, or
    one table as CSV; by ``?format=`` or the Accept header (default HTML)."""
    chosen = format or _negotiate(request.headers.get("accept", ""))
    found = state.review(week=week, as_of=as_of_moment(as_of))
    if chosen == "csv":
        files = render_files(found, "csv")
        name = f"{table or 'kpis'}.csv"
        if name not in files:
            known = ", ".join(sorted(file[:-4] for file in files))
            raise Problem(404, f"the report has no table {table!r} (tables: {known})")
        return Response(files[name], media_type=_MEDIA_TYPES["csv"])
    return Response(render(found, chosen), media_type=_MEDIA_TYPES[chosen])


def _fields(group_by: str | None) -> tuple[str, ...] | None:
    return key_fields_from_text(group_by, what="group_by") if group_by is not None else None


def _negotiate(accept: str) -> str:
    """The report format the Accept header prefers (quality order); HTML by default."""
    offered = {media.split(";")[0]: fmt for fmt, media in _MEDIA_TYPES.items()}
    ranked = []
    for position, part in enumerate(accept.lower().split(",")):
        media, *params = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    quality = float(param[2:])
                except ValueError:
                    quality = 0.0
        if quality > 0:  # q=0: "not this one" (RFC 9110)
            ranked.append((-quality, position, media))
    for _, _, media in sorted(ranked):
        if media in offered:
            return offered[media]
        if media == "*/*":
            return "html"
        if media.endswith("/*"):  # text/* -> html, application/* -> json
            for offered_media, fmt in offered.items():
                if offered_media.startswith(media[:-1]):
                    return fmt
    if accept.strip():
        raise Problem(406, f"the report is offered as {', '.join(_MEDIA_TYPES.values())}")
    return "html"
