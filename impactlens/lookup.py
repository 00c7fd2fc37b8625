"""Looking incidents up with their impact: one incident, or a filtered page of them.

The reads an ITSM tool makes while an incident is open ("what does this threaten?") and
the incident lists of the API and the dashboard. Each reads the store, derives the facts
with `engine.facts.incident_facts` from the map given, and returns plain values; nothing
here prints or knows HTTP.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

import pandas as pd

from impactlens.engine.facts import IncidentFacts, incident_facts
from impactlens.engine.impact import ImpactModel
from impactlens.engine.misprioritised import suggested_priorities
from impactlens.engine.timelines import process_timelines
from impactlens.errors import ImpactlensError, InvalidSettingsError
from impactlens.jsonable import json_records
from impactlens.moments import time_zone, utc_moment
from impactlens.store import Store

__all__ = [
    "MAX_TIMELINE_DAYS",
    "IncidentImpact",
    "IncidentPage",
    "InvalidCursorError",
    "find_incidents",
    "impact_records",
    "incident_impact",
    "process_timeline",
]
MAX_TIMELINE_DAYS = 400

INCIDENT_FIELDS = (
    "source", "incident_id", "opened_at", "resolved_at", "priority", "state", "ci",
    "service_id", "mapped", "category", "assignment_group", "short_description",
    "support_tier", "escalated", "reached_l3", "reassignments", "impact_score",
    "impact_minutes", "value_at_risk", "top_process", "explanation",
)  # fmt: skip
PROCESS_FIELDS = (
    "process_id", "exposure", "business_minutes", "impact_minutes", "value_at_risk",
)  # fmt: skip


class InvalidCursorError(ImpactlensError):
    """A paging cursor that this service did not hand out (or that was altered)."""


@dataclass(frozen=True)
class IncidentImpact:
    """One incident as scored ``as_of``: its fields and facts (`INCIDENT_FIELDS`), the
    impact on each process it reaches (`PROCESS_FIELDS`, largest impact first), the
    priority its impact suggests (None where the map places it nowhere that matters),
    and the map version every figure rests on."""

    incident: dict[str, Any]
    processes: list[dict[str, Any]]
    suggested_priority: int | None
    map_version: str | None
    as_of: pd.Timestamp


@dataclass(frozen=True)
class IncidentPage:
    """A page of incidents (`INCIDENT_FIELDS`), and the cursor of the next (None: last)."""

    incidents: list[dict[str, Any]]
    next_cursor: str | None


def incident_impact(
    store: Store,
    model: ImpactModel | None,
    source: str,
    incident_id: str,
    *,
    as_of: pd.Timestamp,
) -> IncidentImpact | None:
    """The incident (`source`, `incident_id`) with its impact as of `as_of`; None when the
    store holds no such incident.

    A restored incident whose impact under this map is settled (`impactlens.settled`) by
    `as_of` is one read by key; any other is derived from the map here: two primary-key
    reads and the incident's facts. Both give the same answer.
    """
    moment = utc_moment(as_of)
    if model is not None:
        settled = store.settled_impact(source, incident_id, model.version)
        if settled is not None and settled.settled_at <= moment:
            return IncidentImpact(
                **json.loads(settled.impact), map_version=model.version, as_of=moment
            )
    stored = store.get_incident(source, incident_id)
    if stored is None:
        return None
    facts = incident_facts(stored.incident, stored.history, model, as_of=moment)
    (found,) = impact_records(facts, model)
    return IncidentImpact(**found, map_version=facts.map_version, as_of=moment)


def impact_records(facts: IncidentFacts, model: ImpactModel | None) -> list[dict[str, Any]]:
    """Each incident of `facts` as `IncidentImpact` holds it, without the map version and
    moment: ``{"incident": ..., "processes": [...], "suggested_priority": ...}``, JSON
    values, processes largest impact first."""
    table = facts.incidents
    suggested: list[int | None] = [None] * len(table)
    if model is not None:
        priorities = suggested_priorities(table, model, pairs=facts.pairs)
        suggested = [None if pd.isna(value) else int(value) for value in priorities]
    pairs = facts.pairs.sort_values(
        ["row", "impact_minutes", "process_id"], ascending=[True, False, True]
    )
    processes: list[list[dict[str, Any]]] = [[] for _ in range(len(table))]
    for row, record in zip(pairs["row"].tolist(), _records(pairs, PROCESS_FIELDS), strict=True):
        processes[row].append(record)
    return [
        {"incident": incident, "processes": reached, "suggested_priority": priority}
        for incident, reached, priority in zip(
            _records(table, INCIDENT_FIELDS), processes, suggested, strict=True
        )
    ]


def find_incidents(
    store: Store,
    model: ImpactModel | None,
    *,
    as_of: pd.Timestamp,
    since: pd.Timestamp,
    until: pd.Timestamp | None = None,
    source: str | None = None,
    service: str | None = None,
    process: str | None = None,
    min_score: float | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> IncidentPage:
    """Incidents opened in ``[since, until)`` (until: `as_of`), scored as of `as_of`,
    that match every filter given, oldest first (then source, id), `limit` at a time.

    `service` is the service the map places an incident on; `process` keeps incidents
    whose impact reaches that process; `min_score` keeps ``impact_score >= min_score``.
    `cursor` is the `IncidentPage.next_cursor` of the page before: paging stays right
    while incidents are added.
    """
    moment = utc_moment(as_of)
    stored = store.load_incidents(
        source=source, since=utc_moment(since), until=utc_moment(until) if until else moment
    )
    facts = incident_facts(stored, None, model, as_of=moment)
    table = facts.incidents
    keep = pd.Series(True, index=table.index)
    if service is not None:
        keep &= table["service_id"].astype("string").eq(service).fillna(False)
    if process is not None:
        rows = facts.pairs.loc[
            (facts.pairs["process_id"] == process) & (facts.pairs["impact_minutes"] > 0), "row"
        ]
        keep &= table.index.isin(rows.to_numpy())
    if min_score is not None:
        keep &= table["impact_score"] >= min_score
    chosen = table[keep.to_numpy()].sort_values(
        ["opened_at", "source", "incident_id"], kind="stable"
    )
    if cursor is not None:
        opened, after_source, after_id = _decode(cursor)
        later = (chosen["opened_at"] > opened) | (
            (chosen["opened_at"] == opened)
            & (
                (chosen["source"] > after_source)
                | ((chosen["source"] == after_source) & (chosen["incident_id"] > after_id))
            )
        )
        chosen = chosen[later.to_numpy()]
    page = chosen.head(limit)
    following = None
    if len(chosen) > limit:
        last = page.iloc[-1]
        following = _encode(last["opened_at"], str(last["source"]), str(last["incident_id"]))
    return IncidentPage(incidents=_records(page, INCIDENT_FIELDS), next_cursor=following)


def process_timeline(
    store: Store,
    model: ImpactModel,
    process_id: str,
    *,
    since: pd.Timestamp,
    until: pd.Timestamp,
    as_of: pd.Timestamp,
    timezone: str = "UTC",
) -> pd.DataFrame:
    """Business minutes `process_id` lost each day of ``[since, until)`` (days start at
    00:00 in `timezone`), overlapping incidents counted once (`engine.timelines`):
    ``day, impact_minutes, value_at_risk, business_minutes_hit``."""
    model.service_map.process(process_id)  # UnknownProcessError for an unknown id
    zone = time_zone(timezone)
    first = utc_moment(since).tz_convert(zone).normalize()
    last = utc_moment(until).tz_convert(zone)
    days = pd.date_range(first, last.ceil("D") if last != last.normalize() else last, freq="D")
    if len(days) < 2:
        raise InvalidSettingsError("the timeline needs until after since")
    if len(days) > MAX_TIMELINE_DAYS + 1:
        raise InvalidSettingsError(f"a timeline covers at most {MAX_TIMELINE_DAYS} days")
    bounds = days.tz_convert("UTC")
    stored = store.load_incidents(since=bounds[0], until=bounds[-1], by="active")
    moment = utc_moment(as_of)
    facts = incident_facts(stored, None, model, as_of=moment)
    timelines = process_timelines(facts.incidents, model, as_of=moment, bounds=bounds)
    mine = timelines[timelines["process_id"] == process_id]
    return pd.DataFrame(
        {
            "day": [f"{day:%Y-%m-%d}" for day in days[:-1]],
            "impact_minutes": mine["impact_minutes"].to_numpy(),
            "value_at_risk": mine["value_at_risk"].to_numpy(),
            "business_minutes_hit": mine["business_minutes_hit"].to_numpy(),
        }
    )


def _records(table: pd.DataFrame, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    return json_records(table[[name for name in fields if name in table.columns]])


def _encode(opened: pd.Timestamp, source: str, incident_id: str) -> str:
    text = json.dumps([utc_moment(opened).isoformat(), source, incident_id])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[pd.Timestamp, str, str]:
    refused = InvalidCursorError(f"cursor {cursor[:40]!r} is not one this service gave")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        parts = json.loads(base64.urlsafe_b64decode(padded))
        # What `_encode` writes: three texts, the first a moment; anything else was altered.
        if not (isinstance(parts, list) and len(parts) == 3
                and all(isinstance(part, str) for part in parts)):  # fmt: skip
            raise refused
        opened = utc_moment(parts[0])
    except (ValueError, TypeError, OverflowError, binascii.Error) as error:
        raise refused from error
    if pd.isna(opened):
        raise refused
    return opened, parts[1], parts[2]
