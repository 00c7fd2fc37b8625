"""The FastAPI application: the versioned API, health and metrics, and the dashboard.

`create_app` wires the pieces; routes live one resource per module in `api.routes` and
call the library. The store is opened (and its schema checked) and the map loaded when
the app is created, so a bad URL or map stops ``impactlens serve`` before it listens.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from impactlens.api.limits import BodyLimit
from impactlens.api.metrics import Metrics, RequestMetrics
from impactlens.api.problems import install_problem_handlers
from impactlens.api.routes import health, incidents, reviews, service_map, webhooks
from impactlens.api.settling import Settler
from impactlens.api.state import ServiceState
from impactlens.store import Store

from impactlens import __version__
from impactlens.settings import Settings, get_settings

__all__ = ["create_app"]

DESCRIPTION = """\
What IT incidents cost the business, for ITSM tools: push incidents, ask what one
threatens while it is open, read the week's hotspots, KPIs and impact report, manage the
service map. Every route but `/healthz`, `/readyz` and `/metrics` needs an API key
(`Authorization: Bearer KEY`; `impactlens keys create`) of scope `read`, `ingest` or
`admin` (each allows the ones before it). Errors are RFC 9457 problem details.
"""


def create_app(
    settings: Settings | None = None,
    *,
    map_path: Path | None = None,
    store: Store | None = None,
) -> FastAPI:
    """The service over `store` (default: the settings' database) with the map at
    `map_path` (default: the ``service_map`` setting, else a map saved by a PUT)."""
    settings = settings or get_settings()
    opened = store or Store.open(settings.database_url)
    state = ServiceState(settings, opened, map_path, metrics=Metrics())
    if settings.api_settle_impacts:
        state.settler = Settler(opened, lambda: state.current_map.model)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if state.settler is not None:
            state.settler.start()
        yield
        if state.settler is not None:
            state.settler.stop()
        if store is None:  # opened here: closed here
            opened.close()

    app = FastAPI(
        lifespan=lifespan,
        title="impactlens",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=[
            {"name": "incidents", "description": "Push incidents; read their impact."},
            {"name": "weekly review", "description": "Hotspots, KPIs and the impact report."},
            {"name": "service map", "description": "The map, processes and blast radius."},
            {"name": "webhooks", "description": "ServiceNow, PagerDuty and Jira events."},
            {"name": "operations", "description": "Health, readiness and metrics."},
        ],
    )
    app.state.service = state
    install_problem_handlers(app)
    for router in (incidents.router, reviews.router, service_map.router, webhooks.router,
                   health.router):  # fmt: skip
        app.include_router(router)
    from impactlens.api.dashboard import install_dashboard

    install_dashboard(app, settings)
    app.add_middleware(BodyLimit, limit=settings.api_max_body_bytes)
    app.add_middleware(RequestMetrics, metrics=state.metrics)
    return app
