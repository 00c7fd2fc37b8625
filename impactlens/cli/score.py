"""`impactlens score`: each incident's business impact, written as CSV files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from impactlens.cli.app import app, out
from impactlens.errors import InputFileError


@app.command("score")
def score(
    map_path: Annotated[Path, typer.Option("--map", help="Service map YAML file.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Directory for the output CSVs.")],
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
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="ISO 8601 moment that open incidents count up to (naive means UTC). Default: now.",
        ),
    ] = None,
) -> None:
    """Score each incident's business impact and write three CSVs to --out.

    incident_scores.csv (one row per valid incident), process_impacts.csv (one row per
    incident and process it reaches), rejected.csv (every row that could not be scored,
    with its reason).

    Example: impactlens score --map fixtures/service_map.yaml --incidents
    fixtures/incidents.csv --out out/ --as-of 2026-11-23T00:00:00Z
    """
    from impactlens.engine.impact import build_impact_model, process_impacts, score_incidents
    from impactlens.engine.resolution import resolve_services
    from impactlens.ingest.canonical import parse_canonical_incidents, read_canonical_csv
    from impactlens.service_map.load import load_service_map

    moment = _parse_as_of(as_of)
    model = build_impact_model(load_service_map(map_path))
    if incidents is not None:
        if source is not None:
            raise InputFileError(
                "--source selects incidents in the store; it does not apply with --incidents"
            )
        raw = read_canonical_csv(incidents)
        parsed, rejected = parse_canonical_incidents(raw, as_of=moment)
        rows = len(raw)
    else:
        parsed, rejected = _stored_incidents(source=source, as_of=moment)
        rows = len(parsed) + len(rejected)
    resolved = resolve_services(parsed, model.service_map)
    scores = score_incidents(resolved, model, as_of=moment)
    impacts = process_impacts(resolved, model, as_of=moment)

    out_dir.mkdir(parents=True, exist_ok=True)
    scores.to_csv(out_dir / "incident_scores.csv", index=False, float_format="%.4f")
    impacts.to_csv(out_dir / "process_impacts.csv", index=False, float_format="%.4f")
    rejected.to_csv(out_dir / "rejected.csv", index=False)
    _print_score_summary(rows, scores, rejected, moment, out_dir)


def _stored_incidents(
    *, source: str | None, as_of: pd.Timestamp
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stored incidents opened by `as_of`, and (as rejected rows) those opened after it."""
    from impactlens.cli.ingest import open_store
    from impactlens.store import load_incidents

    stored = load_incidents(open_store(), source=source)
    later = stored["opened_at"] > as_of
    rejected = stored.loc[later, ["source", "incident_id", "opened_at"]].assign(
        problem="opened after as_of",
        reason="opened_at "
        + stored.loc[later, "opened_at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        + f" is after as_of {as_of.isoformat()}",
    )
    return stored[~later].reset_index(drop=True), rejected.reset_index(drop=True)


def _parse_as_of(text: str | None) -> pd.Timestamp:
    from impactlens.moments import utc_moment

    if text is None:
        return pd.Timestamp.now(tz="UTC").floor("s")
    try:
        moment = utc_moment(text)
    except ValueError:
        moment = pd.NaT
    if moment is pd.NaT:
        raise InputFileError(
            f"--as-of {text!r} is not an ISO 8601 moment (for example 2026-11-23T00:00:00Z)"
        )
    return moment


def _print_score_summary(
    rows: int, scores: pd.DataFrame, rejected: pd.DataFrame, as_of: pd.Timestamp, out_dir: Path
) -> None:
    scored = len(scores)
    mapped = int(scores["mapped"].sum())
    share = mapped / scored if scored else 0.0
    out.print(
        f"Read {rows} rows; scored {scored} incidents as of {as_of.isoformat()}; "
        f"{mapped} mapped to a service ({share:.1%}); {len(rejected)} rejected."
    )
    out.print(
        f"Total value at risk: {scores['value_at_risk'].sum():,.2f}; "
        f"weighted business minutes lost: {scores['impact_score'].sum():,.1f}."
    )
    if len(rejected):
        top = rejected["problem"].value_counts().head(5)
        out.print(
            "Rejected rows by problem: "
            + "; ".join(f"{problem} ({count})" for problem, count in top.items())
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
    out.print(f"Wrote {out_dir}/incident_scores.csv, process_impacts.csv, rejected.csv")
