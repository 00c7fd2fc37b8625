"""Ingesting an export: the one library call every surface uses.

``read -> adapt -> plausibility -> save``: `read_export` reads a file in one of the
formats (`ingest.formats`) into a canonical batch and quarantines incidents with
impossible timestamps; `ingest` stores that batch in one transaction and returns an
`IngestReport`. The CLI's ``impactlens ingest``, the Prefect flow and the API's
``POST /v1/incidents`` (through `ingest_batch`) all come here.

What is stored is what the source said. The support tier and the service of each
incident are derived at analysis, from the map given then (`engine.facts`); given a map
here, the report says how that map would place and tier these incidents.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd
from impactlens.engine.resolution import resolve_services
from impactlens.engine.tiers import DEFAULT_TIER_PATTERNS, TierPattern, support_tiers
from impactlens.ingest.batch import IngestBatch
from impactlens.ingest.formats import ReadBatch, read_batch
from impactlens.ingest.plausibility import reject_implausible
from impactlens.service_map.model import ServiceMap
from impactlens.service_map.version import map_version
from impactlens.store import Store, Watermark

from impactlens.moments import utc_moment

__all__ = [
    "EVENTS_FORMAT",
    "RECORDS_FORMAT",
    "IngestReport",
    "ingest",
    "ingest_batch",
    "ingest_events",
    "ingest_records",
    "read_export",
]

log = logging.getLogger(__name__)
Progress = Callable[[int, int], None]
RECORDS_FORMAT = "records"  # how an ingest run of `ingest_records` names its format
EVENTS_FORMAT = "webhook"  # and one of `ingest_events`


@dataclass(frozen=True)
class IngestReport:
    """What one ingest did; ``new + updated + unchanged`` is the incidents read.

    ``quarantined``: rows newly quarantined; ``already_quarantined``: bad rows the
    quarantine held already (a re-ingest does not store them twice);
    ``quarantined_by_problem``: the file's bad rows, by kind of problem, most first.
    ``tier_rules``: incidents per rule that decides their support tier
    (`engine.tiers.TIER_RULES`), with the map given if any; ``tier_groups``: per rule
    that places groups, (groups placed, incidents those groups handled);
    ``unplaced_groups``: the groups no rule placed that handled the most incidents, with
    that count. ``mapped``: incidents that map resolves to a service (None without a
    map). ``notes``: what the reader should know. ``blank_rows``: wholly blank rows of
    the file skipped (never quarantined). ``rejected``: every row of the batch that was
    not stored (``line``, ``problem``, ``reason``), new to the quarantine or not.
    """

    run_id: int
    source_file: str
    format: str
    rows_read: int
    new: int
    updated: int
    unchanged: int
    quarantined: int
    quarantined_by_problem: Mapping[str, int]
    tier_rules: Mapping[str, int]
    incidents: int
    mapped: int | None = None
    map_version: str | None = None
    notes: tuple[str, ...] = field(default=())
    blank_rows: int = 0
    already_quarantined: int = 0
    tier_groups: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    unplaced_groups: tuple[tuple[str, int], ...] = ()
    rejected: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame({"line": [], "problem": [], "reason": []})
    )


def read_export(
    path: str | Path,
    *,
    format: str,
    now: pd.Timestamp,
    source: str | None = None,
    mapping: str | Path | None = None,
    history: str | Path | None = None,
    log_entries: str | Path | None = None,
    timezone: str = "UTC",
    as_of: pd.Timestamp | None = None,
) -> ReadBatch:
    """Read and adapt `path`, then quarantine incidents whose timestamps cannot be true.

    `now` is the moment the plausibility check compares with (a day of clock skew is
    allowed). The options are those of `ingest.formats.read_batch`.
    """
    read = read_batch(
        path,
        format=format,
        source=source,
        mapping=mapping,
        history=history,
        log_entries=log_entries,
        timezone=timezone,
        as_of=as_of,
    )
    return replace(read, batch=reject_implausible(read.batch, now=utc_moment(now)))


def ingest(
    path: str | Path,
    store: Store,
    *,
    format: str,
    source: str | None = None,
    mapping: str | Path | None = None,
    history: str | Path | None = None,
    log_entries: str | Path | None = None,
    timezone: str = "UTC",
    service_map: ServiceMap | None = None,
    tier_patterns: Sequence[TierPattern] = DEFAULT_TIER_PATTERNS,
    now: pd.Timestamp | None = None,
    on_progress: Progress | None = None,
) -> IngestReport:
    """Read the export at `path` into `store`, in one transaction; what it did.

    Re-ingesting the same export changes nothing; an incident whose ``updated_at`` is
    newer replaces the stored one, an older one never does. Rows that cannot be read
    are quarantined with their reason; the rest land. `on_progress` is called with
    ``(incidents_written, incidents_to_write)`` while saving.
    """
    moment = utc_moment(now) if now is not None else pd.Timestamp.now(tz="UTC")
    read = read_export(
        path,
        format=format,
        now=moment,
        source=source,
        mapping=mapping,
        history=history,
        log_entries=log_entries,
        timezone=timezone,
    )
    return ingest_batch(
        read,
        store,
        source_file=str(path),
        format=format,
        service_map=service_map,
        tier_patterns=tier_patterns,
        on_progress=on_progress,
    )


def ingest_records(
    records: Sequence[Mapping[str, object]],
    store: Store,
    *,
    source: str,
    history: Sequence[Mapping[str, object]] = (),
    received_from: str = "records",
    now: pd.Timestamp | None = None,
    service_map: ServiceMap | None = None,
    tier_patterns: Sequence[TierPattern] = DEFAULT_TIER_PATTERNS,
) -> IngestReport:
    """Store canonical incident records (the canonical CSV's columns, as JSON values) and
    their assignment history (``incident_id, at, assignment_group``), as `ingest` stores a
    file: one transaction, newest ``updated_at`` wins, bad records quarantined.

    A rejected record's ``line`` is its index in `records` (0-based), so a caller can say
    which one; `received_from` names the run's origin (``POST /v1/incidents``).

    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     with Store.open(f"sqlite:///{Path(folder) / 'store.db'}") as store:
    ...         report = ingest_records([
    ...             {"incident_id": "INC1", "opened_at": "2026-11-02T09:00:00Z", "priority": 2},
    ...             {"incident_id": "INC2", "opened_at": "2026-11-02T09:00:00Z", "priority": 9},
    ...         ], store, source="itsm", now=pd.Timestamp("2026-11-03", tz="UTC"))
    >>> report.new, report.quarantined
    (1, 1)
    """
    from impactlens.ingest.canonical import canonical_batch

    moment = utc_moment(now) if now is not None else pd.Timestamp.now(tz="UTC")
    raw = pd.DataFrame(list(records))  # from_records([{}]) would have no row at all
    raw.index = pd.RangeIndex(len(raw), name="line")
    for name in ("incident_id", "opened_at", "priority"):
        if name not in raw.columns:  # canonical_batch names the missing column
            raw[name] = None
    steps = pd.DataFrame(list(history)) if history else None
    batch = canonical_batch(raw, source=source, history=steps)
    read = ReadBatch(reject_implausible(batch, now=moment), len(raw))
    return ingest_batch(
        read,
        store,
        source_file=received_from,
        format=RECORDS_FORMAT,
        service_map=service_map,
        tier_patterns=tier_patterns,
    )


def ingest_events(
    batch: IngestBatch,
    store: Store,
    *,
    received_from: str,
    records: int,
    service_map: ServiceMap | None = None,
    tier_patterns: Sequence[TierPattern] = DEFAULT_TIER_PATTERNS,
) -> IngestReport:
    """Store incidents as an ITSM tool's change events (webhooks) describe them: as
    `ingest_batch` stores a batch, after `ingest.webhooks.continue_stored` has continued
    each stored incident's history with its event. `records` is how many the payload held.

    The stored incidents are read just before the batch is written, not in its
    transaction: two events of one incident at the same moment may each continue the
    history as it was before the other (the newer ``updated_at`` still wins the row).
    """
    from impactlens.ingest.webhooks import continue_stored

    keys = set(zip(batch.incidents["source"], batch.incidents["incident_id"], strict=True))
    stored = {key: found for key in keys if (found := store.get_incident(*key)) is not None}
    return ingest_batch(
        ReadBatch(continue_stored(batch, stored), records),
        store,
        source_file=received_from,
        format=EVENTS_FORMAT,
        service_map=service_map,
        tier_patterns=tier_patterns,
    )


def ingest_batch(
    read: ReadBatch,
    store: Store,
    *,
    source_file: str,
    format: str,
    service_map: ServiceMap | None = None,
    tier_patterns: Sequence[TierPattern] = DEFAULT_TIER_PATTERNS,
    on_progress: Progress | None = None,
    watermark: Watermark | None = None,
) -> IngestReport:
    """Store an already read batch (see `ingest`); `source_file` names where it came from.

    `watermark`, for a pull from an ITSM API, is how far the pull has read: stored in the
    batch's transaction (`Store.save_batch`).
    """
    batch = read.batch
    summary = store.save_batch(
        batch,
        source_file=source_file,
        format=format,
        rows_read=read.records,
        on_progress=on_progress,
        watermark=watermark,
    )
    tiers = support_tiers(
        batch.incidents, batch.history, service_map=service_map, patterns=tier_patterns
    )
    mapped = None
    if service_map is not None:
        mapped = int(resolve_services(batch.incidents, service_map)["mapped"].sum())
    problems = batch.rejected["problem"].fillna("(no problem given)").value_counts()
    rules = tiers.rule_counts()
    notes = []
    if len(batch.incidents) and rules["reassignment"] == len(batch.incidents):
        notes.append(
            "no rule places any assignment group in a support tier, so every tier comes "
            "from the fallback (L2 when reassigned away from the first group, else L1); "
            "name the groups in the map's support_tiers or in the tier_patterns setting"
        )
    log.info(
        "ingest run %s of %s: %s new, %s updated, %s unchanged, %s quarantined",
        summary.run_id, source_file, summary.new, summary.updated, summary.unchanged,
        summary.quarantined,
    )  # fmt: skip
    return IngestReport(
        run_id=summary.run_id,
        source_file=source_file,
        format=format,
        rows_read=summary.rows_read,
        new=summary.new,
        updated=summary.updated,
        unchanged=summary.unchanged,
        quarantined=summary.quarantined,
        quarantined_by_problem={str(k): int(v) for k, v in problems.items()},
        tier_rules=rules,
        incidents=len(batch.incidents),
        mapped=mapped,
        map_version=map_version(service_map) if service_map is not None else None,
        notes=tuple(notes),
        blank_rows=read.blank_rows,
        already_quarantined=summary.already_quarantined,
        tier_groups=tiers.group_rule_counts(),
        unplaced_groups=tuple(tiers.unplaced_groups()),
        rejected=batch.rejected[["line", "problem", "reason"]].reset_index(drop=True),
    )
