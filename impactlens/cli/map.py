"""`impactlens map ...`: check a service map, its blast radius, import an edge list."""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from impactlens.cli.app import err, map_app, out
from impactlens.errors import InputFileError, excerpt
from impactlens.text import counted

MapPath = Annotated[Path, typer.Argument(help="Service map YAML file.", show_default=False)]


@map_app.command("check")
def map_check(
    map_path: MapPath,
    incidents: Annotated[
        Path | None,
        typer.Option(
            "--incidents",
            help="Canonical incident CSV: also report how many "
            "incidents the map resolves to a service.",
        ),
    ] = None,
) -> None:
    """Validate a service map and print its quality report.

    Exit code 0 when the map is valid, 2 when it is not (every error is listed with its
    place, such as services[3].aliases[1]).

    Example: impactlens map check fixtures/service_map.yaml --incidents fixtures/incidents.csv
    """
    from impactlens.engine.resolution import resolve_services
    from impactlens.ingest.canonical import parse_canonical_incidents, read_canonical_csv
    from impactlens.service_map.graph import impact_graph
    from impactlens.service_map.load import load_service_map
    from impactlens.service_map.quality import quality_report

    service_map = load_service_map(map_path)
    report = quality_report(service_map, impact_graph(service_map))
    out.print(
        f"{map_path}: valid. {report.services} services, {report.redundancy_groups} "
        f"redundancy groups, {report.processes} business processes, "
        f"{report.dependencies} dependencies, {report.supports} supports."
    )
    findings = report.findings
    if findings:
        out.print(f"{counted(len(findings), 'finding')}:")
        for finding in findings:
            out.print(f"  - {finding}")
    else:
        out.print("No findings.")
    if incidents is not None:
        parsed, _ = parse_canonical_incidents(read_canonical_csv(incidents))
        resolved = resolve_services(parsed, service_map)
        _print_coverage(resolved)


def _print_coverage(resolved: pd.DataFrame) -> None:
    total = len(resolved)
    if total == 0:
        out.print("Coverage: no valid incidents to resolve.")
        return
    by = resolved["mapped_by"].value_counts()
    unmapped = resolved[~resolved["mapped"]]
    out.print(
        f"Coverage: {total - len(unmapped)} of {total} incidents resolved to a service "
        f"({(total - len(unmapped)) / total:.1%}): {by.get('ci', 0)} by CI, "
        f"{by.get('match', 0)} by match rules; {len(unmapped)} unresolved "
        f"({len(unmapped) / total:.1%})."
    )
    unknown = unmapped["ci"].dropna().value_counts().head(5)
    if len(unknown):
        listed = ", ".join(f"{ci} ({count})" for ci, count in unknown.items())
        out.print(f"  Most frequent CIs not in the map: {listed}")


@map_app.command("blast-radius")
def map_blast_radius(
    map_path: MapPath,
    service: Annotated[
        str,
        typer.Argument(
            help="Service: its id, an alias or the CI name the ITSM tool uses (or a "
            "redundancy group's id).",
            show_default=False,
        ),
    ],
) -> None:
    """List every business process a service's failure reaches, with exposure and path.

    Example: impactlens map blast-radius fixtures/service_map.yaml payments-api
    """
    from impactlens.engine.blast_radius import blast_radius
    from impactlens.engine.impact import build_impact_model
    from impactlens.service_map.load import load_service_map

    model = build_impact_model(load_service_map(map_path))
    service_id, reached = blast_radius(model, service)
    named = f"{service_id} ({service})" if service_id != service else service_id
    if reached.empty:
        out.print(f"{named} reaches no business process on its own.")
        return
    table = Table(title=f"Blast radius of {named}")
    for name in ("process", "criticality", "exposure", "value/hour at risk", "path"):
        table.add_column(name, overflow="fold")
    for row in reached.itertuples():
        table.add_row(
            str(row.process_id),
            str(row.criticality),
            f"{row.exposure:.3g}",
            f"{row.value_per_hour_at_risk:,.0f}",
            str(row.path),
        )
    out.print(table)


@map_app.command("import-edges")
def map_import_edges(
    edges: Annotated[Path, typer.Argument(help="CSV edge list: caller depends on callee.")],
    caller: Annotated[str | None, typer.Option(help="Caller column (default: the first).")] = None,
    callee: Annotated[str | None, typer.Option(help="Callee column (default: the second).")] = None,
    output: Annotated[
        Path | None, typer.Option("--out", help="Write the YAML here instead of printing it.")
    ] = None,
) -> None:
    """Turn an edge list (caller,callee) into a service map skeleton (YAML).

    Example: impactlens map import-edges edges.csv --out service_map.yaml
    """
    from impactlens.service_map.edge_list import parse_edge_list, skeleton_yaml
    from impactlens.service_map.load import read_text

    if output is not None:
        _check_output_file(output)  # before the work, not after it
    text = read_text(edges, what="edge list")
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if not header:
        raise InputFileError(f"edge list {edges}: empty file")
    columns = []
    for wanted, default in ((caller, 0), (callee, 1)):
        if wanted is None:
            if len(header) < 2:
                raise InputFileError(f"edge list {edges}: needs two columns, caller and callee")
            columns.append(default)
        elif wanted in header:
            columns.append(header.index(wanted))
        else:
            raise InputFileError(
                f"edge list {edges}: no column {excerpt(wanted)} "
                f"(columns: {excerpt(', '.join(header), quote=False)})"
            )
    rows = [
        [row[columns[0]], row[columns[1]]] if len(row) > max(columns) else row
        for row in reader
        if any(cell.strip() for cell in row)
    ]
    records = parse_edge_list(rows, source=f"edge list {edges}")
    text = skeleton_yaml(records, source=edges.name)
    if output is None:
        sys.stdout.write(text)
    else:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as error:  # a full disk, a read-only file system, ...
            raise InputFileError(f"--out {output}: cannot write it ({_reason(error)})") from None
        err.print(
            f"Wrote {output}: {len(records['services'])} services, "
            f"{len(records['dependencies'])} dependencies."
        )


def _check_output_file(output: Path) -> None:
    """Refuse an ``--out`` that cannot become the file: a folder, a missing folder, no rights."""
    if output.is_dir():
        raise InputFileError(
            f"--out {output}: is a folder; give a file name such as {output / 'service_map.yaml'}"
        )
    folder = output.parent
    if not folder.is_dir():
        what = f"{folder} is a file, not a folder" if folder.exists() else f"no folder {folder}"
        raise InputFileError(f"--out {output}: {what}")
    if output.exists() and not os.access(output, os.W_OK):
        raise InputFileError(f"--out {output}: the file is not writable (permission denied)")
    if not output.exists() and not os.access(folder, os.W_OK | os.X_OK):
        raise InputFileError(f"--out {output}: the folder {folder} is not writable")


def _reason(error: OSError) -> str:
    return error.strerror or type(error).__name__
