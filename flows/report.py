"""The weekly (and monthly) impact report flows: the product's main job.

Every Monday morning `weekly_impact_report` pulls the new incidents (an export file,
ServiceNow when it is configured), reviews last week from the store, archives every
edition of the report under ``<reports_dir>/<YYYY-Www>/`` (re-running a week replaces
its folder) and mails it when delivery is configured. The run is named after its week
and shows the headline figures and a link to the report as a Prefect artifact.
`monthly_impact_report` does the same for a calendar month, on the first Monday.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pandas as pd
from impactlens.engine.weekly import default_week
from impactlens.flows.settings import flow_settings
from impactlens.flows.tasks import (
    archive_task,
    deliver_task,
    ingest_task,
    pull_servicenow_task,
    review_task,
)
from impactlens.reports import REPORT_FORMATS, ArchivedReport, summary_markdown
from prefect import flow
from prefect.artifacts import create_markdown_artifact

from impactlens.errors import ImpactlensError, InvalidSettingsError
from impactlens.moments import utc_moment
from impactlens.settings import Settings

__all__ = ["ReportRun", "monthly_impact_report", "weekly_impact_report"]

TOP_HOTSPOTS = 5
ReportRun = dict[str, Any]  # what a report flow returns: period, folder, files, figures


def _run_name(kind: str) -> Callable[[], str]:
    """The run's name, ``weekly-impact-report-2026-W47``: its period, even by default."""

    def name() -> str:
        from prefect.runtime import flow_run

        parameters = flow_run.parameters
        period = parameters.get(kind)
        if not period:
            try:
                settings = flow_settings(parameters.get("settings"))
                moment = utc_moment(parameters.get("as_of") or pd.Timestamp.now(tz="UTC"))
                period = default_week(moment, settings.review_settings(), kind=kind)
            except (ImpactlensError, ValueError):
                period = "latest"
        return f"{kind}ly-impact-report-{period}"

    return name


def _impact_report(
    *,
    kind: str,
    period: str | None,
    as_of: datetime | None,
    export: str | None,
    export_format: str,
    history: str | None,
    mapping: str | None,
    source: str | None,
    pull: bool,
    deliver: bool | None,
    formats: tuple[str, ...],
    settings: Settings,
) -> ReportRun:
    """Pull -> review -> archive -> deliver -> artifact, for one week or month."""
    moment = utc_moment(as_of) if as_of is not None else pd.Timestamp.now(tz="UTC").floor("s")
    if export is not None:
        ingest_task(
            settings, export, format=export_format, mapping=mapping, history=history,
            log_entries=None, source=source, timezone=settings.timezone,
        )  # fmt: skip
    if pull and settings.servicenow_instance:
        pull_servicenow_task(settings, since=None)
    found = review_task(
        settings,
        week=period if kind == "week" else None,
        month=period if kind == "month" else None,
        as_of=moment,
        source=source,
    )
    archived = archive_task(found, settings.report_archive, formats)
    if _delivers(deliver, settings):
        deliver_task(settings, archived, subject=_subject(found.window.kind, found.window.week))
    _artifact(found, archived, kind=kind)
    return _outcome(found, archived)


def _delivers(deliver: bool | None, settings: Settings) -> bool:
    configured = bool(settings.smtp_host and settings.smtp_to)
    if deliver and not configured:
        raise InvalidSettingsError(
            "deliver=True but no mail delivery is configured: set smtp_host and smtp_to"
        )
    return configured if deliver is None else deliver


def _subject(kind: str, period: str) -> str:
    return f"Impact report, {kind} {period}"


def _artifact(found: Any, archived: ArchivedReport, *, kind: str) -> None:
    page = archived.html or archived.markdown
    link = page.as_uri() if page is not None else archived.directory.as_uri()
    create_markdown_artifact(
        key=f"{kind}ly-impact-report",
        markdown=summary_markdown(found, link=link),
        description=f"Impact report of {found.window.kind} {found.window.week}",
    )


def _outcome(found: Any, archived: ArchivedReport) -> ReportRun:
    return {
        "period": found.window.week,
        "kind": found.window.kind,
        "directory": str(archived.directory),
        "files": [str(path) for path in archived.files],
        "incidents": found.coverage.incidents,
        "top_hotspots": found.hotspots.head(TOP_HOTSPOTS).to_dict("records"),
        "hotspots_flagged": int((found.hotspots["flag"] != "").sum()) if len(found.hotspots) else 0,
    }


@flow(name="weekly-impact-report", flow_run_name=_run_name("week"))
def weekly_impact_report(
    week: str | None = None,
    as_of: datetime | None = None,
    export: str | None = None,
    export_format: str = "csv",
    history: str | None = None,
    mapping: str | None = None,
    source: str | None = None,
    pull: bool = True,
    deliver: bool | None = None,
    formats: tuple[str, ...] = REPORT_FORMATS,
    service_map: str | None = None,
    database_url: str | None = None,
    reports_dir: str | None = None,
    settings: dict[str, Any] | None = None,
) -> ReportRun:
    """Review `week` (ISO, default: last week) and publish its impact report.

    Parameters
    ----------
    as_of
        The moment open incidents count up to (default: now); the default period is the
        last full one before it.
    export, export_format, history, mapping, source
        An export to ingest first (as ``impactlens ingest`` takes it); `source` also
        limits the review to that source.
    pull
        Pull from ServiceNow first when ``servicenow_instance`` is configured.
    deliver
        Mail the report: None (default) when SMTP is configured, True to require it.
    formats
        The editions to archive (html, md, csv, json; delivery needs html and md).
    service_map, database_url, reports_dir, settings
        Override the settings (`flows.settings.flow_settings`).

    Returns
    -------
    dict
        ``period``, ``kind``, ``directory`` (the archive folder), ``files``,
        ``incidents`` (opened in the period), ``hotspots_flagged`` and
        ``top_hotspots`` (the first `TOP_HOTSPOTS` rows of the review's hotspots).
    """
    return _impact_report(
        kind="week", period=week, as_of=as_of, export=export, export_format=export_format,
        history=history, mapping=mapping, source=source, pull=pull, deliver=deliver,
        formats=formats,
        settings=flow_settings(
            settings, service_map=service_map, database_url=database_url, reports_dir=reports_dir
        ),
    )  # fmt: skip


@flow(name="monthly-impact-report", flow_run_name=_run_name("month"))
def monthly_impact_report(
    month: str | None = None,
    as_of: datetime | None = None,
    export: str | None = None,
    export_format: str = "csv",
    history: str | None = None,
    mapping: str | None = None,
    source: str | None = None,
    pull: bool = True,
    deliver: bool | None = None,
    formats: tuple[str, ...] = REPORT_FORMATS,
    service_map: str | None = None,
    database_url: str | None = None,
    reports_dir: str | None = None,
    settings: dict[str, Any] | None = None,
) -> ReportRun:
    """Review calendar `month` (``2026-11``, default: last month) and publish its report:
    the monthly service performance review's edition. The other parameters and the
    result are `weekly_impact_report`'s."""
    return _impact_report(
        kind="month", period=month, as_of=as_of, export=export, export_format=export_format,
        history=history, mapping=mapping, source=source, pull=pull, deliver=deliver,
        formats=formats,
        settings=flow_settings(
            settings, service_map=service_map, database_url=database_url, reports_dir=reports_dir
        ),
    )  # fmt: skip
