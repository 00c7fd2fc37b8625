"""A small client of ServiceNow's REST Table API: authenticated GETs, with retries.

`TableClient.page` asks ``GET {instance}/api/now/table/{table}`` for one page of
records and answers its ``result`` list with the ``X-Total-Count`` header. Over
ServiceNow's documented behaviour:

- Authentication is Basic (user and password) or an OAuth bearer token. Neither is ever
  logged nor put in a message; a 401 or 403 is one `ServiceNowAccessError` saying what
  to check.
- A 429 (an inbound REST rate limit rule fired) is retried after its ``Retry-After``
  (seconds, or an HTTP date, taken against the answer's ``Date``); a 5xx answer and a
  connection that fails (refused, reset, timed out) are retried with exponential backoff.
  Each request is tried at most ``max_attempts`` times; the waits go through the `sleep`
  given, so that tests (and flows that count them) see them without waiting.
- Any other error answer is a `SourceError` quoting ServiceNow's own message
  (``{"error": {"message": ..., "detail": ...}}``), cut short.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from pydantic import SecretStr

from impactlens.errors import InvalidSettingsError, SourceError, excerpt

__all__ = [
    "ServiceNowAccessError",
    "TableClient",
    "TablePage",
    "retry_after_seconds",
]

log = logging.getLogger(__name__)
Sleep = Callable[[float], None]


class ServiceNowAccessError(SourceError):
    """ServiceNow refused the credentials (401) or the table to this user (403)."""

    def __init__(self, message: str, *, status: int, table: str) -> None:
        super().__init__(message)
        self.status = status
        self.table = table


@dataclass(frozen=True)
class TablePage:
    """One answer of the Table API: its records, and ``X-Total-Count`` when it says."""

    records: list[dict[str, Any]]
    total: int | None


class TableClient:
    """GETs of one instance's Table API, authenticated, with bounded retries.

    Parameters
    ----------
    instance
        The instance URL, such as ``https://example.service-now.com`` (no credentials).
    user, password, token
        Basic authentication (`user` and `password`) or an OAuth `token` (Bearer), which
        wins when both are given.
    client
        The `httpx.Client` to send with (its own settings kept); default: one made here
        with `timeout` and closed by `close`.
    sleep
        Called with the seconds to wait before a retry.
    max_attempts, backoff, max_wait
        Tries per request; the wait before the first retry of a 5xx or failed connection
        (doubled each time, at most `max_wait`); a 429 asking for longer than
        `max_wait` is an error rather than a wait.
    """

    def __init__(
        self,
        instance: str,
        *,
        user: str = "",
        password: SecretStr | None = None,
        token: SecretStr | None = None,
        client: httpx.Client | None = None,
        sleep: Sleep,
        timeout: float = 60.0,
        max_attempts: int = 5,
        backoff: float = 1.0,
        max_wait: float = 300.0,
    ) -> None:
        if max_attempts < 1:
            raise InvalidSettingsError(f"max_attempts {max_attempts} must be at least 1")
        self.instance = instance.rstrip("/")
        self.user = user
        self._headers = {"Accept": "application/json", **_authorization(user, password, token)}
        self._uses_token = token is not None and bool(token.get_secret_value())
        self._owns_client = client is None
        self._client = client if client is not None else httpx.Client(timeout=timeout)
        self._sleep = sleep
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_wait = max_wait
        self.requests = 0  # requests sent, retries included

    def close(self) -> None:
        """Close the HTTP client, when it was made here."""
        if self._owns_client:
            self._client.close()

    def page(
        self,
        table: str,
        *,
        query: str,
        limit: int,
        offset: int = 0,
        display_value: str = "false",
        fields: Sequence[str] = (),
    ) -> TablePage:
        """One page of `table`'s records matching the encoded `query`."""
        params: dict[str, str | int] = {
            "sysparm_query": query,
            "sysparm_limit": limit,
            "sysparm_offset": offset,
            "sysparm_display_value": display_value,
            "sysparm_exclude_reference_link": "true",
        }
        if fields:
            params["sysparm_fields"] = ",".join(fields)
        response = self._get(table, params)
        return TablePage(self._records(table, response), _total(response.headers))

    # --- requests -------------------------------------------------------------------

    def _where(self, table: str) -> str:
        return f"ServiceNow {self.instance} (table {table})"

    def _get(self, table: str, params: Mapping[str, str | int]) -> httpx.Response:
        url = f"{self.instance}/api/now/table/{table}"
        where = self._where(table)
        for attempt in range(1, self.max_attempts + 1):
            backoff = min(self.backoff * 2 ** (attempt - 1), self.max_wait)
            self.requests += 1
            try:
                response = self._client.get(url, params=params, headers=self._headers)
            except httpx.TransportError as error:  # refused, reset, timed out, ...
                problem = f"the connection failed ({_transport_problem(error)})"
                wait = backoff
            else:
                status = response.status_code
                if status < 400:
                    return response
                if status in (401, 403):
                    raise self._refused(table, response)
                if status == 429:
                    asked = retry_after_seconds(
                        response.headers.get("Retry-After"), date=response.headers.get("Date")
                    )
                    if asked is not None and asked > self.max_wait:
                        raise SourceError(
                            f"{where}: rate limited (HTTP 429); the instance asks to wait "
                            f"{asked:,.0f} s, longer than the {self.max_wait:,.0f} s allowed: "
                            "pull again later"
                        )
                    problem = "rate limited (HTTP 429)"
                    wait = backoff if asked is None else asked
                elif status >= 500:
                    problem = f"HTTP {status}{_servicenow_message(response)}"
                    asked = retry_after_seconds(
                        response.headers.get("Retry-After"), date=response.headers.get("Date")
                    )
                    wait = backoff if asked is None else min(asked, self.max_wait)
                else:
                    raise SourceError(f"{where}: HTTP {status}{_servicenow_message(response)}")
            if attempt == self.max_attempts:
                raise SourceError(f"{where}: {problem}, {self.max_attempts} tries in a row")
            log.warning(
                "%s: %s; try %d of %d in %.1f s",
                where, problem, attempt + 1, self.max_attempts, wait,
            )  # fmt: skip
            self._sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _refused(self, table: str, response: httpx.Response) -> ServiceNowAccessError:
        status = response.status_code
        said = _servicenow_message(response)
        if status == 401:
            who = "the OAuth token" if self._uses_token else f"user {excerpt(self.user)}"
            check = (
                "IMPACTLENS_SERVICENOW_TOKEN"
                if self._uses_token
                else "IMPACTLENS_SERVICENOW_USER and IMPACTLENS_SERVICENOW_PASSWORD"
            )
            message = (
                f"ServiceNow {self.instance} refused the credentials of {who} "
                f"(HTTP 401{said}): check {check}"
            )
        else:
            who = "this OAuth token" if self._uses_token else f"user {excerpt(self.user)}"
            message = (
                f"{self._where(table)}: {who} may not read it (HTTP 403{said}); "
                f"give it a role that can read {table}"
            )
        return ServiceNowAccessError(message, status=status, table=table)

    def _records(self, table: str, response: httpx.Response) -> list[dict[str, Any]]:
        try:
            body = response.json()
        except ValueError:  # e.g. the HTML login page of a hibernating developer instance
            kind = response.headers.get("Content-Type", "no content type").split(";")[0]
            raise SourceError(
                f"{self._where(table)}: the answer is not Table API JSON ({kind}, HTTP "
                f"{response.status_code}); is the instance awake and the URL right?"
            ) from None
        result = body.get("result") if isinstance(body, dict) else None
        if not isinstance(result, list) or not all(isinstance(r, dict) for r in result):
            raise SourceError(f"{self._where(table)}: the answer has no 'result' list of records")
        return result


