"""The dashboard's routes: thin calls of the library, laid out by `views`, in HTML.

Every page but the sign-in page needs a session (`sessions`); without one the browser is
sent to the sign-in page (303), which sends it back after. Errors are HTML pages with
the status they stand for (404 for an unknown hotspot, 422 for a bad query parameter),
never a traceback; every response forbids framing and scripts (Content-Security-Policy).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from impactlens.api.dashboard import views
from impactlens.api.dashboard.sessions import (
    HOME,
    Session,
    SessionCookies,
    csrf_matches,
    safe_next,
)
from impactlens.api.problems import status_of
from impactlens.api.routes.common import as_of_moment
from impactlens.api.security import State
from impactlens.api.state import ServiceState
from impactlens.engine.blast_radius import blast_radius
from impactlens.engine.hotspot_view import hotspot_view
from impactlens.engine.impact import ImpactModel
from impactlens.reports import render
from impactlens.service_map.quality import quality_report
from jinja2 import Environment
from pydantic import BeforeValidator
from starlette.exceptions import HTTPException as StarletteHTTPException

from impactlens.errors import ImpactlensError
from impactlens.lookup import find_incidents, incident_impact, process_timeline
from impactlens.settings import Settings

__all__ = ["DashboardPages", "router"]

log = logging.getLogger(__name__)
SIGN_IN = f"{HOME}/sign-in"
INCIDENTS_SHOWN = 100  # of a process's incidents
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class DashboardPages:
    """What the dashboard's routes share: its templates, its cookies and the settings."""

    templates: Environment
    cookies: SessionCookies
    settings: Settings


class SignInRequired(Exception):
    """No usable session: send the browser to sign in, then back to `target`."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.target = target


class PageError(Exception):
    """An error to answer as an HTML page with `status`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class DashboardRoute(APIRoute):
    """A route whose errors are HTML pages and whose responses carry the security headers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page(request: Request) -> Response:
            try:
                response = await handler(request)
            except SignInRequired as needed:
                response = RedirectResponse(views.url(SIGN_IN, next=needed.target), 303)
            except PageError as error:
                response = error_page(request, error.status, error.message)
            except RequestValidationError as error:
                response = error_page(request, 422, _invalid(error))
            except ImpactlensError as error:
                response = error_page(request, status_of(error)[0], str(error).splitlines()[0])
            except StarletteHTTPException as error:
                response = error_page(request, error.status_code, str(error.detail))
            except Exception:  # answered as a page; the traceback goes to the log only
                log.exception("unexpected error answering %s %s", request.method, request.url.path)
                response = error_page(request, 500, "the page failed; the error is in the log")
            response.headers.update(_SECURITY_HEADERS)
            return response

        return page


router = APIRouter(prefix=HOME, route_class=DashboardRoute, include_in_schema=False)


def dashboard_pages(request: Request) -> DashboardPages:
    pages: DashboardPages = request.app.state.dashboard
    return pages


Pages = Annotated[DashboardPages, Depends(dashboard_pages)]


def signed_in(request: Request, state: State, pages: Pages) -> Session:
    """The request's session, else `SignInRequired` (back to this page after)."""
    session = pages.cookies.current(request, state.store)
    if session is None:
        query = request.url.query
        raise SignInRequired(request.url.path + (f"?{query}" if query else ""))
    return session


SignedIn = Annotated[Session, Depends(signed_in)]


# Query parameters: a form field left empty means "the default", as if it were absent.


