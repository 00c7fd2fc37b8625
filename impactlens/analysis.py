"""Analyses of stored or exported incidents: the library calls the surfaces share.

Each surface (the CLI, the Prefect flows, the API, the report, the benchmarks) reads
incidents in one of two ways, from the store (`impactlens.store.Store`) or from a
canonical incident CSV, and asks one of two questions: what did each incident cost
(`score`), and what happened this week (`review`). This module is where those
compositions live, once: read, then `engine.facts.incident_facts` or
`engine.weekly.review_week`. Nothing here prints.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from impactlens.engine.facts import IncidentFacts, incident_facts
from impactlens.engine.impact import ImpactModel
from impactlens.engine.weekly import ReviewSettings, WeeklyReview, default_week, review_week
from impactlens.engine.weekly import review_window as week_window
from impactlens.errors import ImpactlensError, InputFileError, InvalidWeekError
from impactlens.ingest.batch import REJECTED_COLUMNS
from impactlens.ingest.pipeline import read_export
from impactlens.moments import utc_moment
from impactlens.store import Store

__all__ = [
    "DATA_TRUST_COLUMNS",
    "Incidents",
    "Scores",
    "UnknownSourceError",
    "read_csv",
    "review",
    "score",
]


DATA_TRUST_COLUMNS = (
    "source", "incidents", "newest_incident", "last_ingest", "quarantined", "quarantined_over",
    "reasons",
)  # fmt: skip


class UnknownSourceError(ImpactlensError):
    """A ``--source`` the store holds no incidents of."""


@dataclass(frozen=True)
class Incidents:
    """Incidents read for an analysis, with where they came from.

    ``rejected`` holds the rows that could not be read (`ingest.batch.REJECTED_COLUMNS`);
    ``extent`` the first and last ``opened_at`` of all the data (for the notes).
    """

    incidents: pd.DataFrame
    history: pd.DataFrame
    rejected: pd.DataFrame
    rows_read: int
    origin: str
    extent: tuple[pd.Timestamp | None, pd.Timestamp | None]


@dataclass(frozen=True)
class Scores:
    """Each incident's impact (``facts``), and the rows that could not be scored."""

    facts: IncidentFacts
    rejected: pd.DataFrame
    rows_read: int
    as_of: pd.Timestamp


def read_csv(
    incidents: str | Path,
    *,
    history: str | Path | None = None,
    now: pd.Timestamp | None = None,
    as_of: pd.Timestamp | None = None,
) -> Incidents:
    """A canonical incident CSV (and its assignment history CSV) as `Incidents`.

    Read as ``impactlens ingest --format csv`` reads it, without storing anything. With
    `as_of`, incidents opened after it are rejected rows (with their line).
    """
    moment = utc_moment(now) if now is not None else pd.Timestamp.now(tz="UTC")
    read = read_export(incidents, format="csv", history=history, now=moment, as_of=as_of)
    batch = read.batch
    opened = batch.incidents["opened_at"]
    extent = (opened.min(), opened.max()) if opened.notna().any() else (None, None)
    return Incidents(
        incidents=batch.incidents,
        history=batch.history,
        rejected=batch.rejected,
        rows_read=read.records,
        origin=str(incidents),
        extent=extent,
    )


def score(
    model: ImpactModel,
    *,
    as_of: pd.Timestamp,
    store: Store | None = None,
    source: str | None = None,
    incidents: Incidents | None = None,
) -> Scores:
    """Score every incident of `incidents` (read with `read_csv`), or of the `store`.

    Incidents opened after `as_of` are not scored: they join the rejected rows, with
    their reason.
    """
    as_of = utc_moment(as_of)
    if incidents is None:
        if store is None:
            raise InputFileError("nothing to score: give incidents or a store")
        _check_source(store, source)
        stored = store.load_incidents(source=source)
        incidents = Incidents(
            incidents=stored,
            history=pd.DataFrame(),
            rejected=pd.DataFrame({name: [] for name in REJECTED_COLUMNS}),
            rows_read=len(stored),
            origin=store.description(),
            extent=(None, None),
        )
    table = incidents.incidents
    later = (pd.to_datetime(table["opened_at"], utc=True) > as_of).to_numpy()
    facts = incident_facts(table[~later], None, model, as_of=as_of)
    rejected = pd.concat(
        [incidents.rejected, _opened_after(table[later], as_of)], ignore_index=True
    )
    return Scores(facts=facts, rejected=rejected, rows_read=incidents.rows_read, as_of=as_of)


