"""Checks every request passes before routing: a body size cap, and, on a server without tokens,
loopback host names only and no API writes from other sites' pages.

A server without tokens admits every request, which is safe only while nothing but this machine's
own programs can reach it. Two browser tricks reach it anyway: a page on another site posting to
127.0.0.1 (no preflight is needed without a JSON content type, and FastAPI parses a body that has
none), and DNS rebinding, where the page's own host name is re-pointed at 127.0.0.1 so that it
counts as the same origin. The Origin check stops the first, the host check the second.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jobtrail.loopback import is_loopback
from jobtrail.web.errors import error_response

__all__ = ["SMALL_BODY_BYTES", "BodyLimit", "LocalOnly"]

SMALL_BODY_BYTES = 1024 * 1024
"""The cap on every request body but a batch of events: forms, filters, heartbeats, embeds."""
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class BodyLimit:
    """Refuse (413) a body larger than its cap, whether declared by Content-Length or streamed:
    `limit` for POST /api/v1/events, `SMALL_BODY_BYTES` (or `limit` if smaller) elsewhere."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.small = min(limit, SMALL_BODY_BYTES)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit if scope["path"].endswith("/api/v1/events") else self.small
        message = f"request body is larger than the {limit}-byte limit"
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await error_response(413, message, {"Connection": "close"})(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            received = await receive()
            seen += len(received.get("body", b""))
            if seen > limit:  # raised where the app reads the body, answered by its handlers
                raise HTTPException(413, message)
            return received

        await self.app(scope, counted, send)


class LocalOnly:
    """For a server without tokens: answer only requests addressed to a loopback name (or one of
    `allowed`), and refuse API writes whose Origin is another site."""

    def __init__(self, app: ASGIApp, allowed: Iterable[str] = ()) -> None:
        self.app = app
        self.allowed = frozenset(h.lower().rstrip(".") for h in allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        name = _hostname(host)
        if name is None or not (is_loopback(name) or name.rstrip(".") in self.allowed):
            await error_response(400, (
                f"host {host!r} is not allowed: a jobtrail server without tokens answers only "
                "loopback names (127.0.0.1, localhost); configure tokens, or list the name in "
                "JOBTRAIL_ALLOWED_HOSTS"))(scope, receive, send)
            return
        origin = headers.get("origin")
        if (scope["type"] == "http" and scope["method"] not in _SAFE_METHODS
                and "/api/" in scope["path"] and origin is not None
                and not _same_origin(origin, host, scope.get("scheme", "http"))):
            await error_response(403, (
                f"cross-origin request from {origin!r} refused: without tokens only this "
                "server's own pages and programs that send no Origin may change it"))(
                scope, receive, send)
            return
        await self.app(scope, receive, send)


def _hostname(host: str) -> str | None:
    """The name in a Host header ("[::1]:8765" → "::1"), None when it is not one."""
    try:
        return urlsplit("//" + host).hostname if host else None
    except ValueError:
        return None


def _same_origin(origin: str, host: str, scheme: str) -> bool:
    try:
        parts = urlsplit(origin)
        there = (parts.scheme, parts.hostname, parts.port or _DEFAULT_PORTS.get(parts.scheme))
        here = urlsplit(f"{scheme}://{host}")
        return there == (scheme, here.hostname, here.port or _DEFAULT_PORTS.get(scheme))
    except ValueError:  # "null" (a sandboxed page) or a malformed value
        return False


_DEFAULT_PORTS = {"http": 80, "https": 443}
