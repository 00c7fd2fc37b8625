"""`impactlens score`: each incident's business impact, written as CSV files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from impactlens.cli.app import app, out
from impactlens.cli.inputs import AsOfOption, load_model, open_store, parse_as_of
from impactlens.cli.output import csv_frame
from impactlens.errors import InputFileError

SCORE_FILES = ("incident_scores.csv", "process_impacts.csv", "rejected.csv")


@app.command("score")
def score(
    out_dir: Annotated[Path, typer.Option("--out", help="Directory for the output CSVs.")],
    map_path: Annotated[
        Path | None,
        typer.Option("--map", help="Service map YAML file (default: IMPACTLENS_SERVICE_MAP)."),
    ] = None,
    incidents: Annotated[
        Path | None,
        typer.Option(
            "--incidents",
            help="Canonical incident CSV. Without it, the incidents "
            "in the store (see impactlens ingest) are scored.",
        ),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option("--source", help="From the store, only incidents of this source."),
    ] = None,
    as_of: AsOfOption = None,
) -> None:
    """Score each incident's business impact and write three CSVs to --out.

    incident_scores.csv (one row per valid incident), process_impacts.csv (one row per
    incident and process it reaches), rejected.csv (every row that could not be scored,
    with its reason).

    Example: impactlens score --map fixtures/service_map.yaml --incidents
    fixtures/incidents.csv --out out/ --as-of 2026-11-23T00:00:00Z
    """
    from impactlens.analysis import read_csv
    from impactlens.analysis import score as score_incidents
    from impactlens.engine.impact import PROCESS_IMPACT_COLUMNS
    from impactlens.settings import get_settings

    _check_out_dir(out_dir)
    settings = get_settings()
    moment = parse_as_of(as_of)
    model = load_model(map_path, settings, required=True)
    assert model is not None
    if incidents is not None:
        if source is not None:
            raise InputFileError(
                "--source selects incidents in the store; it does not apply with --incidents"
            )
        read = read_csv(incidents, as_of=moment)
        scores = score_incidents(model, as_of=moment, incidents=read)
    else:
        with open_store(settings) as store:
            scores = score_incidents(model, as_of=moment, store=store, source=source)
    facts = scores.facts
    names = {p.id: p.name for p in model.service_map.processes}
    scored = _incident_scores(facts.incidents, names, facts.map_version)
    impacts = facts.pairs[list(PROCESS_IMPACT_COLUMNS)]
    impacts.insert(2, "process", impacts["process_id"].map(names))
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        csv_frame(scored).to_csv(out_dir / SCORE_FILES[0], index=False)
        csv_frame(impacts).to_csv(out_dir / SCORE_FILES[1], index=False)
        _rejected_table(scores.rejected).to_csv(out_dir / SCORE_FILES[2], index=False)
    except OSError as error:
        raise InputFileError(f"--out {out_dir}: cannot write there ({error.strerror})") from None
    _print_summary(scores.rows_read, scored, scores.rejected, moment, out_dir, facts.map_version)


def _incident_scores(
    incidents: pd.DataFrame, process_names: dict[str, str], map_version: str | None
) -> pd.DataFrame:
    """What a lead needs per incident without a join: what, when, how bad, and why."""
    table = pd.DataFrame(
        {
            "incident_id": incidents["incident_id"],
            "priority": incidents["priority"],
            "opened_at": _iso(incidents["opened_at"]),
            "restored_at": _iso(incidents["resolved_at"]),  # resolved, else closed
            "short_description": incidents.get("short_description"),
            "mapped": incidents["mapped"],
            "service_id": incidents["service_id"],
            "severity": incidents["severity"],
            "impact_score": incidents["impact_score"],
            "impact_minutes": incidents["impact_minutes"],
            "value_at_risk": incidents["value_at_risk"],
            "top_process": incidents["top_process"],
            "top_process_name": incidents["top_process"].map(process_names),
            "explanation": incidents["explanation"],
            "mapped_by": incidents["mapped_by"],
        }
    )
    return table.assign(map_version=map_version)


def _iso(moments: pd.Series) -> pd.Series:
    return pd.to_datetime(moments, utc=True).dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_out_dir(out_dir: Path) -> None:
    """Refuse an --out that is not a folder (or cannot become one) before any work."""
    if out_dir.exists() and not out_dir.is_dir():
        raise InputFileError(f"--out {out_dir}: is not a folder (the three CSVs go in a folder)")
    parent = next((p for p in (out_dir, *out_dir.parents) if p.exists()), Path("."))
    if not parent.is_dir():
        raise InputFileError(f"--out {out_dir}: {parent} is not a folder")


def _rejected_table(rejected: pd.DataFrame) -> pd.DataFrame:
    """Rejected rows as ``line, problem, reason``, then the row's own values as columns."""
    fields = pd.DataFrame(
        [json.loads(raw) if isinstance(raw, str) else {} for raw in rejected["raw"]],
        index=rejected.index,
    )
    head = rejected[["line", "problem", "reason"]]
    return pd.concat([head, fields.drop(columns=head.columns, errors="ignore")], axis=1)


def _print_summary(
    rows: int,
    scores: pd.DataFrame,
    rejected: pd.DataFrame,
    as_of: pd.Timestamp,
    out_dir: Path,
    map_version: str | None,
) -> None:
    scored = len(scores)
    mapped = int(scores["mapped"].sum())
    share = mapped / scored if scored else 0.0
    out.print(
        f"Read {rows} rows; scored {scored} incidents as of {as_of.isoformat()} with map "
        f"version {map_version}; {mapped} mapped to a service ({share:.1%}); "
        f"{len(rejected)} rejected."
    )
    out.print(
        f"Total value at risk: {scores['value_at_risk'].sum():,.2f}; "
        f"weighted business minutes lost: {scores['impact_score'].sum():,.1f}."
    )
    if len(rejected):
        most_rejected = rejected["problem"].value_counts().head(5)
        out.print(
            "Rejected rows by problem: "
            + "; ".join(f"{problem} ({count})" for problem, count in most_rejected.items())
            + f" (see {out_dir}/rejected.csv)"
        )
    top = scores.nlargest(5, "impact_score")
    top = top[top["impact_score"] > 0]
    if len(top):
        table = Table(title="Top incidents by impact score")
        for name in ("incident", "service", "impact score", "value at risk", "explanation"):
            table.add_column(name)
        for row in top.itertuples():
            table.add_row(
                str(row.incident_id),
                str(row.service_id),
                f"{row.impact_score:,.1f}",
                f"{row.value_at_risk:,.2f}",
                str(row.explanation),
            )
        out.print(table)
    out.print(f"Wrote {out_dir}/{', '.join(SCORE_FILES)}")
