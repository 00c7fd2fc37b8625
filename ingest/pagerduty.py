"""PagerDuty incidents, as its REST API v2 returns them, as canonical incidents.

What the data looks like (PagerDuty's OpenAPI document, ``PagerDuty/api-schema``
``reference/REST/openapiv3.json``, and the response examples in it):

- ``GET /incidents`` answers ``{"incidents": [...], "limit", "offset", "more"}``;
  ``GET /incidents/{id}`` answers ``{"incident": {...}}``. An incident has ``id``
  (``PT4KHLK``), ``incident_number`` (1234), ``title``, ``created_at``, ``updated_at``,
  ``status`` (``triggered``, ``acknowledged``, ``resolved``), ``urgency`` (``high``,
  ``low``), ``priority`` (a reference whose ``summary`` is the priority's name, ``P2`` in
  the examples; null without priorities), ``service`` and ``escalation_policy``
  (references with a ``summary``), ``teams`` (references), ``assignments`` (``at`` and an
  ``assignee`` user reference; empty once resolved), ``assigned_via``
  (``escalation_policy`` or ``direct_assignment``), ``last_status_change_at``, and on
  resolved incidents ``resolved_at``. All times are ISO 8601 with an offset.
- ``GET /log_entries`` and ``GET /incidents/{id}/log_entries`` answer
  ``{"log_entries": [...]}``; each entry has ``type`` (``trigger_log_entry``,
  ``assign_log_entry``, ``escalate_log_entry``, ...), ``created_at``, ``summary`` and an
  ``incident`` reference. The documented LogEntry schema carries no escalation level
  field (a level is named ``escalation_level`` only in the ``PUT /incidents`` body), so
  the level of an ``escalate_log_entry`` is read from an ``escalation_level`` key where an
  export adds one, else from "level N" in its ``summary``; without either it is unknown.

Mapping: ``id`` (or ``incident_number``) -> incident_id; ``created_at`` -> opened_at;
``resolved_at``, else ``last_status_change_at`` of a ``resolved`` incident ->
resolved_at; ``updated_at``, else ``last_status_change_at`` -> updated_at; ``status`` ->
state; priority -> the P-number of ``priority.summary`` (``P1``..``P5``, or a name in
`priority_map`), else from ``urgency`` (``high`` -> 2, ``low`` -> 4, `urgency_priority`);
``urgency`` -> urgency on ServiceNow's scale (``high`` -> 1, ``low`` -> 3);
``service.summary`` -> ci; ``escalation_policy.summary``, else the first team, else the
last assignee -> assignment_group; ``title`` -> short_description.

History, when log entries are given for an incident: one row per ``trigger_log_entry``
(tier L1 when the incident was assigned through its escalation policy), ``assign_log_entry``
(tier unknown) and ``escalate_log_entry`` (tier from its level: 1 -> L1, 2 -> L2, 3 or
more -> L3), in time order, each with the incident's assignment group. Without log
entries, one row per element of ``assignments`` (the current assignees; PagerDuty empties
the list on resolve), else one row with the group at ``created_at``. ``support_tier`` is
the highest tier in the history, NA when no level is stated.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from impactlens.ingest.batch import IngestBatch
from impactlens.ingest.rows import (
    RowProblems,
    assemble_batch,
    opening_history,
    reject_bad_text,
)
from impactlens.ingest.values import (
    parse_timestamps,
    priority_from_text,
    tier_from_level,
)

from impactlens.errors import InputFileError, excerpt

__all__ = ["URGENCY_LEVELS", "URGENCY_PRIORITY", "parse_pagerduty"]

URGENCY_PRIORITY: Mapping[str, int] = {"high": 2, "low": 4}
URGENCY_LEVELS: Mapping[str, int] = {"high": 1, "low": 3}  # ServiceNow's urgency 1-3
HISTORY_TYPES = ("trigger_log_entry", "assign_log_entry", "escalate_log_entry")
_LEVEL_IN_SUMMARY = re.compile(r"\blevel\s+(\d+)\b", re.IGNORECASE)
_TIER_RANK = {"L1": 1, "L2": 2, "L3": 3}


def parse_pagerduty(
    raw: Mapping[str, Any] | Sequence[Any],
    *,
    source: str = "pagerduty",
    log_entries: Sequence[Any] | Mapping[str, Any] | None = None,
    incident_id: Literal["id", "incident_number"] = "id",
    priority_map: Mapping[str, int] | None = None,
    urgency_priority: Mapping[str, int] = URGENCY_PRIORITY,
    as_of: pd.Timestamp | str | None = None,
) -> IngestBatch:
    """Canonical incidents and their history from decoded PagerDuty API JSON.

    Parameters
    ----------
    raw
        A ``GET /incidents`` answer (``{"incidents": [...]}``, optionally with
        ``log_entries``), a ``GET /incidents/{id}`` answer, or a list of incidents.
    source
        The ``source`` of every row.
    log_entries
        Log entries for the history (a ``GET /log_entries`` answer or its
        ``log_entries`` list), added to any in `raw`.
    incident_id
        The field that identifies an incident: ``id`` (``PT4KHLK``) or
        ``incident_number`` (1234). Keep one choice per source: the store upserts by it.
    priority_map
        Priority names (``priority.summary``) -> 1-5, for accounts whose priorities are
        not named ``P1``..``P5``.
    urgency_priority
        Urgency -> priority for incidents without a usable priority.
    as_of
        When given, incidents created after it are rejected.

    ``rejected.line`` is the incident's index in the ``incidents`` list (0-based).

    Examples
    --------
    >>> batch = parse_pagerduty({"incidents": [{
    ...     "id": "PT4KHLK", "incident_number": 1234, "title": "The server is on fire.",
    ...     "created_at": "2015-10-06T21:30:42Z", "status": "resolved", "urgency": "high",
    ...     "priority": {"id": "P53ZZH5", "type": "priority_reference", "summary": "P2"},
    ...     "service": {"id": "PIJ90N7", "summary": "My Mail Service"},
    ...     "escalation_policy": {"id": "PT20YPA", "summary": "Another Escalation Policy"},
    ...     "assignments": [], "last_status_change_at": "2015-10-06T21:38:23Z"}]})
    >>> row = batch.incidents.iloc[0]
    >>> row["incident_id"], int(row["priority"]), row["ci"], str(row["resolved_at"])
    ('PT4KHLK', 2, 'My Mail Service', '2015-10-06 21:38:23+00:00')
    """
    incidents, entries = _unwrap(raw)
    if isinstance(log_entries, Mapping):  # a whole GET /log_entries answer
        _, log_entries = _unwrap({"incidents": [], "log_entries": log_entries.get("log_entries")})
    entries = [*entries, *(log_entries or [])]
    rows = len(incidents)
    problems = RowProblems(rows)
    problems.add(
        [not isinstance(item, Mapping) for item in incidents],
        "not an object",
        lambda at: [f"incidents[{i}] is {_kind(incidents[i])}, not an incident object" for i in at],
    )
    records = [item if isinstance(item, Mapping) else {} for item in incidents]
    field = _Fields(records)

    ids = field.text(incident_id)
    columns: dict[str, pd.Series] = {"incident_id": ids}
    status = field.text("status")
    stamps = {}
    for name in ("created_at", "resolved_at", "updated_at", "last_status_change_at"):
        text = field.text(name)
        stamps[name], bad = parse_timestamps(text)
        reject_bad_text(
            problems, bad, problem="bad timestamp", where=name, text=text,
            why="is not an ISO 8601 timestamp",
        )  # fmt: skip
    resolved = status.str.lower().eq("resolved").fillna(False).to_numpy(dtype=bool)
    columns["opened_at"] = stamps["created_at"]
    columns["resolved_at"] = stamps["resolved_at"].fillna(
        stamps["last_status_change_at"].where(resolved)
    )
    columns["updated_at"] = stamps["updated_at"].fillna(stamps["last_status_change_at"])
    columns["state"] = status

    columns["priority"] = _priority(field, problems, priority_map, urgency_priority)
    urgency = field.text("urgency").str.lower()
    columns["urgency"] = urgency.map(URGENCY_LEVELS, na_action="ignore").astype("Int64")
    columns["ci"] = field.text("service", "summary")
    group = (
        field.text("escalation_policy", "summary")
        .fillna(field.text("teams", 0, "summary"))
        .fillna(field.text("assignments", -1, "assignee", "summary"))
    )
    columns["assignment_group"] = group
    columns["short_description"] = field.text("title").fillna(field.text("summary"))

    history = _history(records, ids, columns["opened_at"], group, entries, problems, field)
    columns["support_tier"] = _highest_tier(history, rows)
    return assemble_batch(
        columns,
        problems=problems,
        raw_json=lambda at: [json.dumps(incidents[i], ensure_ascii=False, default=str) for i in at],
        lines=np.arange(rows, dtype=np.int64),
        source=source,
        names={"incident_id": incident_id, "opened_at": "created_at", "priority": "priority"},
        history=history,
        as_of=as_of,
        place="incidents[{}]".format,
    )


def _unwrap(raw: Any) -> tuple[list[Any], list[Any]]:
    if isinstance(raw, Mapping):
        entries = raw.get("log_entries")
        entries = [] if entries is None else entries
        if not isinstance(entries, list):
            raise InputFileError("PagerDuty data: 'log_entries' is not a list")
        if isinstance(raw.get("incidents"), list):
            return list(raw["incidents"]), list(entries)
        if isinstance(raw.get("incident"), Mapping):
            return [raw["incident"]], list(entries)
        raise InputFileError(
            "PagerDuty data: expected a GET /incidents answer with an 'incidents' list "
            f"(found keys: {excerpt(', '.join(map(str, raw)), quote=False) or 'none'})"
        )
    if isinstance(raw, list):
        return list(raw), []
    raise InputFileError(
        f"PagerDuty data: expected a JSON object or a list of incidents, got {_kind(raw)}"
    )


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", type(None): "null"}.get(
        type(value), type(value).__name__
    )


class _Fields:
    """Text columns from nested fields of the incident objects."""

    def __init__(self, records: list[Mapping[str, Any]]) -> None:
        self.records = records

    def text(self, *path: str | int) -> pd.Series:
        values = [_dig(record, path) for record in self.records]
        text = pd.Series(
            [None if v is None or isinstance(v, dict | list) else str(v) for v in values],
            dtype="string",
        ).str.strip()
        return text.mask(text == "")


def _dig(value: Any, path: Sequence[str | int]) -> Any:
    for step in path:
        if isinstance(step, int):
            if not isinstance(value, list) or not value or not -len(value) <= step < len(value):
                return None
            value = value[step]
        elif isinstance(value, Mapping):
            value = value.get(step)
        else:
            return None
    return value


def _priority(
    field: _Fields,
    problems: RowProblems,
    priority_map: Mapping[str, int] | None,
    urgency_priority: Mapping[str, int],
) -> pd.Series:
    named = field.text("priority", "summary")
    priority, _ = priority_from_text(named, priority_map)
    urgency = field.text("urgency")
    by_urgency = urgency.str.lower().map(
        {str(k).lower(): v for k, v in urgency_priority.items()}, na_action="ignore"
    )
    priority = priority.fillna(pd.to_numeric(by_urgency, errors="coerce").astype("Int64"))
    unusable = priority.isna() & (named.notna() | urgency.notna())
    names = named.to_numpy(dtype=object)
    urgencies = urgency.to_numpy(dtype=object)

    def message(at: np.ndarray) -> list[str]:
        out = []
        for i in at:
            said = [] if pd.isna(names[i]) else [f"priority {excerpt(names[i])} is not P1-P5"]
            said.append(
                "no urgency"
                if pd.isna(urgencies[i])
                else f"urgency {excerpt(urgencies[i])} is not " + " or ".join(urgency_priority)
            )
            out.append("no usable priority: " + "; ".join(said))
        return out

    problems.add(unusable.to_numpy(dtype=bool), "bad priority", message)
    return priority


def _history(
    records: list[Mapping[str, Any]],
    ids: pd.Series,
    opened_at: pd.Series,
    group: pd.Series,
    entries: list[Any],
    problems: RowProblems,
    field: _Fields,
) -> pd.DataFrame:
    """History rows (``row``, ``at``, ``assignment_group``, ``support_tier``), in order.

    An incident with log entries gets one row per assignment entry; an incident without
    them one row per element of its ``assignments``, or else one row, its group at
    ``created_at``. A log entry with an unreadable time
    rejects its incident: its history could not be put in order.
    """
    rows_of: dict[str, list[int]] = {}
    for i, record in enumerate(records):  # entries refer to incidents by ``id``
        own = ids.iloc[i]
        for key in {str(record.get("id") or ""), "" if pd.isna(own) else str(own)} - {""}:
            rows_of.setdefault(key, []).append(i)
    picked = [
        (row, index, entry)
        for index, entry in enumerate(entries)
        if isinstance(entry, Mapping)
        and entry.get("type") in HISTORY_TYPES
        and isinstance(entry.get("incident"), Mapping)
        for row in rows_of.get(str(entry["incident"].get("id")), [])
    ]
    via_policy = (
        field.text("assigned_via").eq("escalation_policy").fillna(False).to_numpy(dtype=bool)
    )
    logged = pd.DataFrame(
        {
            "row": pd.Series([row for row, _, _ in picked], dtype=np.int64),
            "entry": [index for _, index, _ in picked],
            "type": [entry.get("type") for _, _, entry in picked],
            "text": pd.Series([_scalar(e.get("created_at")) for _, _, e in picked], dtype="string"),
            "level": pd.Series([_level(entry) for _, _, entry in picked], dtype="Int64"),
        }
    )
    logged["at"], bad = parse_timestamps(logged["text"])
    unreadable = bad.to_numpy(dtype=bool) | logged["text"].isna().to_numpy(dtype=bool)
    first_unreadable = logged[unreadable].drop_duplicates("row")
    reasons = {
        int(row): f"log_entries[{entry}] ({kind}) created_at "
        + ("is missing" if pd.isna(text) else f"{excerpt(text)} is not an ISO 8601 timestamp")
        for row, entry, kind, text in zip(
            first_unreadable["row"],
            first_unreadable["entry"],
            first_unreadable["type"],
            first_unreadable["text"],
            strict=True,
        )
    }
    mask = np.zeros(len(records), dtype=bool)
    mask[list(reasons)] = True
    problems.add(mask, "bad log entry", lambda at: [reasons[int(i)] for i in at])

    tier = tier_from_level(logged["level"])  # escalations: the level they state
    trigger = (logged["type"] == "trigger_log_entry").to_numpy(dtype=bool)
    by_policy = np.full(len(logged), None, dtype=object)  # a trigger routed by policy: L1
    by_policy[via_policy[logged["row"]]] = "L1"
    tier = tier.mask(trigger, pd.Series(by_policy))
    tier = tier.mask((logged["type"] == "assign_log_entry").to_numpy(dtype=bool))
    logged["support_tier"] = tier.astype("string")
    logged = logged[~unreadable]

    with_entries = set(logged["row"].tolist())
    assigned = [
        (i, _scalar(assignment.get("at")))
        for i, record in enumerate(records)
        if i not in with_entries
        for assignment in (record.get("assignments") or [])
        if isinstance(assignment, Mapping)
    ]
    at, _ = parse_timestamps(pd.Series([text for _, text in assigned], dtype="string"))
    current = pd.DataFrame(
        {
            "row": pd.Series([i for i, _ in assigned], dtype=np.int64),
            "entry": -1,
            "at": at,
            "support_tier": pd.Series(pd.NA, index=at.index, dtype="string"),
        }
    ).dropna(subset=["at"])
    # Neither (a resolved incident lists no assignments): its group when it was created.
    covered = with_entries | set(current["row"].tolist())
    opening = opening_history({"opened_at": opened_at, "assignment_group": group})
    opening = opening[~opening["row"].isin(covered)].assign(entry=-1)
    history = pd.concat(
        [
            logged[["row", "entry", "at", "support_tier"]],
            current,
            opening.drop(columns="assignment_group"),
        ],
        ignore_index=True,
    ).sort_values(["row", "at", "entry"], kind="stable")
    history["assignment_group"] = group.to_numpy(dtype=object)[history["row"].to_numpy()]
    return history[["row", "at", "assignment_group", "support_tier"]].reset_index(drop=True)


def _scalar(value: Any) -> str | None:
    return None if value is None or isinstance(value, dict | list) else str(value)


def _level(entry: Mapping[str, Any]) -> int | None:
    level = entry.get("escalation_level")
    if isinstance(level, int) and not isinstance(level, bool):
        return level
    if isinstance(level, str) and level.strip().isdigit():
        return int(level)
    if entry.get("type") == "escalate_log_entry":
        found = _LEVEL_IN_SUMMARY.search(str(entry.get("summary") or ""))
        if found:
            return int(found.group(1))
    return None


def _highest_tier(history: pd.DataFrame, rows: int) -> pd.Series:
    tiers = pd.Series(pd.NA, index=range(rows), dtype="string")
    if history.empty:
        return tiers
    rank = history["support_tier"].map(_TIER_RANK, na_action="ignore")
    highest = pd.to_numeric(rank, errors="coerce").groupby(history["row"]).max().dropna()
    by_rank = {rank: tier for tier, rank in _TIER_RANK.items()}
    tiers.iloc[highest.index.to_numpy()] = [by_rank[int(r)] for r in highest]
    return tiers
