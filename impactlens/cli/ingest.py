"""`impactlens ingest` and `impactlens db ...`: ITSM exports into the incident store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from impactlens.cli.app import app, out
from impactlens.cli.inputs import open_store
from impactlens.cli.output import progress_bar
from impactlens.text import counted

if TYPE_CHECKING:
    from impactlens.ingest.pipeline import IngestReport

db_app = typer.Typer(help="Manage the incident store.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the store's migrations to the database (IMPACTLENS_DATABASE_URL, or the
    embedded SQLite file .impactlens/impactlens.db).

    Example: impactlens db upgrade
    """
    from impactlens.settings import get_settings
    from impactlens.store import upgrade_database
    from impactlens.store.database import describe_database

    url = get_settings().database_url
    revision = upgrade_database(url)
    out.print(f"{describe_database(url)} is at revision {revision} (the newest).")


@app.command("ingest")
def ingest(
    file: Annotated[Path, typer.Argument(help="The export to ingest.", show_default=False)],
    format: Annotated[
        str,
        typer.Option(
            "--format",
            help="servicenow, servicenow-eventlog, jira, pagerduty or "
            "csv (the canonical CSV, or any CSV with --mapping).",
            show_default=False,
        ),
    ],
    mapping: Annotated[
        Path | None,
        typer.Option(
            "--mapping",
            help="YAML mapping for --format csv: column "
            "renames, value maps, date format, time zone, defaults.",
        ),
    ] = None,
    map_path: Annotated[
        Path | None,
        typer.Option(
            "--map",
            help="Service map (default: IMPACTLENS_SERVICE_MAP): report how it places "
            "these incidents on services and tiers them. Nothing derived is stored: "
            "analyses derive service and tier from the map they are given.",
        ),
    ] = None,
    history: Annotated[
        Path | None,
        typer.Option(
            "--history",
            help="Assignment history CSV: for the canonical CSV (incident_id, at, "
            "assignment_group), or, with --mapping, read through its history section.",
        ),
    ] = None,
    log_entries: Annotated[
        Path | None,
        typer.Option(
            "--log-entries",
            help="PagerDuty log entries JSON (GET /log_entries) for "
            "--format pagerduty: escalation levels become support tiers and history.",
        ),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option(
            "--source",
            help="Name of the system the incidents come from (default: the format's name).",
        ),
    ] = None,
    timezone: Annotated[
        str,
        typer.Option(
            "--timezone", help="IANA time zone of timestamps the export writes without one."
        ),
    ] = "UTC",
) -> None:
    """Read an ITSM export into the incident store; print what it did.

    Re-ingesting the same file changes nothing; a newer update of an incident replaces
    the stored one, an older one never does. Rows that cannot be read are quarantined
    with their reason; the rest land, in one transaction.

    Example: impactlens ingest incident_event_log.csv.gz --format servicenow-eventlog
    """
    from impactlens.ingest.pipeline import ingest as ingest_export
    from impactlens.moments import time_zone
    from impactlens.service_map.load import load_service_map
    from impactlens.settings import get_settings

    time_zone(timezone, where="--timezone")  # before the store is opened (or created)
    settings = get_settings()
    map_file = map_path or settings.service_map
    service_map = load_service_map(map_file) if map_file is not None else None
    with (
        open_store(settings) as store,
        progress_bar() as progress,
    ):
        step = progress.add_task(f"Ingesting {file.name}", total=None)
        report = ingest_export(
            file,
            store,
            format=format,
            source=source,
            mapping=mapping,
            history=history,
            log_entries=log_entries,
            timezone=timezone,
            service_map=service_map,
            tier_patterns=settings.tier_patterns,
            on_progress=lambda done, total: progress.update(
                step, description="Saving incidents", completed=done, total=total
            ),
        )
    _print_summary(report)


def _print_summary(report: IngestReport) -> None:
    out.print(
        f"Read {report.rows_read:,} rows: {counted(report.new, 'new incident')}, "
        f"{report.updated:,} updated, {report.unchanged:,} unchanged, "
        f"{counted(report.quarantined, 'row')} quarantined (ingest run {report.run_id})."
    )
    if report.blank_rows:
        out.print(f"  Skipped {counted(report.blank_rows, 'wholly blank row')} (not quarantined).")
    if report.already_quarantined:
        out.print(
            f"  {counted(report.already_quarantined, 'bad row')} already in the quarantine "
            "(not stored twice)."
        )
    problems = list(report.quarantined_by_problem.items())
    if problems:
        shown = "; ".join(f"{problem} ({count:,})" for problem, count in problems[:8])
        more = f"; and {len(problems) - 8} more kinds" if len(problems) > 8 else ""
        out.print(f"  Bad rows, by problem: {shown}{more}")
    decided = "; ".join(f"{rule} {count:,}" for rule, count in report.tier_rules.items() if count)
    out.print(f"  Support tiers decided by: {decided or 'no incidents'}.")
    placed = "; ".join(
        f"{rule}: {counted(groups, 'group')} ({counted(incidents, 'incident')})"
        for rule, (groups, incidents) in report.tier_groups.items()
        if groups
    )
    if placed:
        out.print(f"  Assignment groups placed by {placed}.")
    if report.unplaced_groups:
        listed = ", ".join(f"{group} ({count:,})" for group, count in report.unplaced_groups)
        out.print(f"  Most frequent groups no rule places: {listed}.")
    if report.mapped is not None:
        share = report.mapped / report.incidents if report.incidents else 0.0
        out.print(
            f"  Resolved to a service of the map (version {report.map_version}): "
            f"{report.mapped:,} of {counted(report.incidents, 'incident')} ({share:.1%})."
        )
    for note in report.notes:
        out.print(f"  Note: {note}")
