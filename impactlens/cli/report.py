"""`impactlens report`: the weekly (or monthly) impact report, without Prefect."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from impactlens.cli.app import app, out
from impactlens.cli.inputs import (
    AsOfOption,
    HistoryOption,
    IncidentsOption,
    MapOption,
    SourceOption,
    TimezoneOption,
    WeekOption,
    weekly_review,
)
from impactlens.errors import InputFileError


@app.command("report")
def report(
    week: WeekOption = None,
    month: Annotated[
        str | None,
        typer.Option(
            "--month",
            help="Calendar month, e.g. 2026-11: the monthly edition (against the month "
            "before, with a 6-month trend). Not with --week.",
        ),
    ] = None,
    format: Annotated[
        list[str] | None,
        typer.Option(
            "--format",
            help="Edition to write: html, md, csv or json; repeat for several. Default: all.",
            show_default=False,
        ),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Reports folder: the report goes to OUT/<period>/, replacing that "
            "period's earlier report. Default: the reports_dir setting (<data_dir>/reports). '-' prints one "
            "edition (html, md or json) to stdout instead.",
        ),
    ] = None,
    map_path: MapOption = None,
    incidents: IncidentsOption = None,
    history: HistoryOption = None,
    source: SourceOption = None,
    timezone: TimezoneOption = None,
    as_of: AsOfOption = None,
) -> None:
    """Render the impact report of a week (or --month) as HTML, Markdown, CSV and JSON.

    The same report the weekly Prefect flow archives and sends: the headline, the joint
    KPI scorecard, impact per process, hotspots, common causes, mis-prioritised and
    costliest incidents, map coverage and data trust.

    Example: impactlens report --week 2026-W47 --map fixtures/service_map.yaml
    --incidents fixtures/incidents.csv --history fixtures/assignment_history.csv
    """
    from impactlens.reports import REPORT_FORMATS, archive_report, render
    from impactlens.settings import get_settings

    formats = list(dict.fromkeys(format or REPORT_FORMATS))
    unknown = [name for name in formats if name not in REPORT_FORMATS]
    if unknown:
        raise InputFileError(f"--format {unknown[0]!r} is not one of {', '.join(REPORT_FORMATS)}")
    to_stdout = out_dir is not None and str(out_dir) == "-"
    if to_stdout and (len(formats) != 1 or formats[0] == "csv"):
        raise InputFileError("--out - prints one edition: give --format html, md or json")
    if week is not None and month is not None:
        raise InputFileError("give --week or --month, not both")
    found, _ = weekly_review(
        map_path=map_path, incidents=incidents, history=history, source=source, week=week,
        month=month, as_of=as_of, timezone=timezone,
    )  # fmt: skip
    if to_stdout:
        sys.stdout.write(render(found, formats[0]))
        return
    root = out_dir if out_dir is not None else get_settings().report_archive
    archived = archive_report(found, root, formats=formats)
    out.print(
        f"Impact report of {found.window.kind} {found.window.week} written to "
        f"{archived.directory}/ ({len(archived.files)} files)."
    )
    for name in ("report.html", "report.md", "review.json"):
        path = archived.edition(name)
        if path is not None:
            out.print(f"  {path}")
