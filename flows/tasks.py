"""The flows' tasks: each a thin, coarse wrapper around one library call.

A task opens what it needs from the `Settings` it is given (the store, the map), calls
the library, logs one line of what happened and returns the library's own result. No
task recomputes what the library computes. Only I/O is retried, and only when failing
again later can help (`retry_on_io`): a bad file or a refused login is not retried.
Inputs are never hashed for caching (``NO_CACHE``): reviews and settings are large or
hold secrets, and every run must see the data as it is now.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from impactlens.engine.impact import ImpactModel, build_impact_model
from impactlens.engine.weekly import WeeklyReview
from impactlens.ingest.pipeline import IngestReport, ingest
from impactlens.reports import ArchivedReport, archive_report
from impactlens.reports.delivery import Attachment, SmtpConfig, deliver_report
from impactlens.service_map.load import load_service_map
from impactlens.store import Store
from prefect import Task, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import TaskRun
from prefect.states import State

from impactlens.analysis import review
from impactlens.errors import DeliveryUnreachableError, InvalidSettingsError
from impactlens.settings import Settings

__all__ = [
    "archive_task",
    "deliver_task",
    "ingest_task",
    "pull_servicenow_task",
    "retry_on_io",
    "review_task",
]


def retry_on_io(task: Task[Any, Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Retry only failures that waiting can cure: an unreachable mail server, a file
    share or database connection that dropped (`OSError`)."""
    error = state.result(raise_on_failure=False)
    return isinstance(error, (DeliveryUnreachableError, OSError))


@task(name="ingest export", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=30,
      retry_condition_fn=retry_on_io)  # fmt: skip
def ingest_task(
    settings: Settings,
    path: str,
    *,
    format: str,
    mapping: str | None,
    history: str | None,
    log_entries: str | None,
    source: str | None,
    timezone: str,
) -> IngestReport:
    """`ingest.pipeline.ingest` of one export into the settings' store."""
    service_map = load_service_map(settings.service_map) if settings.service_map else None
    with Store.open(settings.database_url) as store:
        report = ingest(
            path,
            store,
            format=format,
            source=source,
            mapping=mapping,
            history=history,
            log_entries=log_entries,
            timezone=timezone,
            service_map=service_map,
            tier_patterns=settings.tier_patterns,
        )
    get_run_logger().info(
        "ingested %s: %d rows, %d new, %d updated, %d unchanged, %d quarantined (run %d)",
        Path(path).name, report.rows_read, report.new, report.updated, report.unchanged,
        report.quarantined, report.run_id,
    )  # fmt: skip
    return report


@task(name="pull servicenow", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=60,
      retry_condition_fn=retry_on_io)  # fmt: skip
def pull_servicenow_task(settings: Settings, *, since: str | None) -> IngestReport:
    """`ingest.servicenow_api.pull_servicenow` into the settings' store (it retries 429s
    and 5xx itself; the task retries only a dropped connection)."""
    from impactlens.ingest.servicenow_api import ServiceNowConfig, pull_servicenow

    with Store.open(settings.database_url) as store:
        report = pull_servicenow(
            store, config=ServiceNowConfig.from_settings(settings), since=since
        )
    logger = get_run_logger()
    for note in report.notes:
        logger.info("%s", note)
    return report


@task(name="review", cache_policy=NO_CACHE)
def review_task(
    settings: Settings,
    *,
    week: str | None,
    month: str | None,
    as_of: pd.Timestamp,
    source: str | None,
) -> WeeklyReview:
    """`analysis.review` of the settings' store, with the settings' map."""
    model = _impact_model(settings)
    with Store.open(settings.database_url) as store:
        found = review(
            model,
            settings=settings.review_settings(),
            as_of=as_of,
            week=week,
            month=month,
            store=store,
            source=source,
        )
    logger = get_run_logger()
    logger.info(
        "reviewed %s %s: %d incidents opened, %d hotspot keys flagged",
        found.window.kind, found.window.week, found.coverage.incidents,
        int((found.hotspots["flag"] != "").sum()) if len(found.hotspots) else 0,
    )  # fmt: skip
    for note in found.notes:
        logger.warning("%s", note)
    return found


@task(name="archive report", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=10,
      retry_condition_fn=retry_on_io)  # fmt: skip
def archive_task(found: WeeklyReview, root: Path, formats: tuple[str, ...]) -> ArchivedReport:
    """`reports.archive_report`: every edition under ``<root>/<period>/``."""
    archived = archive_report(found, root, formats=formats)
    get_run_logger().info(
        "report written to %s (%d files)", archived.directory, len(archived.files)
    )
    return archived


@task(name="deliver report", cache_policy=NO_CACHE, retries=3, retry_delay_seconds=120,
      retry_condition_fn=retry_on_io)  # fmt: skip
def deliver_task(settings: Settings, archived: ArchivedReport, *, subject: str) -> None:
    """`reports.delivery.deliver_report` of the archived Markdown and HTML editions."""
    markdown, html = archived.markdown, archived.html
    if markdown is None or html is None:
        raise InvalidSettingsError(
            "delivering the report needs its html and md editions: add them to formats"
        )
    deliver_report(
        subject=subject,
        markdown=markdown.read_text(encoding="utf-8"),
        html=html.read_text(encoding="utf-8"),
        attachments=[Attachment.from_path(html)],
        config=SmtpConfig.from_settings(settings),
    )
    get_run_logger().info("report sent to %d recipients", len(settings.smtp_to))


def _impact_model(settings: Settings) -> ImpactModel | None:
    if settings.service_map is None:
        return None
    return build_impact_model(load_service_map(settings.service_map))
