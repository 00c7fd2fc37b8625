"""The hotspot dashboard: server-rendered pages over the same library calls as the API.

Jinja2 templates, a small CSS file, inline SVG drawings; no JavaScript: filters are GET
forms and links, signing in and out are POST forms with CSRF tokens. People sign in with
an API key (scope read or more); see `sessions`. The pages live under ``/dashboard``.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from impactlens.api.dashboard.pages import DashboardPages, router
from impactlens.api.dashboard.sessions import SessionCookies, session_secret
from impactlens.api.dashboard.views import environment

from impactlens.settings import Settings

__all__ = ["install_dashboard"]


def install_dashboard(app: FastAPI, settings: Settings) -> None:
    """Mount the dashboard's pages on `app` under ``/dashboard``, its CSS under
    ``/dashboard/static``; the session secret is read (or made) now, so a bad one stops
    the service before it listens."""
    app.state.dashboard = DashboardPages(
        templates=environment(),
        cookies=SessionCookies(session_secret(settings)),
        settings=settings,
    )
    static = StaticFiles(packages=[("impactlens.api.dashboard", "static")])
    app.mount("/dashboard/static", static, name="dashboard-static")
    app.include_router(router)
