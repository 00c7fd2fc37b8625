"""Dashboard sessions: a signed cookie naming an API key, and CSRF tokens for its forms.

A person signs in with an API key of scope ``read`` or more. The session cookie holds the
key's id and name, an expiry and a random CSRF token, signed (`itsdangerous`) with the
``session_secret`` setting (else a secret kept in ``<data_dir>/session-secret``); it
never holds the key. Every request checks the signature, the expiry, and that the key
still exists and is not revoked, so revoking a key ends its sessions at once.

Every POST form carries a CSRF token: the session's (for sign-out), or, for the sign-in
form, the token of a short-lived signed pre-session cookie (double submit). Both cookies
are HttpOnly, SameSite=Lax, Path=/dashboard, and Secure on https.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from fastapi import Request, Response
from impactlens.store import Store
from itsdangerous import BadData, URLSafeTimedSerializer

from impactlens.settings import Settings, SettingsError

__all__ = [
    "COOKIE_PATH",
    "HOME",
    "SECRET_FILE",
    "SESSION_COOKIE",
    "SESSION_SECONDS",
    "SIGN_IN_COOKIE",
    "Session",
    "SessionCookies",
    "csrf_matches",
    "safe_next",
    "session_secret",
]

log = logging.getLogger(__name__)

HOME = "/dashboard"
COOKIE_PATH = "/dashboard"
SESSION_COOKIE = "impactlens_session"
SIGN_IN_COOKIE = "impactlens_sign_in"
SECRET_FILE = "session-secret"  # under data_dir, when no session_secret is set
SESSION_SECONDS = 8 * 3600  # a working day: then sign in again
SIGN_IN_SECONDS = 3600  # how long a sign-in form stays usable
_SESSION_SALT = "impactlens.dashboard.session"
_SIGN_IN_SALT = "impactlens.dashboard.sign-in"


@dataclass(frozen=True)
class Session:
    """A signed-in person: the API key they signed in with (id and name), when the
    session ends (epoch seconds) and the CSRF token its forms carry."""

    key_id: int
    key_name: str
    expires: int
    csrf_token: str


def session_secret(settings: Settings) -> str:
    """The key that signs session cookies: the ``session_secret`` setting, else the one
    kept in ``<data_dir>/session-secret`` (made on first use: 32 random bytes, mode 0600,
    created atomically so that workers starting together agree on one)."""
    if settings.session_secret is not None:
        configured = settings.session_secret.get_secret_value()
        if len(configured) < 16:
            raise SettingsError("session_secret is too short: use 16 characters or more")
        return configured
    path = settings.data_dir / SECRET_FILE
    if not path.exists():
        _create_secret(path)
    return _read_secret(path)


def _create_secret(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    handle = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(secrets.token_urlsafe(32) + "\n")
            file.flush()
            os.fsync(file.fileno())
        # A hard link never replaces: if another worker made the file first, keep theirs.
        with contextlib.suppress(FileExistsError):
            os.link(staging, path)
    finally:
        staging.unlink(missing_ok=True)


def _read_secret(path: Path) -> str:
    if path.stat().st_mode & 0o077:
        log.warning("%s can be read by other users: chmod 600 it", path)
    text = path.read_text(encoding="utf-8").strip()
    if len(text) < 16:
        raise SettingsError(f"{path} holds no usable session secret: delete it to make a new one")
    return text


def safe_next(target: str | None) -> str:
    """`target` when it is a local path of the dashboard (where to go after signing in),
    else the dashboard's home: never another site, nor a page outside the dashboard.

    >>> safe_next("/dashboard/hotspots/wms?week=2026-W47"), safe_next("https://evil.example/")
    ('/dashboard/hotspots/wms?week=2026-W47', '/dashboard')
    >>> safe_next("//evil.example/dashboard"), safe_next("/dashboard/../v1/keys")
    ('/dashboard', '/dashboard')
    """
    if not target or len(target) > 2000 or "\\" in target:
        return HOME
    if any(ord(character) < 0x20 or ord(character) == 0x7F for character in target):
        return HOME
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//"):
        return HOME
    path = unquote(parts.path)
    if path != HOME and not path.startswith(HOME + "/"):
        return HOME
    if any(segment in (".", "..") for segment in path.split("/")) or "//" in path:
        return HOME
    return target


class SessionCookies:
    """Makes and checks the dashboard's cookies with one signing secret."""

    def __init__(self, secret: str) -> None:
        self._sessions = URLSafeTimedSerializer(secret, salt=_SESSION_SALT)
        self._sign_ins = URLSafeTimedSerializer(secret, salt=_SIGN_IN_SALT)

    # The session.

    def start(self, response: Response, request: Request, *, key_id: int, key_name: str) -> None:
        """Set a new session cookie for the key on `response` (a fresh CSRF token)."""
        expires = int(time.time()) + SESSION_SECONDS
        payload = {"k": key_id, "n": key_name, "e": expires, "c": secrets.token_urlsafe(32)}
        _set(response, request, SESSION_COOKIE, self._sessions.dumps(payload), SESSION_SECONDS)

    def current(self, request: Request, store: Store) -> Session | None:
        """The request's session: None without one, or when its signature, its expiry or
        its key (revoked, deleted, renamed) does not hold."""
        payload = _loads(self._sessions, request.cookies.get(SESSION_COOKIE), SESSION_SECONDS)
        if not isinstance(payload, dict):
            return None
        key_id, name, expires, token = (payload.get(f) for f in ("k", "n", "e", "c"))
        if not (
            isinstance(key_id, int)
            and isinstance(name, str)
            and isinstance(expires, int)
            and isinstance(token, str)
            and expires > time.time()
        ):
            return None
        live = next((key for key in store.api_keys() if key.id == key_id), None)
        if live is None or live.name != name or not live.allows("read"):
            return None
        return Session(key_id=key_id, key_name=name, expires=expires, csrf_token=token)

    def end(self, response: Response) -> None:
        """Clear the session cookie."""
        response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH, httponly=True, samesite="lax")

    # The sign-in form's token (before there is a session).

    def sign_in_token(self, request: Request) -> tuple[str, bool]:
        """The sign-in form's CSRF token, and whether it is new (to be set as a cookie
        with `keep_sign_in_token`): the one of the request's cookie while it is valid."""
        token = _loads(self._sign_ins, request.cookies.get(SIGN_IN_COOKIE), SIGN_IN_SECONDS)
        if isinstance(token, str) and token:
            return token, False
        return secrets.token_urlsafe(32), True

    def keep_sign_in_token(self, response: Response, request: Request, token: str) -> None:
        _set(response, request, SIGN_IN_COOKIE, self._sign_ins.dumps(token), SIGN_IN_SECONDS)

    def sign_in_token_matches(self, request: Request, sent: str) -> bool:
        """Whether the form's token `sent` is the one of the request's sign-in cookie."""
        token = _loads(self._sign_ins, request.cookies.get(SIGN_IN_COOKIE), SIGN_IN_SECONDS)
        return isinstance(token, str) and bool(token) and _same(token, sent)

    def forget_sign_in_token(self, response: Response) -> None:
        response.delete_cookie(SIGN_IN_COOKIE, path=COOKIE_PATH, httponly=True, samesite="lax")


def csrf_matches(session: Session, sent: str) -> bool:
    """Whether a form's token `sent` is its session's."""
    return _same(session.csrf_token, sent)


def _same(expected: str, sent: str) -> bool:
    return hmac.compare_digest(expected.encode("utf-8"), sent.encode("utf-8"))


def _loads(serializer: URLSafeTimedSerializer, value: str | None, max_age: int) -> Any:
    if not value or len(value) > 4096:
        return None
    try:
        return serializer.loads(value, max_age=max_age)
    except BadData:
        return None


def _set(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="lax",
    )