def review(
    model: ImpactModel | None,
    *,
    settings: ReviewSettings,
    as_of: pd.Timestamp,
    week: str | None = None,
    month: str | None = None,
    store: Store | None = None,
    source: str | None = None,
    incidents: Incidents | None = None,
) -> WeeklyReview:
    """Review `week` (default: the last full week before `as_of`), or calendar `month`,
    of `incidents` (read with `read_csv`) or of the `store` (only the periods the review
    needs are read, in one transaction; `source` picks one source).

    The review's ``data_trust`` says, per source, how fresh the data is and what was
    quarantined in the period: from the store, or from the CSV's rejected rows.
    """
    as_of = utc_moment(as_of)
    if week is not None and month is not None:
        raise InvalidWeekError("a review covers a week or a month: give one, not both")
    kind = "month" if month is not None else "week"
    window = week_window(
        month or week or default_week(as_of, settings, kind=kind), settings, kind=kind
    )
    if incidents is None:
        if store is None:
            raise InputFileError("nothing to review: give incidents or a store")
        _check_source(store, source)
        stored = store.load_week(since=window.since, until=window.end, source=source)
        table, history = stored.incidents, stored.history
        extent = store.data_extent(source=source)
        trust = _store_trust(store, window.start, source)
    else:
        table, history, extent = incidents.incidents, incidents.history, incidents.extent
        trust = _csv_trust(incidents)
    return review_week(
        table,
        history,
        model,
        week=window.week if kind == "week" else None,
        month=window.week if kind == "month" else None,
        settings=settings,
        as_of=as_of,
        data_extent=extent,
        data_trust=trust,
    )


def _store_trust(store: Store, start: pd.Timestamp, source: str | None) -> pd.DataFrame:
    """Per source: incidents stored, the newest, the last ingest, and the rows
    quarantined since `start` (received then or later: the rows this period may miss),
    with their most frequent problems."""
    sources = store.sources()
    if source is not None:
        sources = sources[sources["source"] == source]
    held = store.quarantine(since=start, source=source)
    rows = []
    for row in sources.to_dict("records"):
        mine = held[held["source"] == row["source"]]
        rows.append(
            {
                "source": str(row["source"]),
                "incidents": int(row["incidents"]),
                "newest_incident": _moment_text(row["last_opened"]),
                "last_ingest": _moment_text(row["last_ingest"]),
                "quarantined": len(mine),
                "quarantined_over": f"since {start:%Y-%m-%d %H:%M} UTC",
                "reasons": _top_reasons(mine["problem"]),
            }
        )
    return pd.DataFrame(rows, columns=list(DATA_TRUST_COLUMNS))


def _csv_trust(incidents: Incidents) -> pd.DataFrame:
    """One row per source of a CSV read: its incidents and the rows it could not read."""
    table, rejected = incidents.incidents, incidents.rejected
    names = sorted(set(table["source"].astype(str)) | set(rejected["source"].dropna().astype(str)))
    rows = []
    for name in names:
        mine = table[table["source"].astype(str) == name]
        bad = rejected[rejected["source"].astype(str) == name]
        newest = pd.to_datetime(mine["opened_at"], utc=True).max() if len(mine) else None
        rows.append(
            {
                "source": name,
                "incidents": len(mine),
                "newest_incident": _moment_text(newest),
                "last_ingest": f"read from {incidents.origin}",
                "quarantined": len(bad),
                "quarantined_over": "rows of the file it could not read",
                "reasons": _top_reasons(bad["problem"]),
            }
        )
    return pd.DataFrame(rows, columns=list(DATA_TRUST_COLUMNS))


def _moment_text(moment: object) -> str:
    """A stored moment as ``2026-11-23 07:00 UTC`` ("" when unknown)."""
    if moment is None or pd.isna(moment):  # type: ignore[call-overload]
        return ""
    return f"{utc_moment(pd.Timestamp(str(moment))):%Y-%m-%d %H:%M} UTC"


def _top_reasons(problems: pd.Series) -> str:
    counts = problems.astype(str).value_counts()
    top = counts.sort_index().sort_values(ascending=False, kind="stable").head(3)
    return "; ".join(f"{problem} ({count:,})" for problem, count in top.items())


def _check_source(store: Store, source: str | None) -> None:
    if source is None:
        return
    known = store.sources()["source"].astype(str).tolist()
    if source not in known:
        there = ", ".join(known) if known else "none yet"
        raise UnknownSourceError(
            f"the store {store.description()} holds no incidents of source {source!r} "
            f"(sources there: {there})"
        )


def _opened_after(rows: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Incidents opened after `as_of` as rejected rows (the file line, where known)."""
    opened = pd.to_datetime(rows["opened_at"], utc=True).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    raw = [
        json.dumps({"incident_id": str(i), "opened_at": str(o)})
        for i, o in zip(rows["incident_id"], opened, strict=True)
    ]
    return pd.DataFrame(
        {
            "source": rows["source"].astype("string").to_numpy(),
            "line": (
                # pandas-stubs: pd.array takes no Series with dtype "Int64", though pandas does
                pd.array(rows["line"], dtype="Int64")  # type: ignore[call-overload]
                if "line" in rows.columns
                else pd.array([pd.NA] * len(rows), dtype="Int64")
            ),
            "problem": "opened after as_of",
            "reason": ("opened_at " + opened + f" is after as_of {as_of.isoformat()}").to_numpy(),
            "raw": raw,
        }
    )
