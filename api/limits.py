"""A cap on request bodies: a request larger than the limit is a 413, read no further.

A body that declares its length is refused before the app sees it. A streamed one is
counted as the app reads it; past the limit, reading raises an HTTP 413 error, which the
app answers as problem details (FastAPI passes HTTP errors raised while it parses a body
through; any other error there would become a 400).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyLimit"]


class _TooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, _detail(limit))


def _detail(limit: int) -> str:
    return f"the request body is over the limit of {limit:,} bytes"


class BodyLimit:
    """ASGI middleware refusing bodies over `limit` bytes (declared or streamed)."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge(self.limit)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except _TooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body: dict[str, Any] = {
            "type": "https://impactlens.dev/problems/payload-too-large",
            "title": "Payload too large",
            "status": 413,
            "detail": _detail(self.limit),
        }
        data = json.dumps(body).encode()
        await send({
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/problem+json"),
                        (b"content-length", str(len(data)).encode())],
        })  # fmt: skip
        await send({"type": "http.response.body", "body": data})
