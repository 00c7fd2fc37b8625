"""The flows as Prefect deployments, with the report schedules from the settings.

`report_deployments` is what ``impactlens flows serve`` serves (and what prefect.yaml
describes for a Prefect server with a process work pool): the weekly report every
Monday at 07:00 and the monthly one on the first Monday of the month, both on the wall
clock of the ``timezone`` setting; ingesting an export and pulling ServiceNow on demand.
"""

from __future__ import annotations

from typing import Any

from impactlens.flows.ingest import ingest_export, pull_servicenow
from impactlens.flows.report import monthly_impact_report, weekly_impact_report
from prefect.schedules import Cron, Schedule

from impactlens.settings import Settings, SettingsError

__all__ = ["report_deployments", "report_schedules"]


def report_schedules(settings: Settings) -> dict[str, Schedule]:
    """The weekly and monthly report schedules (day of month AND day of week must match
    for the monthly one: ``0 7 1-7 * 1`` is the first Monday, not every Monday)."""
    return {
        "weekly": _cron(settings.weekly_schedule, settings.timezone, "weekly_schedule"),
        "monthly": _cron(
            settings.monthly_schedule, settings.timezone, "monthly_schedule", day_or=False
        ),
    }


def report_deployments(settings: Settings) -> list[Any]:
    """The deployments ``impactlens flows serve`` serves: the two report flows on their
    schedules, and the ingest flows on demand."""
    schedules = report_schedules(settings)
    return [
        weekly_impact_report.to_deployment(name="weekly", schedules=[schedules["weekly"]]),
        monthly_impact_report.to_deployment(name="monthly", schedules=[schedules["monthly"]]),
        ingest_export.to_deployment(name="on-demand"),
        pull_servicenow.to_deployment(name="on-demand"),
    ]


def _cron(cron: str, timezone: str, setting: str, *, day_or: bool = True) -> Schedule:
    try:
        return Cron(cron, timezone=timezone, day_or=day_or)
    except ValueError as error:
        raise SettingsError(
            f"{setting} {cron!r} is not a usable cron expression: {error}"
        ) from None
