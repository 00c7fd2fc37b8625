"""Errors as RFC 9457 problem details (``application/problem+json``), never a traceback.

Every error the service answers is one JSON object: ``type`` (a stable URI naming the kind
of problem), ``title``, ``status``, ``detail`` (what, where, why, in one message fit to
show) and, for a request that does not validate, ``errors`` (each with its place). An
unexpected failure is logged with its traceback on the server and answered with a plain
500 that says nothing of the code; a store that fails is a 503, its reason (which names
the database) logged, not answered. A body that is not JSON at all is a 400, not a 422.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from impactlens.store.errors import InvalidBatchError, StoreError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route

from impactlens.errors import (
    FileValidationError,
    ImpactlensError,
    InvalidPayloadError,
    InvalidSettingsError,
    InvalidWeekError,
    UnknownApiKeyError,
    UnknownProcessError,
    UnknownServiceError,
    WebhookAuthError,
)

__all__ = [
    "PROBLEM_TYPES",
    "Problem",
    "install_problem_handlers",
    "problem_response",
    "problems",
]

log = logging.getLogger(__name__)
MEDIA_TYPE = "application/problem+json"
_BASE = "https://impactlens.dev/problems/"  # a stable name; nothing is fetched from it
PROBLEM_TYPES = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "invalid-request",
    500: "internal-error",
    503: "unavailable",
}

_DESCRIPTIONS = {
    400: "The input is wrong for its meaning (the detail says what and where).",
    401: "No API key, an unknown or revoked one, or a bad webhook signature.",
    403: "The API key lacks the scope, or this webhook is not enabled.",
    404: "Nothing of that name.",
    406: "None of the media types the Accept header allows is offered.",
    413: "The body is larger than the api_max_body_bytes setting.",
    415: "The body's media type is not one this route reads.",
    422: "The request does not validate: every error, with its place.",
    503: "Not ready, or the store is unavailable.",
}
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "A URI naming the kind of problem."},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "What, where and why."},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["place", "message"],
                "properties": {"place": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` of a route that can answer `statuses` as problems."""
    return {
        status: {
            "description": _DESCRIPTIONS[status],
            "content": {MEDIA_TYPE: {"schema": PROBLEM_SCHEMA}},
        }
        for status in statuses
    }


class Problem(Exception):
    """An error to answer as problem details: `status`, `detail`, optional `errors` and
    response `headers` (``WWW-Authenticate`` on a 401)."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors
        self.headers = headers


class ProblemResponse(JSONResponse):
    """Problem details as JSON; text that is not Unicode (a lone surrogate the request
    held, echoed in a message) is written as JSON escapes rather than failing."""

    media_type = MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except UnicodeEncodeError:
            return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode()


def problem_response(
    status: int,
    detail: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    kind = PROBLEM_TYPES.get(status, "error")
    body: dict[str, Any] = {
        "type": _BASE + kind,
        "title": kind.replace("-", " ").capitalize(),
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    return ProblemResponse(body, status_code=status, headers=headers)


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error of `app` as problem details."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, error: Problem) -> JSONResponse:
        return problem_response(
            error.status, error.detail, errors=error.errors, headers=error.headers
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        detail = error.detail if isinstance(error.detail, str) else str(error.detail)
        headers = error.headers
        if error.status_code == 405:  # Starlette names the first route's methods only
            headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(request))}
        return problem_response(error.status_code, detail, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        for issue in error.errors():
            if issue.get("type") == "json_invalid":  # not JSON at all: malformed, a 400
                where = issue["loc"][-1] if issue.get("loc") else 0
                why = issue.get("ctx", {}).get("error", "not JSON")
                return problem_response(400, f"the body is not JSON: {why} (character {where})")
        errors = [
            {"place": ".".join(str(part) for part in issue["loc"]), "message": issue["msg"]}
            for issue in error.errors()
        ]
        first = errors[0] if errors else {"place": "request", "message": "invalid"}
        shown = f"{first['place']}: {first['message']}"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return problem_response(422, f"the request is invalid: {shown}{more}", errors=errors)

    @app.exception_handler(ImpactlensError)
    async def _domain(request: Request, error: ImpactlensError) -> JSONResponse:
        status, errors = status_of(error)
        if status == 503:  # the store failed, not the request: the reason goes to the log
            log.error("store failed answering %s %s: %s", request.method, request.url.path, error)
            return problem_response(
                503, "the incident store is unavailable; the error is in the service's log"
            )
        # The first line says what is wrong; the lines after it are the listed `errors`.
        detail = next(iter(str(error).splitlines()), "the request cannot be answered")
        detail = detail.rstrip(":")
        return problem_response(status, detail, errors=errors)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error answering %s %s", request.method, request.url.path)
        return problem_response(500, "the service failed to answer; the error is in its log")


def allowed_methods(request: Request) -> list[str]:
    """The methods of every route at the request's path."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.methods:
            match, _ = route.matches({**request.scope, "method": "GET"})
            if match is not Match.NONE:
                methods |= route.methods
    return sorted(methods)


def status_of(error: ImpactlensError) -> tuple[int, list[dict[str, Any]] | None]:
    """The HTTP status of a library error, and its issues when it lists them."""
    if isinstance(error, FileValidationError):
        issues = [{"place": issue.place, "message": issue.message} for issue in error.issues]
        return 422, issues
    if isinstance(error, (UnknownServiceError, UnknownProcessError, UnknownApiKeyError)):
        return 404, None
    if isinstance(error, StoreError) and not isinstance(error, InvalidBatchError):
        return 503, None
    if isinstance(error, WebhookAuthError):
        return 401, None
    if isinstance(error, InvalidPayloadError):
        return 400, None
    if isinstance(error, (InvalidWeekError, InvalidSettingsError)):
        return 400, None
    return 400, None
