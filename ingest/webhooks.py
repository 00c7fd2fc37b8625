"""What ITSM tools push to webhooks, as an `IngestBatch`; and the checks of their signatures.

Pure functions from decoded JSON to a batch, each through the adapter that reads the same
system's exports, so that a pushed incident and a pulled or exported one become the same
canonical row under the same key (upsert by source and incident id, newest ``updated_at``
wins):

- `servicenow_records`: what a business rule or outbound REST message posts (one record,
  a list, or the Table API's ``{"result": ...}``), read as `ingest.servicenow_api` reads
  pulled records (`ingest.read.records_frame`, then `ingest.servicenow.parse_servicenow`).
- `pagerduty_event`: a PagerDuty v3 webhook event (``{"event": {...}}``), its incident
  made into the REST API's incident shape for `ingest.pagerduty.parse_pagerduty`.
- `jira_event`: a Jira issue webhook (``jira:issue_created``, ``jira:issue_updated``), its
  issue made into a row of Jira's CSV export for `ingest.jira.parse_jira`.

Each batch then goes through `ingest.plausibility.reject_implausible` with the caller's
`now`. An event describes the incident as it is now, not how it got there: before it is
stored, `continue_stored` continues the stored incident's assignment history with it (and
keeps a stored resolution the event does not repeat). A payload that is not the shape its sender documents raises `InvalidPayloadError`
naming the place (``event.data: expected an object, got a list``); a record of the right
shape with bad values (priority 9, no opened_at) is rejected with its reason, never
raised. `verify_pagerduty_signature` and `verify_jira_signature` check the HMAC-SHA256
signature of the raw body and raise `WebhookAuthError`; no message shows a secret or the
signature expected.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from impactlens.ingest.batch import HISTORY_COLUMNS, IngestBatch
from impactlens.ingest.jira import parse_jira
from impactlens.ingest.pagerduty import parse_pagerduty
from impactlens.ingest.plausibility import reject_implausible
from impactlens.ingest.read import records_frame
from impactlens.ingest.rows import RowProblems, assemble_batch
from impactlens.ingest.servicenow import parse_servicenow
from impactlens.ingest.values import parse_timestamps

from impactlens.errors import (
    InvalidPayloadError,
    InvalidSettingsError,
    WebhookAuthError,
    excerpt,
)
from impactlens.moments import utc_moment

__all__ = [
    "JIRA_JSON_DATE_FORMATS",
    "PAGERDUTY_MAX_AGE",
    "continue_stored",
    "jira_event",
    "pagerduty_event",
    "servicenow_records",
    "verify_jira_signature",
    "verify_pagerduty_signature",
]

# PagerDuty retries a failing delivery for about 20 minutes (5 attempts), holding the
# subscription's later events in a queue meanwhile, and disables the subscription after
# 3 dropped deliveries (developer docs, "Webhooks: Behavior"). An hour takes in every
# genuine delivery, retried or queued, and bounds how long a captured request can be
# replayed (a replay within it changes nothing: an older updated_at never wins).
PAGERDUTY_MAX_AGE = pd.Timedelta(hours=1)
# Dates in Jira's REST and webhook JSON: 2026-11-16T09:12:00.000+0000.
JIRA_JSON_DATE_FORMATS = ("%Y-%m-%dT%H:%M:%S.%f%z",)
RECORD_KEYS = ("result", "records")  # Table API answer, JSON export
HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
JIRA_INGESTED = ("jira:issue_created", "jira:issue_updated")
# Jira issue field -> the column its CSV export writes it in (parse_jira reads those).
JIRA_COLUMNS = {
    "summary": "Summary",
    "issuetype": "Issue Type",
    "status": "Status",
    "priority": "Priority",
    "assignee": "Assignee",
    "reporter": "Reporter",
    "created": "Created",
    "updated": "Updated",
    "resolutiondate": "Resolved",
    "components": "Component/s",
    "labels": "Labels",
}
NAME_KEYS = ("name", "value", "displayName", "key")  # how Jira objects name themselves


# --- ServiceNow ---------------------------------------------------------------------------


def servicenow_records(
    payload: Any,
    *,
    now: pd.Timestamp | datetime,
    source: str = "servicenow",
    timezone: str = "UTC",
) -> IngestBatch:
    """Incidents from what a ServiceNow business rule or REST message posts.

    `payload` is one incident record (an object of fields), a list of them, or the Table
    API's ``{"result": [...]}`` / ``{"result": {...}}`` (or a JSON export's
    ``{"records": [...]}``). Fields may be plain values or ``{"value", "display_value"}``
    objects (``sysparm_display_value=all``); references such as ``cmdb_ci`` may carry a
    ``link``. They are read exactly as pulled records are (`ingest.read.records_frame`:
    display values, but a date-time's UTC database value), then parsed by
    `parse_servicenow` under `source` (default ``servicenow``, as the pull and the export
    use, so the incidents upsert onto the same keys), and incidents with implausible
    timestamps (against `now`) are rejected. ``rejected.line`` is the record's position,
    from 1. `timezone` is that of plain date-time values (ServiceNow's database values are
    UTC).

    Raises
    ------
    InvalidPayloadError
        The payload, or one of its records, is not an object of fields.

    Examples
    --------
    >>> batch = servicenow_records({"result": [{
    ...     "number": "INC0010042", "priority": {"value": "2", "display_value": "2 - High"},
    ...     "opened_at": {"value": "2026-11-16 09:12:00", "display_value": "16/11/2026 10:12"},
    ...     "cmdb_ci": {"value": "a9c0c8d2", "display_value": "PAYAPI01", "link": "https://x"}},
    ...     {"number": "INC0010043", "priority": "9", "opened_at": "2026-11-16 09:20:00"}]},
    ...     now=pd.Timestamp("2026-11-16T10:00:00Z"))
    >>> batch.incidents[["incident_id", "priority", "ci"]].values.tolist()
    [['INC0010042', 2, 'PAYAPI01']]
    >>> str(batch.incidents.loc[0, "opened_at"]), batch.rejected["reason"].tolist()
    ('2026-11-16 09:12:00+00:00', ["priority '9' is not a priority from 1 to 5"])
    """
    records, place = _servicenow_records(payload)
    for position, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise InvalidPayloadError(
                f"{place}[{position}]: expected an incident record (an object of fields), "
                f"got {_kind(record)}"
            )
    raw = records_frame(records)
    batch = parse_servicenow(raw, source=source, timezone=timezone)
    return reject_implausible(batch, now=utc_moment(now))


def _servicenow_records(payload: Any) -> tuple[list[Any], str]:
    """The records of a ServiceNow payload, and how messages name their list."""
    if isinstance(payload, list):
        return payload, "payload"
    if not isinstance(payload, Mapping):
        raise InvalidPayloadError(
            f"payload: expected an incident record, a list of them or {{'result': [...]}}, "
            f"got {_kind(payload)}"
        )
    for key in RECORD_KEYS:
        if key in payload:
            inner = payload[key]
            if isinstance(inner, list):
                return inner, key
            if isinstance(inner, Mapping):
                return [inner], key
            raise InvalidPayloadError(
                f"{key}: expected an incident record or a list of them, got {_kind(inner)}"
            )
    return [payload], "payload"


# --- events continue the stored incident ----------------------------------------------


def continue_stored(batch: IngestBatch, stored: Mapping[tuple[str, str], Any]) -> IngestBatch:
    """`batch` (of events) as it continues the incidents `stored` already holds.

    `stored` maps (source, incident_id) to what the store holds of it (an object with
    ``incident`` and ``history`` frames, as `Store.get_incident` returns). An event carries
    only the incident's current assignment group; an incident not stored yet keeps the
    batch's history (that group from its opening). For a stored one, the history is the
    stored assignments up to the event's ``updated_at``, then the event's group from
    ``updated_at`` when it differs from the last one: so a reassignment pushed by a webhook
    is a handoff, as it is in a pulled history. An event without ``resolved_at`` (or
    ``closed_at``) whose ``state`` is the stored one keeps the stored moment: a PagerDuty
    priority change on a resolved incident does not reopen it.

    >>> from types import SimpleNamespace
    >>> from impactlens.ingest.batch import HISTORY_COLUMNS
    >>> event = pagerduty_event({"event": {"event_type": "incident.reassigned",
    ...     "resource_type": "incident", "occurred_at": "2026-11-16T10:00:00Z",
    ...     "data": {"id": "P1", "type": "incident", "status": "acknowledged",
    ...     "created_at": "2026-11-16T09:00:00Z", "urgency": "high",
    ...     "service": {"summary": "payments-api"},
    ...     "escalation_policy": {"summary": "Payments L2"}}}},
    ...     now=pd.Timestamp("2026-11-16T10:00:01Z"))
    >>> before = pd.DataFrame([["pagerduty", "P1", pd.Timestamp("2026-11-16T09:00Z"),
    ...     "Service Desk", None]], columns=list(HISTORY_COLUMNS))
    >>> merged = continue_stored(event, {("pagerduty", "P1"): SimpleNamespace(
    ...     incident=event.incidents.assign(state="triggered"), history=before)})
    >>> [(str(at.time()), group) for at, group in merged.history[["at", "assignment_group"]].values]
    [('09:00:00', 'Service Desk'), ('10:00:00', 'Payments L2')]
    """
    if batch.incidents.empty or not stored:
        return batch
    incidents = batch.incidents.copy()
    histories = []
    keys = list(zip(incidents["source"], incidents["incident_id"], strict=True))
    for position, key in enumerate(keys):
        event = incidents.iloc[position]
        found = stored.get(key)
        own = batch.history[
            (batch.history["source"] == key[0]) & (batch.history["incident_id"] == key[1])
        ]
        if found is None or found.incident.empty:
            histories.append(own)
            continue
        before = found.incident.iloc[0]
        for moment in ("resolved_at", "closed_at"):
            if (
                pd.isna(event[moment])
                and pd.notna(before[moment])
                and event["state"] == before["state"]
            ):
                incidents.loc[incidents.index[position], moment] = before[moment]
        kept = found.history[list(HISTORY_COLUMNS)]
        at = event["updated_at"]
        if pd.notna(at):
            kept = kept[kept["at"] <= at]
        group = event["assignment_group"]
        last = kept["assignment_group"].iloc[-1] if len(kept) else None
        if pd.notna(group) and group != last:
            step = pd.DataFrame(
                [[key[0], key[1], at if pd.notna(at) else event["opened_at"], group, None]],
                columns=list(HISTORY_COLUMNS),
            )
            kept = pd.concat([kept, step], ignore_index=True)
        histories.append(kept)
    history = pd.concat(histories, ignore_index=True) if histories else batch.history
    return replace(
        batch, incidents=incidents, history=history.astype(batch.history.dtypes.to_dict())
    )


# --- PagerDuty ----------------------------------------------------------------------------


def verify_pagerduty_signature(body: bytes, header: str | None, secrets: Sequence[str]) -> None:
    """Check a PagerDuty v3 webhook's ``X-PagerDuty-Signature`` against the raw `body`.

    The header holds one or more comma-separated signatures, ``v1=<hex>``: each the
    HMAC-SHA256 of the body with one of the subscription's secrets (several while a secret
    is rotated). The body is authentic when any ``v1`` signature matches any of `secrets`
    (compared in constant time); signatures of other versions are ignored.

    Raises
    ------
    WebhookAuthError
        The header is missing, holds no well-formed ``v1`` signature, or none matches.
    InvalidSettingsError
        `secrets` is empty: nothing could be checked.

    Examples
    --------
    >>> body = b'{"event": {"event_type": "pagey.ping"}}'
    >>> good = hmac.new(b"new-secret", body, hashlib.sha256).hexdigest()
    >>> verify_pagerduty_signature(body, f"v1=0123abcd,v1={good}", ["old-secret", "new-secret"])
    >>> verify_pagerduty_signature(body + b" ", f"v1={good}", ["new-secret"])
    Traceback (most recent call last):
    ...
    impactlens.errors.WebhookAuthError: X-PagerDuty-Signature: no v1 signature matches the body with the configured secret (signed with another secret, or the body was changed on the way)
    """
    what = "X-PagerDuty-Signature"
    if not secrets or not all(secrets):
        raise InvalidSettingsError(
            "no PagerDuty webhook secret to check signatures with: set pagerduty_webhook_secrets"
        )
    if header is None or not header.strip():
        raise WebhookAuthError(
            f"{what}: missing; PagerDuty v3 webhooks are signed (v1=<hex>), so this "
            "request does not come from a PagerDuty webhook subscription"
        )
    parts = [part.strip() for part in header.split(",")]
    given = [part.removeprefix("v1=").strip() for part in parts if part.startswith("v1=")]
    wellformed = [sig.lower() for sig in given if HEX_SHA256.fullmatch(sig)]
    if not wellformed:
        raise WebhookAuthError(
            f"{what}: no well-formed v1 signature among {_labels(parts)} (expected "
            "v1=<64 hex digits>, comma-separated)"
        )
    expected = [_hmac_sha256(secret, body) for secret in secrets]
    if not _any_match(wellformed, expected):
        which = (
            "the configured secret"
            if len(secrets) == 1
            else f"any of the {len(secrets)} configured secrets"
        )
        raise WebhookAuthError(
            f"{what}: no v1 signature matches the body with {which} (signed with another "
            "secret, or the body was changed on the way)"
        )


def pagerduty_event(
    payload: Any,
    *,
    now: pd.Timestamp | datetime,
    max_age: pd.Timedelta = PAGERDUTY_MAX_AGE,
    source: str = "pagerduty",
    priority_map: Mapping[str, int] | None = None,
) -> IngestBatch:
    """The incident of a PagerDuty v3 webhook event, as a batch of one (or none).

    `payload` is the decoded body, ``{"event": {"event_type", "resource_type",
    "occurred_at", "data", ...}}``. Events of other resources (``service.updated``,
    ``pagey.ping``) and incident events whose ``data`` is not the incident itself (a note,
    a status update, a responder: ``data.type`` is not ``incident``) give an empty batch.

    The incident in ``event.data`` is read by `parse_pagerduty` (under `source`, by its
    ``id``, as the REST API adapter does) with ``occurred_at`` as its ``updated_at``, so a
    later event wins over an earlier one, and for ``incident.resolved`` as its
    ``resolved_at`` (the event carries no other resolution time; a later event on a
    resolved incident, such as a priority change, has none). The history is the group
    (escalation policy, else first team, else last assignee) at ``created_at``.

    PagerDuty signs no timestamp: an event whose ``occurred_at`` is more than `max_age`
    before `now` (default an hour, see `PAGERDUTY_MAX_AGE`) is refused as stale.

    Raises
    ------
    InvalidPayloadError
        No ``event`` object, no ``resource_type``, ``event_type`` or readable
        ``occurred_at``, or an incident event whose ``data`` is not an object.
    WebhookAuthError
        The event is stale: a replay, or held back far longer than PagerDuty retries.

    Examples
    --------
    >>> event = {"event": {"id": "01DEN1LYMQZXZ3KS8ONY9FIDKM",
    ...     "event_type": "incident.resolved", "resource_type": "incident",
    ...     "occurred_at": "2026-11-16T10:05:00.000Z", "data": {"id": "PGR0VU2",
    ...     "type": "incident", "number": 2, "status": "resolved",
    ...     "created_at": "2026-11-16T09:12:00Z", "title": "Checkout errors",
    ...     "service": {"id": "PF9KMXH", "summary": "payments-api-prod"},
    ...     "priority": {"id": "PSO75BM", "summary": "P1"}, "urgency": "high"}}}
    >>> batch = pagerduty_event(event, now=pd.Timestamp("2026-11-16T10:05:02Z"))
    >>> row = batch.incidents.iloc[0]
    >>> row["incident_id"], int(row["priority"]), row["ci"], str(row["resolved_at"])
    ('PGR0VU2', 1, 'payments-api-prod', '2026-11-16 10:05:00+00:00')
    >>> len(pagerduty_event({"event": {"event_type": "pagey.ping", "resource_type": "pagey",
    ...     "occurred_at": "2026-11-16T10:05:00Z", "data": {"type": "ping"}}},
    ...     now=pd.Timestamp("2026-11-16T10:05:02Z")).incidents)
    0
    """
    event = _object(_object(payload, "payload").get("event"), "event")
    resource_type = _text(event, "resource_type", "event")
    event_type = _text(event, "event_type", "event")
    if resource_type != "incident":
        return _no_incidents(source)
    data = _object(event.get("data"), "event.data")
    if data.get("type", "incident") != "incident":
        return _no_incidents(source)
    occurred_text = _text(event, "occurred_at", "event")
    occurred = _moment(occurred_text, "event.occurred_at")
    moment = utc_moment(now)
    if occurred < moment - max_age:
        raise WebhookAuthError(
            f"PagerDuty event {excerpt(event.get('id'), quote=False)} ({event_type}): "
            f"occurred_at {occurred_text} is {_duration(moment - occurred)} before now, "
            f"more than the {_duration(max_age)} a genuine delivery can take (PagerDuty "
            "retries for about 20 minutes); refused as stale or replayed"
        )
    assignees = data.get("assignees")
    incident: dict[str, Any] = {
        "id": data.get("id"),
        "incident_number": data.get("number"),
        "title": data.get("title"),
        "created_at": data.get("created_at"),
        "updated_at": occurred_text,
        "status": data.get("status"),
        "urgency": data.get("urgency"),
        "priority": data.get("priority"),
        "service": data.get("service"),
        "escalation_policy": data.get("escalation_policy"),
        "teams": data.get("teams"),
        # no "at": the assignees name the group when nothing else does, not the history
        "assignments": [
            {"assignee": assignee}
            for assignee in (assignees if isinstance(assignees, list) else [])
            if isinstance(assignee, Mapping)
        ],
    }
    if event_type == "incident.resolved":
        incident["resolved_at"] = occurred_text
    batch = parse_pagerduty([incident], source=source, priority_map=priority_map)
    return reject_implausible(batch, now=moment)


# --- Jira ---------------------------------------------------------------------------------


def verify_jira_signature(body: bytes, header: str | None, secret: str) -> None:
    """Check a Jira webhook's ``X-Hub-Signature`` (``sha256=<hex>``) against the raw `body`.

    Jira signs the body of a webhook registered with a secret with HMAC-SHA256 and sends
    the hex digest in ``X-Hub-Signature``; it is compared in constant time.

    Raises
    ------
    WebhookAuthError
        The header is missing, not ``sha256=<64 hex digits>``, or does not match.
    InvalidSettingsError
        `secret` is empty.

    Examples
    --------
    >>> body = b'{"webhookEvent": "jira:issue_deleted"}'
    >>> signature = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    >>> verify_jira_signature(body, f"sha256={signature}", "s3cret")
    >>> verify_jira_signature(body, f"sha256={signature}", "another")
    Traceback (most recent call last):
    ...
    impactlens.errors.WebhookAuthError: X-Hub-Signature: the signature does not match the body with the configured secret (signed with another secret, or the body was changed on the way)
    """
    what = "X-Hub-Signature"
    if not secret:
        raise InvalidSettingsError(
            "no Jira webhook secret to check signatures with: set jira_webhook_secret"
        )
    if header is None or not header.strip():
        raise WebhookAuthError(
            f"{what}: missing; the Jira webhook must be registered with a secret so that "
            "Jira signs what it sends (sha256=<hex>)"
        )
    scheme, _, signature = header.strip().partition("=")
    if scheme.strip().lower() != "sha256" or not HEX_SHA256.fullmatch(signature.strip()):
        raise WebhookAuthError(
            f"{what}: {_labels([header.strip()])} is not sha256=<64 hex digits>, as Jira "
            "signs webhooks"
        )
    if not _any_match([signature.strip().lower()], [_hmac_sha256(secret, body)]):
        raise WebhookAuthError(
            f"{what}: the signature does not match the body with the configured secret "
            "(signed with another secret, or the body was changed on the way)"
        )


def jira_event(
    payload: Any,
    *,
    now: pd.Timestamp | datetime,
    source: str = "jira",
    priority_map: Mapping[str, int] | None = None,
    custom_fields: Mapping[str, str] | None = None,
) -> IngestBatch:
    """The issue of a Jira issue webhook (created or updated), as a batch of one (or none).

    `payload` is the decoded body, ``{"timestamp", "webhookEvent", "issue": {"key",
    "fields": {...}}, "changelog"}``. The issue's fields become one row of Jira's CSV
    export (``summary`` -> ``Summary``, ``created``/``updated``/``resolutiondate`` ->
    ``Created``/``Updated``/``Resolved``, ``priority.name`` -> ``Priority``, each of
    ``components`` -> ``Component/s``, ``assignee.displayName`` -> ``Assignee``, ...) and
    are read by `parse_jira` under `source`, so its priority, CI and group rules apply.
    Dates are Jira's JSON ISO 8601 with an offset (`JIRA_JSON_DATE_FORMATS`); without
    ``updated``, the event's ``timestamp`` is the update time. `custom_fields` maps a
    custom field id to the CSV column it stands for (``{"customfield_10041": "Custom field
    (Affected services)"}``), as the site's field names are not in the payload.

    ``jira:issue_deleted``, and events that are not about an issue's fields (comments,
    worklogs, ...), give an empty batch: deletions are not propagated, a deleted issue
    stays stored as it last was.

    Raises
    ------
    InvalidPayloadError
        Not an object, no ``webhookEvent``, or an issue event without an ``issue`` object
        with a ``fields`` object.

    Examples
    --------
    >>> batch = jira_event({"timestamp": 1794820320000, "webhookEvent": "jira:issue_created",
    ...     "issue": {"id": "10012", "key": "ITSM-12", "fields": {
    ...     "created": "2026-11-16T10:12:00.000+0100", "updated": "2026-11-16T10:12:00.000+0100",
    ...     "priority": {"name": "High"}, "summary": "Checkout down",
    ...     "components": [{"name": "Payments"}], "status": {"name": "Open"}}}},
    ...     now=pd.Timestamp("2026-11-16T09:13:00Z"))
    >>> row = batch.incidents.iloc[0]
    >>> row["incident_id"], int(row["priority"]), row["ci"], str(row["opened_at"])
    ('ITSM-12', 2, 'Payments', '2026-11-16 09:12:00+00:00')
    """
    body = _object(payload, "payload")
    event = _text(body, "webhookEvent", "payload")
    if event not in JIRA_INGESTED:
        return _no_incidents(source)
    issue = _object(body.get("issue"), "issue")
    fields = _object(issue.get("fields"), "issue.fields")
    row: dict[str, str | None] = {"Issue key": _jira_text(issue.get("key"))}
    row["Issue id"] = _jira_text(issue.get("id"))
    named = dict(JIRA_COLUMNS) | dict(custom_fields or {})
    for field, column in named.items():
        value = fields.get(field)
        values = value if isinstance(value, list) else [value]
        texts: list[str | None] = [t for t in map(_jira_text, values) if t is not None]
        for at, text in enumerate(texts or [None]):
            row[column if at == 0 else f"{column}.{at}"] = text
    stamp = body.get("timestamp")
    if row["Updated"] is None and isinstance(stamp, int) and not isinstance(stamp, bool):
        row["Updated"] = pd.Timestamp(stamp, unit="ms", tz="UTC").isoformat()
    raw = pd.DataFrame(
        {column: pd.array([text], dtype="string") for column, text in row.items()},
        index=pd.Index([1], name="line"),
    )
    batch = parse_jira(
        raw, source=source, priority_map=priority_map, date_formats=JIRA_JSON_DATE_FORMATS
    )
    return reject_implausible(batch, now=utc_moment(now))


def _jira_text(value: Any) -> str | None:
    """A Jira field value as its export writes it: text, a number, or an object's name."""
    if isinstance(value, Mapping):
        value = next((value[key] for key in NAME_KEYS if isinstance(value.get(key), str)), None)
    if value is None or isinstance(value, list | dict):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value).strip()
    return text or None


