"""API keys of the HTTP service (the SQL behind `Store.create_api_key`, `Store.api_keys`,
`Store.revoke_api_key` and `Store.authenticate`).

A key is 32 random bytes (``secrets.token_urlsafe``) after the prefix ``il_``; it is shown
once, when created, and only its SHA-256 is stored. A fast hash is the right one here: a
key has 256 bits of entropy, so there is nothing to guess, and a request is checked with
one primary-key lookup. Scopes are ordered: ``read`` < ``ingest`` < ``admin``, each
allowing the ones before it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from impactlens.store.schema import api_keys
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.exc import IntegrityError

from impactlens.errors import InvalidSettingsError, UnknownApiKeyError, excerpt

__all__ = [
    "KEY_PREFIX",
    "SCOPES",
    "ApiKey",
    "check_scope",
    "find_key",
    "insert_key",
    "read_keys",
    "revoke_key",
]

SCOPES = ("read", "ingest", "admin")
KEY_PREFIX = "il_"
_SHOWN = 8  # characters of a key kept in clear, to tell keys apart in a listing
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,99}$")


@dataclass(frozen=True)
class ApiKey:
    """A stored API key: never the key itself, only what names and limits it."""

    id: int
    name: str
    scope: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None

    def allows(self, scope: str) -> bool:
        """Whether this key may do what `scope` allows (admin > ingest > read).

        >>> key = ApiKey(1, "servicenow", "ingest", "il_Ab3d", datetime(2026, 12, 1), None)
        >>> key.allows("read"), key.allows("ingest"), key.allows("admin")
        (True, True, False)
        """
        return SCOPES.index(self.scope) >= SCOPES.index(check_scope(scope))


def check_scope(scope: str) -> str:
    """`scope` when it is a scope, else `InvalidSettingsError` listing the scopes."""
    if scope not in SCOPES:
        raise InvalidSettingsError(
            f"scope {excerpt(scope)} is not a scope (use one of: {', '.join(SCOPES)})"
        )
    return scope


def new_key() -> str:
    """A fresh key: ``il_`` and 43 URL-safe characters (32 random bytes)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def insert_key(
    connection: Connection, *, name: str, scope: str, at: datetime
) -> tuple[ApiKey, str]:
    """Store a new key named `name`; the key and the key itself (shown once)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidSettingsError(
            f"API key name {excerpt(name)} is not usable: 1-100 letters, digits, spaces "
            "or ._@- , starting with a letter or digit"
        )
    check_scope(scope)
    key = new_key()
    values = {
        "name": name,
        "scope": scope,
        "prefix": key[:_SHOWN],
        "key_hash": key_hash(key),
        "created_at": at,
    }
    try:
        inserted = connection.execute(insert(api_keys).values(values).returning(api_keys.c.id))
    except IntegrityError:
        raise InvalidSettingsError(
            f"an API key named {excerpt(name)} exists already (names are never reused, "
            "even revoked ones: pick another)"
        ) from None
    return ApiKey(inserted.scalar_one(), name, scope, key[:_SHOWN], at, None), key


def read_keys(connection: Connection, *, revoked: bool = False) -> list[ApiKey]:
    """The stored keys by creation order; revoked ones too when `revoked`."""
    query = select(api_keys).order_by(api_keys.c.id)
    if not revoked:
        query = query.where(api_keys.c.revoked_at.is_(None))
    return [_key(row) for row in connection.execute(query).mappings()]


def revoke_key(connection: Connection, name: str, *, at: datetime) -> ApiKey:
    """Revoke the key named `name` (at once: the next request with it is refused)."""
    row = connection.execute(select(api_keys).where(api_keys.c.name == name)).mappings().first()
    if row is None:
        known = [key.name for key in read_keys(connection)]
        listed = ", ".join(known) if known else "none"
        raise UnknownApiKeyError(f"no API key is named {excerpt(name)} (keys: {listed})")
    if row["revoked_at"] is None:
        connection.execute(update(api_keys).where(api_keys.c.id == row["id"]).values(revoked_at=at))
    found = connection.execute(select(api_keys).where(api_keys.c.id == row["id"]))
    return _key(found.mappings().one())


def find_key(connection: Connection, key: str) -> ApiKey | None:
    """The live (not revoked) stored key `key` is, or None."""
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    row = (
        connection.execute(
            select(api_keys).where(
                api_keys.c.key_hash == key_hash(key), api_keys.c.revoked_at.is_(None)
            )
        )
        .mappings()
        .first()
    )
    return None if row is None else _key(row)


def _key(row: RowMapping) -> ApiKey:
    return ApiKey(
        id=int(row["id"]),
        name=str(row["name"]),
        scope=str(row["scope"]),
        prefix=str(row["prefix"]),
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )
