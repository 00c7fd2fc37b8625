"""``/v1/webhooks/*``: what ServiceNow, PagerDuty and Jira send when an incident changes.

ServiceNow (an outbound REST message or business rule) authenticates with an API key of
scope ``ingest``; PagerDuty with its v3 signature (``X-PagerDuty-Signature``, the
``pagerduty_webhook_secrets`` setting); Jira with its HMAC signature (``X-Hub-Signature``,
``jira_webhook_secret``); without its secret, a signed webhook is refused (403). Each
payload is stored as an ITSM tool's change events are (`ingest.pipeline.ingest_events`:
the newest ``updated_at`` wins, a stored incident's history is continued, not replaced);
a record that cannot be used is quarantined and the reply says why.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
from fastapi import APIRouter, Request
from impactlens.api.problems import Problem, problems
from impactlens.api.routes.common import service_map_of
from impactlens.api.routes.incidents import ingest_reply
from impactlens.api.schemas import IngestReply
from impactlens.api.security import IngestKey, State
from impactlens.ingest.batch import IngestBatch
from impactlens.ingest.pipeline import ingest_events
from impactlens.ingest.webhooks import (
    jira_event,
    pagerduty_event,
    servicenow_records,
    verify_jira_signature,
    verify_pagerduty_signature,
)

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


def _json_body(schema: dict[str, object]) -> dict[str, object]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


_EVENT = _json_body({"type": "object"})
# One record, a list of them, or ``{"result": [...]}`` as the Table API answers.
_RECORDS = _json_body(
    {"anyOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}]}
)

# Each is refused as a 401 (no key or signature, or a bad one), 403 (scope, or not
# enabled), 400 (not a payload of the tool), 413 or 422.
_SIGNED = problems(400, 401, 403, 413, 422)


@router.post("/servicenow", response_model=IngestReply, openapi_extra=_RECORDS, responses=_SIGNED)
async def servicenow(request: Request, state: State, api_key: IngestKey) -> IngestReply:
    """A ServiceNow incident record (or ``{"result": [...]}``), as its REST message sends."""
    payload = _json(await request.body())
    batch = servicenow_records(payload, now=_now())
    # ServiceNow's records are numbered from 1 (their position in the list), the
    # single-event readers' from 0 (PagerDuty) and 1 (Jira): each reply counts from 0.
    return _store(state, batch, origin="servicenow", records=_count(payload), first_line=1)


@router.post("/pagerduty", response_model=IngestReply, openapi_extra=_EVENT, responses=_SIGNED)
async def pagerduty(request: Request, state: State) -> IngestReply:
    """A PagerDuty v3 webhook event, signed with the subscription's secret."""
    body = await request.body()
    secrets = [s.get_secret_value() for s in state.settings.pagerduty_webhook_secrets]
    if not secrets:
        raise Problem(403, "PagerDuty webhooks are not enabled: set pagerduty_webhook_secrets")
    verify_pagerduty_signature(body, request.headers.get("x-pagerduty-signature"), secrets)
    batch = pagerduty_event(_json(body), now=_now())
    return _store(state, batch, origin="pagerduty", records=1, first_line=0)


@router.post("/jira", response_model=IngestReply, openapi_extra=_EVENT, responses=_SIGNED)
async def jira(request: Request, state: State) -> IngestReply:
    """A Jira issue event (created, updated; deletions are not propagated), signed."""
    body = await request.body()
    secret = state.settings.jira_webhook_secret
    if secret is None:
        raise Problem(403, "Jira webhooks are not enabled: set jira_webhook_secret")
    verify_jira_signature(body, request.headers.get("x-hub-signature"), secret.get_secret_value())
    batch = jira_event(_json(body), now=_now())
    return _store(state, batch, origin="jira", records=1, first_line=1)


def _store(
    state: State, batch: IngestBatch, *, origin: str, records: int, first_line: int
) -> IngestReply:
    """Store `batch`; `origin` is the tool, whose name the adapters store incidents under
    (the metrics' source label, even when the batch holds no incident)."""
    report = ingest_events(
        batch, state.store, received_from=f"webhook {origin}", records=records,
        service_map=service_map_of(state), tier_patterns=state.settings.tier_patterns,
    )  # fmt: skip
    state.metrics.ingested.labels(origin).inc(report.new + report.updated)
    state.metrics.quarantined.labels(origin).inc(len(report.rejected))
    if report.new + report.updated:
        state.incidents_changed()
    return ingest_reply(report, received=records, first_line=first_line)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise Problem(400, f"the body is not JSON: {error}") from None
    except RecursionError:  # nested deeper than the decoder goes: not a payload of theirs
        raise Problem(400, "the body is not JSON this service reads: nested too deep") from None


def _count(payload: Any) -> int:
    """The records a ServiceNow payload holds (a list, or the list under ``result`` or
    ``records``, as `servicenow_records` reads it)."""
    if isinstance(payload, dict):
        for key in ("result", "records"):
            if key in payload:
                inner = payload[key]
                return len(inner) if isinstance(inner, list) else 1
    return len(payload) if isinstance(payload, list) else 1


def _now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")
