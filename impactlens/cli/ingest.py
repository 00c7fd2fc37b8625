"""`impactlens ingest` and `impactlens db ...`: ITSM exports into the incident store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from impactlens.cli.app import app, err, out

db_app = typer.Typer(help="Manage the incident store.", no_args_is_help=True)
app.add_typer(db_app, name="db")


def open_store():
    """The store's engine, its schema created when the database is new.

    An existing database at an older revision is refused (`require_head` says to run
    ``impactlens db upgrade``): migrating someone's data is their call, not a side effect.
    """
    from impactlens.settings import get_settings
    from impactlens.store import create_engine_for, current_revision, upgrade_database
    from impactlens.store.database import connect, describe_database

    url = get_settings().database_url
    engine = create_engine_for(url)
    with connect(engine) as connection:
        fresh = current_revision(connection) is None and not _has_tables(connection)
    if fresh:
        revision = upgrade_database(engine)
        err.print(f"Created the incident store at {describe_database(url)} (revision {revision}).")
    return engine


def _has_tables(connection) -> bool:
    from sqlalchemy import inspect

    return bool(inspect(connection).get_table_names())


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
            help="Service map: support tiers from its "
            "support_tiers, and incidents resolved to its services.",
        ),
    ] = None,
    history: Annotated[
        Path | None,
        typer.Option(
            "--history",
            help="Assignment history CSV (incident_id, "
            "at, assignment_group) for the canonical CSV.",
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
    from impactlens.engine.resolution import resolve_services
    from impactlens.ingest.formats import read_batch
    from impactlens.ingest.plausibility import reject_implausible
    from impactlens.ingest.tiers import assign_support_tiers, tier_rule_counts
    from impactlens.service_map.load import load_service_map
    from impactlens.store import save_batch

    service_map = load_service_map(map_path) if map_path is not None else None
    engine = open_store()
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,  # no spinner frames in logs and pipes
    ) as progress:
        step = progress.add_task(f"Reading {file.name}", total=None)
        read = read_batch(
            file,
            format=format,
            source=source,
            mapping=mapping,
            history=history,
            log_entries=log_entries,
            timezone=timezone,
        )
        batch = reject_implausible(read.batch, now=pd.Timestamp.now(tz="UTC"))
        batch, tier_rules = assign_support_tiers(batch, service_map=service_map)
        if service_map is not None:
            resolved = resolve_services(batch.incidents, service_map)
            batch.incidents["service_id"] = resolved["service_id"].to_numpy()
        progress.update(
            step, description="Saving incidents", total=len(batch.incidents), completed=0
        )
        summary = save_batch(
            engine,
            batch,
            source_file=str(file),
            format=format,
            rows_read=read.records,
            on_progress=lambda done, total: progress.update(step, completed=done, total=total),
        )
    _print_summary(summary, batch, tier_rule_counts(tier_rules), mapped=service_map is not None)


def _print_summary(summary, batch, tier_rules: dict[str, int], *, mapped: bool) -> None:
    out.print(
        f"Read {summary.rows_read:,} rows: {summary.new:,} new incidents, "
        f"{summary.updated:,} updated, {summary.unchanged:,} unchanged, "
        f"{summary.quarantined:,} rows quarantined (ingest run {summary.run_id})."
    )
    if summary.quarantined:
        problems = batch.rejected["problem"].value_counts()
        shown = "; ".join(f"{problem} ({count:,})" for problem, count in problems.head(8).items())
        more = f"; and {len(problems) - 8} more kinds" if len(problems) > 8 else ""
        out.print(f"  Quarantined, by problem: {shown}{more}")
    decided = "; ".join(f"{rule} {count:,}" for rule, count in tier_rules.items() if count)
    out.print(f"  Support tiers decided by: {decided or 'no incidents'}.")
    if mapped:
        incidents = batch.incidents
        share = incidents["service_id"].notna().mean() if len(incidents) else 0.0
        out.print(
            f"  Resolved to a service of the map: {int(incidents['service_id'].notna().sum()):,}"
            f" of {len(incidents):,} incidents ({share:.1%})."
        )
