"""`impactlens store ...`: what the incident store holds, without writing SQL."""

from __future__ import annotations

from typing import Annotated

import typer

from impactlens.cli.app import app, out
from impactlens.cli.inputs import FormatOption, SourceOption, open_store, parse_as_of
from impactlens.cli.output import check_format, write_table
from impactlens.text import counted

store_app = typer.Typer(help="List what the incident store holds.", no_args_is_help=True)
app.add_typer(store_app, name="store")

LimitOption = Annotated[
    int, typer.Option("--limit", help="Show at most this many rows (newest first).", min=1)
]


@store_app.command("sources")
def store_sources(format: FormatOption = "table") -> None:
    """Each source in the store: incidents, open ones, first and last opened, last update,
    last ingest, rows quarantined.

    Example: impactlens store sources
    """
    from impactlens.settings import get_settings

    check_format(format)
    with open_store(get_settings()) as store:
        table = store.sources()
        where = store.description()
    if format == "table":
        out.print(f"{where}: {counted(len(table), 'source')}.")
        if table.empty:
            return
    write_table(table, format=format, title="Sources")


@store_app.command("incidents")
def store_incidents(
    source: SourceOption = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Opened at or after this ISO 8601 moment.")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Opened before this ISO 8601 moment.")
    ] = None,
    limit: LimitOption = 50,
    format: FormatOption = "table",
) -> None:
    """Stored incidents as the source said them (newest opened first).

    Example: impactlens store incidents --source csv --since 2026-11-16 --limit 20
    """
    from impactlens.settings import get_settings

    check_format(format)
    start = parse_as_of(since) if since else None
    end = parse_as_of(until) if until else None
    with open_store(get_settings()) as store:
        found = store.load_incidents(source=source, since=start, until=end)
    found = found.sort_values("opened_at", ascending=False, kind="stable")
    shown = found.head(limit)
    if format == "table":
        out.print(f"{counted(len(found), 'incident')}; the {len(shown)} opened last:")
        shown = shown[
            ["source", "incident_id", "opened_at", "resolved_at", "priority", "ci",
             "assignment_group", "short_description"]
        ]  # fmt: skip
    write_table(shown, format=format, title="Incidents")


@store_app.command("quarantine")
def store_quarantine(
    source: SourceOption = None,
    run: Annotated[int | None, typer.Option("--run", help="Only this ingest run's rows.")] = None,
    limit: LimitOption = 50,
    format: FormatOption = "table",
) -> None:
    """Rows that could not be read, with their line, problem and reason (newest first).

    Example: impactlens store quarantine --run 1
    """
    from impactlens.settings import get_settings

    check_format(format)
    with open_store(get_settings()) as store:
        found = store.quarantine(run_id=run, source=source)
    found = found.sort_values("id", ascending=False, kind="stable")
    shown = found.head(limit)
    if format == "table":
        out.print(f"{counted(len(found), 'quarantined row')}; the {len(shown)} newest:")
        shown = shown[["run_id", "source", "line", "problem", "reason"]]
    write_table(shown, format=format, title="Quarantine")


@store_app.command("runs")
def store_runs(
    source: SourceOption = None, limit: LimitOption = 20, format: FormatOption = "table"
) -> None:
    """Ingest runs: when, which file, and what each did (newest first).

    Example: impactlens store runs --limit 5
    """
    from impactlens.settings import get_settings

    check_format(format)
    with open_store(get_settings()) as store:
        found = store.ingest_runs(source=source)
    shown = found.sort_values("id", ascending=False, kind="stable").head(limit)
    if format == "table" and found.empty:
        out.print("No ingest runs yet: impactlens ingest FILE --format ... stores an export.")
        return
    write_table(shown, format=format, title="Ingest runs")
