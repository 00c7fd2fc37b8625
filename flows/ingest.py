"""Flows that bring incidents into the store: an export file, or a ServiceNow pull."""

from __future__ import annotations

from typing import Any

from impactlens.flows.settings import flow_settings
from impactlens.flows.tasks import ingest_task, pull_servicenow_task
from impactlens.ingest.pipeline import IngestReport
from prefect import flow

__all__ = ["ingest_export", "pull_servicenow"]


@flow(name="ingest-export", flow_run_name="ingest-{format}")
def ingest_export(
    path: str,
    format: str,
    mapping: str | None = None,
    history: str | None = None,
    log_entries: str | None = None,
    source: str | None = None,
    timezone: str = "UTC",
    service_map: str | None = None,
    database_url: str | None = None,
    settings: dict[str, Any] | None = None,
) -> IngestReport:
    """Ingest one export (as ``impactlens ingest`` does) into the store.

    Parameters are those of ``impactlens ingest``; `service_map` reports how the map
    places the incidents; `database_url` and `settings` override the settings.
    """
    chosen = flow_settings(settings, service_map=service_map, database_url=database_url)
    return ingest_task(
        chosen,
        path,
        format=format,
        mapping=mapping,
        history=history,
        log_entries=log_entries,
        source=source,
        timezone=timezone,
    )


@flow(name="pull-servicenow", flow_run_name="pull-servicenow")
def pull_servicenow(
    since: str | None = None,
    instance: str | None = None,
    database_url: str | None = None,
    settings: dict[str, Any] | None = None,
) -> IngestReport:
    """Pull the incidents updated since the last pull from ServiceNow into the store.

    The instance and credentials come from the ``servicenow_*`` settings (credentials from
    the worker's environment); `since` bounds only the first pull of an instance.
    """
    chosen = flow_settings(settings, servicenow_instance=instance, database_url=database_url)
    return pull_servicenow_task(chosen, since=since)