# --- shared -------------------------------------------------------------------------------


def _hmac_sha256(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _any_match(given: Sequence[str], expected: Sequence[str]) -> bool:
    """Whether any given signature is any expected one; every pair compared in constant time."""
    matched = False
    for signature in given:
        for wanted in expected:
            matched |= hmac.compare_digest(signature.encode("ascii"), wanted.encode("ascii"))
    return matched


def _labels(parts: Sequence[str]) -> str:
    """Signature parts as a message shows them: the label and the length of the value
    (``v2=<64 characters>``), never the value, so a message never carries a signature."""
    shown = []
    for part in parts[:5]:
        label, equals, value = part.partition("=")
        if not equals:
            label, value = "", part
        shown.append(f"{excerpt(label, 20, quote=False)}{equals}<{len(value.strip())} characters>")
    more = f" and {len(parts) - 5:,} more" if len(parts) > 5 else ""
    return "'" + "', '".join(shown) + "'" + more


def _no_incidents(source: str) -> IngestBatch:
    """A batch with no rows, every column typed as an adapter's."""
    lines = np.empty(0, dtype=np.int64)
    return assemble_batch({}, problems=RowProblems(0), raw_json=list, lines=lines, source=source)


def _object(value: Any, place: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        got = "nothing" if value is None else _kind(value)
        raise InvalidPayloadError(f"{place}: expected an object, got {got}")
    return value


def _text(parent: Mapping[str, Any], key: str, place: str) -> str:
    value = parent.get(key)
    if value is None:
        raise InvalidPayloadError(f"{place}.{key}: missing")
    if not isinstance(value, str) or not value.strip():
        raise InvalidPayloadError(f"{place}.{key}: expected text, got {_kind(value)}")
    return value


def _moment(text: str, place: str) -> pd.Timestamp:
    stamps, bad = parse_timestamps(pd.Series([text], dtype="string"))
    if bool(bad.iloc[0]) or pd.isna(stamps.iloc[0]):
        raise InvalidPayloadError(f"{place}: {excerpt(text)} is not an ISO 8601 date-time")
    return pd.Timestamp(stamps.iloc[0])


def _duration(span: pd.Timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    names = {dict: "an object", list: "a list", str: "a string", int: "a number", float: "a number"}
    return names.get(type(value), type(value).__name__)