def retry_after_seconds(value: str | None, *, date: str | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait: delay-seconds or an HTTP date.

    An HTTP date is taken against `date` (the answer's ``Date`` header: the server's
    clock), else against this machine's clock; a moment past is 0. None when absent or
    unreadable.

    >>> retry_after_seconds("3"), retry_after_seconds(None), retry_after_seconds("soon")
    (3.0, None, None)
    >>> retry_after_seconds("Wed, 02 Dec 2026 10:00:30 GMT",
    ...                     date="Wed, 02 Dec 2026 10:00:00 GMT")
    30.0
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    moment = _http_date(value)
    if moment is None:
        return None
    reference = _http_date(date) if date else None
    seconds = (moment - (reference or datetime.now(UTC))).total_seconds()
    return max(0.0, seconds)


def _http_date(value: str) -> datetime | None:
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _authorization(
    user: str, password: SecretStr | None, token: SecretStr | None
) -> dict[str, str]:
    if token is not None and token.get_secret_value():
        return {"Authorization": f"Bearer {token.get_secret_value()}"}
    if user and password is not None:
        pair = f"{user}:{password.get_secret_value()}".encode()
        return {"Authorization": f"Basic {base64.b64encode(pair).decode('ascii')}"}
    raise InvalidSettingsError(
        "no ServiceNow credentials: set IMPACTLENS_SERVICENOW_USER and "
        "IMPACTLENS_SERVICENOW_PASSWORD, or IMPACTLENS_SERVICENOW_TOKEN"
    )


def _total(headers: httpx.Headers) -> int | None:
    value = headers.get("X-Total-Count", "").strip()
    return int(value) if value.isdigit() else None


def _servicenow_message(response: httpx.Response) -> str:
    """``: <message> (<detail>)`` from ServiceNow's error body, cut short; else nothing."""
    try:
        body = response.json()
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return ""
    parts = [str(error[key]) for key in ("message", "detail") if error.get(key)]
    return ": " + excerpt("; ".join(parts), 200, quote=False) if parts else ""


def _transport_problem(error: httpx.TransportError) -> str:
    # httpx's messages name the socket error ("[Errno 111] Connection refused"), never
    # the request's headers.
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return excerpt(text, 200, quote=False) if text else type(error).__name__
