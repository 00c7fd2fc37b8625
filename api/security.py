"""API keys on requests: ``Authorization: Bearer KEY``, checked against the store's hashes.

Scopes are ordered: ``read`` < ``ingest`` < ``admin`` (`ApiKey.allows`). A request
without a usable key is a 401 with ``WWW-Authenticate: Bearer``; a key without the
scope a route needs is a 403 naming both. The key itself is never logged or echoed.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from impactlens.api.problems import Problem
from impactlens.api.state import ServiceState

__all__ = ["AdminKey", "IngestKey", "ReadKey", "State", "require_scope", "service_state"]

_bearer = HTTPBearer(auto_error=False, description="An API key: impactlens keys create")
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="impactlens"'}


def service_state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.service
    return state


State = Annotated[ServiceState, Depends(service_state)]


def require_scope(scope: str) -> Any:
    """A dependency: the request's API key, which must allow `scope`."""

    def check(
        state: State,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Any:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise Problem(
                401, "an API key is required: Authorization: Bearer KEY", headers=_CHALLENGE
            )
        key = state.store.authenticate(credentials.credentials)
        if key is None:
            raise Problem(401, "the API key is unknown or revoked", headers=_CHALLENGE)
        if not key.allows(scope):
            raise Problem(
                403, f"API key {key.name!r} has scope {key.scope!r}; this needs {scope!r}"
            )
        return key

    return Depends(check)


ReadKey = Annotated[Any, require_scope("read")]
IngestKey = Annotated[Any, require_scope("ingest")]
AdminKey = Annotated[Any, require_scope("admin")]