def _blank(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _week(value: Any) -> Any:
    value = _blank(value)
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-?W\d{2}", value.strip()):
        raise ValueError("not an ISO week such as 2026-W47")
    return value.strip() if isinstance(value, str) else value


def _short_text(value: Any) -> Any:
    value = _blank(value)
    if isinstance(value, str) and len(value) > 200:
        raise ValueError("at most 200 characters")
    return value


def _sort(value: Any) -> Any:
    value = _blank(value) or "rank"
    if value not in views.SORTS:
        raise ValueError(f"one of {', '.join(views.SORTS)}")
    return value


WeekParam = Annotated[
    str | None,
    BeforeValidator(_week),
    Query(description="ISO week (default: the last full week before as_of)."),
]
AsOfParam = Annotated[datetime | None, BeforeValidator(_blank), Query()]
GroupByParam = Annotated[str | None, BeforeValidator(_short_text), Query()]


def render_page(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    session: Session | None,
    status: int = 200,
) -> HTMLResponse:
    pages = dashboard_pages(request)
    body = pages.templates.get_template(template).render(
        **context,
        user=session.key_name if session else None,
        csrf_token=session.csrf_token if session else "",
    )
    return HTMLResponse(body, status_code=status)


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    return render_page(
        request, "error.html", {"status": status, "message": message}, session=None, status=status
    )


# Signing in and out.


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(
    request: Request,
    pages: Pages,
    next: Annotated[str | None, BeforeValidator(_blank), Query(max_length=2000)] = None,
) -> HTMLResponse:
    """The sign-in form (an API key of scope read or more)."""
    return _sign_in_page(request, pages, next=safe_next(next), message=None, status=200)


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in(
    request: Request,
    state: State,
    pages: Pages,
    key: Annotated[str, Form(max_length=500)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Check the key; on success start a session and go to `next` (a dashboard page)."""
    if not pages.cookies.sign_in_token_matches(request, csrf_token):
        raise PageError(403, "the sign-in form had expired or did not come from this site: "
                        "open the sign-in page again")  # fmt: skip
    found = state.store.authenticate(key.strip()) if key.strip() else None
    if found is None or not found.allows("read"):
        return _sign_in_page(request, pages, next=safe_next(next), status=401,
                             message="That API key is unknown or revoked.")  # fmt: skip
    response = RedirectResponse(safe_next(next), status_code=303)
    pages.cookies.start(response, request, key_id=found.id, key_name=found.name)
    pages.cookies.forget_sign_in_token(response)
    return response


@router.post("/sign-out")
def sign_out(
    request: Request,
    state: State,
    pages: Pages,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """End the session (its form's CSRF token must be the session's)."""
    session = pages.cookies.current(request, state.store)
    if session is not None and not csrf_matches(session, csrf_token):
        raise PageError(403, "the sign-out form did not come from this site")
    response = RedirectResponse(SIGN_IN, status_code=303)
    pages.cookies.end(response)
    return response


def _sign_in_page(
    request: Request, pages: DashboardPages, *, next: str, message: str | None, status: int
) -> HTMLResponse:
    token, new = pages.cookies.sign_in_token(request)
    response = render_page(
        request, "sign_in.html", {"next": next, "message": message, "form_token": token},
        session=None, status=status,
    )  # fmt: skip
    if new:
        pages.cookies.keep_sign_in_token(response, request, token)
    return response


# Pages.


@router.get("", response_class=HTMLResponse)
def hotspots(
    request: Request,
    state: State,
    session: SignedIn,
    week: WeekParam = None,
    as_of: AsOfParam = None,
    group_by: GroupByParam = None,
    sort: Annotated[str, BeforeValidator(_sort), Query()] = "rank",
    flagged: Annotated[bool, Query()] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> HTMLResponse:
    """The week's escalation hotspots."""
    review = state.review(week=week, as_of=as_of_moment(as_of), group_by=views.key_fields(group_by))
    context = views.hotspots_page(
        review, sort=sort, flagged=flagged, group_by=group_by, limit=limit
    )
    return render_page(request, "hotspots.html", context, session=session)


@router.get("/hotspots/{key:path}", response_class=HTMLResponse)
def hotspot(
    request: Request,
    state: State,
    session: SignedIn,
    key: Annotated[str, Path(max_length=500)],
    week: WeekParam = None,
    as_of: AsOfParam = None,
    group_by: GroupByParam = None,
) -> HTMLResponse:
    """One hotspot of the week, close up."""
    review = state.review(week=week, as_of=as_of_moment(as_of), group_by=views.key_fields(group_by))
    view = hotspot_view(review, key)
    if view.hotspot.empty:
        raise PageError(404, f"{key!r} had no incident in week {review.week}")
    context = views.hotspot_page(review, view, group_by=group_by)
    return render_page(request, "hotspot.html", context, session=session)


@router.get("/incidents/{source}/{incident_id:path}", response_class=HTMLResponse)
def incident(
    request: Request,
    state: State,
    session: SignedIn,
    source: Annotated[str, Path(max_length=200)],
    incident_id: Annotated[str, Path(max_length=500)],
    as_of: AsOfParam = None,
) -> HTMLResponse:
    """One incident with its impact."""
    model = state.current_map.model
    found = incident_impact(state.store, model, source, incident_id, as_of=as_of_moment(as_of))
    if found is None:
        raise PageError(404, f"no incident {incident_id!r} of source {source!r} is stored")
    context = views.incident_page(
        found, model, group_by=state.settings.review_settings().group_by,
        timezone=state.settings.timezone, currency=state.settings.currency,
    )  # fmt: skip
    return render_page(request, "incident.html", context, session=session)


@router.get("/processes/{process_id}", response_class=HTMLResponse)
def process(
    request: Request,
    state: State,
    session: SignedIn,
    process_id: Annotated[str, Path(max_length=200)],
    since: Annotated[datetime | None, BeforeValidator(_blank), Query(alias="from")] = None,
    until: Annotated[datetime | None, BeforeValidator(_blank), Query(alias="to")] = None,
    as_of: AsOfParam = None,
) -> HTMLResponse:
    """A business process's minutes lost, day by day (default: the 7 days to as_of)."""
    model = _map_model(state)
    moment = as_of_moment(as_of)
    end = pd.Timestamp(until) if until else moment
    start = pd.Timestamp(since) if since else end - pd.Timedelta(days=7)
    days = process_timeline(state.store, model, process_id, since=start, until=end, as_of=moment,
                            timezone=state.settings.timezone)  # fmt: skip
    reached = find_incidents(state.store, model, as_of=moment, since=start, until=end,
                             process=process_id, limit=INCIDENTS_SHOWN)  # fmt: skip
    context = views.process_page(model, process_id, days, reached, since=start, until=end,
                                 as_of=moment, currency=state.settings.currency)  # fmt: skip
    return render_page(request, "process.html", context, session=session)


@router.get("/map", response_class=HTMLResponse)
def service_map(
    request: Request,
    state: State,
    session: SignedIn,
    service: Annotated[str | None, BeforeValidator(_short_text), Query()] = None,
    week: WeekParam = None,
    as_of: AsOfParam = None,
) -> HTMLResponse:
    """The map's version and quality, the week's coverage, a service's blast radius."""
    current = state.current_map
    model = current.model
    review = state.review(week=week, as_of=as_of_moment(as_of))
    findings: list[str] = []
    counts: dict[str, int] = {}
    blast, problem, status = None, None, 200
    if model is not None:
        quality = quality_report(model.service_map, model.graph)
        findings = quality.findings
        counts = {"services": quality.services, "redundancy groups": quality.redundancy_groups,
                  "business processes": quality.processes, "dependencies": quality.dependencies,
                  "supports": quality.supports}  # fmt: skip
        if service:
            try:
                blast = blast_radius(model, service.strip())
            except ImpactlensError as error:  # shown beside the form, with the map
                problem, status = str(error).splitlines()[0], status_of(error)[0]
    elif service:
        problem, status = "no service map is loaded", 404
    context = views.map_page(
        model, path=str(current.path) if current.path else None, findings=findings,
        counts=counts, review=review, service=service or "", blast=blast, blast_error=problem,
    )  # fmt: skip
    return render_page(request, "map.html", context, session=session, status=status)


@router.get("/report", response_class=HTMLResponse)
def report(
    request: Request,
    state: State,
    session: SignedIn,
    week: WeekParam = None,
    as_of: AsOfParam = None,
) -> HTMLResponse:
    """The week's impact report, as the weekly flow renders it, inside the dashboard."""
    review = state.review(week=week, as_of=as_of_moment(as_of))
    context = views.report_page(review, render(review, "html"))
    return render_page(request, "report.html", context, session=session)


@router.get("/report/html", response_class=HTMLResponse)
def report_alone(
    state: State, session: SignedIn, week: WeekParam = None, as_of: AsOfParam = None
) -> HTMLResponse:
    """The week's impact report on its own (to print or save)."""
    review = state.review(week=week, as_of=as_of_moment(as_of))
    return HTMLResponse(render(review, "html"))


@router.get("/{rest:path}", response_class=HTMLResponse)
def not_found(rest: str) -> Response:
    """Any other address under the dashboard: a 404 page (``/dashboard/``: home)."""
    if rest == "":
        return RedirectResponse(HOME, status_code=307)
    raise PageError(404, "there is no such page in the dashboard")


def _map_model(state: ServiceState) -> ImpactModel:
    model = state.current_map.model
    if model is None:
        raise PageError(404, "no service map is loaded: PUT /v1/service-map, or start with --map")
    return model


def _invalid(error: RequestValidationError) -> str:
    issues = [
        f"{'.'.join(str(part) for part in issue['loc'][1:])}: {issue['msg']}"
        for issue in error.errors()
    ]
    return "the address is not valid: " + "; ".join(issues[:3])
