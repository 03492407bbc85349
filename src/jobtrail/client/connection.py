"""`ServerConnection`: how a remote `Trail` speaks HTTP, on the standard library's `http.client`.

Why not httpx (which the CLI uses): importing httpx imports its command line too (rich, pygments,
click: about 10 MB and 60 ms). Every process that tracks jobs would carry that, and a forking
worker pays for its size on every fork (RQ forks a horse per job). A Trail needs little: requests
to one server over kept-alive connections, with timeouts, TLS that trusts what httpx trusts, and
the proxy the environment names.
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
import time
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlsplit
from urllib.request import getproxies_environment, proxy_bypass_environment  # type: ignore[attr-defined]

__all__ = ["CONNECT_TIMEOUT", "MAX_CONNECTION_AGE", "READ_TIMEOUT", "NoAnswer", "Reply", "ServerConnection",
           "server_host", "ssl_context"]

CONNECT_TIMEOUT = 2.0  # seconds
READ_TIMEOUT = 10.0  # seconds
MAX_CONNECTION_AGE = 5.0
"""Seconds a kept-alive connection serves before the next request opens a new one. A server with
several worker processes (or behind a load balancer) has each connection accepted by one of them,
and an idle one is the likeliest to take the new one: senders with long-lived connections would
otherwise stay on whichever worker took them first, leaving the others idle. On loopback a new
connection costs about 0.1 ms, on a network one round trip (plus a TLS handshake)."""
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)
"""What a kept-alive connection the server has since closed raises; worth one fresh try."""


class NoAnswer(Exception):
    """The server could not be reached, the connection broke, or it timed out (`timed_out`)."""

    def __init__(self, message: str, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes
    reason: str = ""
    retry_after: str | None = None

    @property
    def is_success(self) -> bool:
        return 200 <= self.status < 300

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)


@cache
def ssl_context() -> ssl.SSLContext:
    """The CAs httpx trusts: SSL_CERT_FILE, else SSL_CERT_DIR, else certifi's bundle. Built once:
    loading a bundle costs about 40 ms of CPU."""
    if os.environ.get("SSL_CERT_FILE"):
        return ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    if os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context(capath=os.environ["SSL_CERT_DIR"])
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def _proxy(scheme: str, host: str) -> tuple[str, int] | None:
    """The proxy HTTP(S)_PROXY / ALL_PROXY name for this server, unless NO_PROXY exempts it."""
    proxies = getproxies_environment()
    url = proxies.get(scheme) or proxies.get("all")
    if not url or proxy_bypass_environment(host, proxies):
        return None
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"unsupported proxy {url!r} (jobtrail's client uses http:// proxies)")
    return parts.hostname, parts.port or 80


def server_host(url: str) -> str:
    """The host of an http(s) server URL; ValueError for anything else (no host, a bad port)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"not an http(s) URL: {url!r}")
    if not parts.hostname:
        raise ValueError(f"the server URL {url!r} names no host")
    _ = parts.port  # raises for a port that is not a number in range
    return parts.hostname


class ServerConnection:
    """Requests to one server (its URL may carry a path prefix), one at a time over one kept-alive
    connection, opened again when it breaks. Not thread-safe: one user at a time."""

    def __init__(self, url: str, headers: dict[str, str], *,
                 connect_timeout: float = CONNECT_TIMEOUT, read_timeout: float = READ_TIMEOUT,
                 max_age: float = MAX_CONNECTION_AGE) -> None:
        parts = urlsplit(url.rstrip("/"))
        self.https = parts.scheme == "https"
        self.host = server_host(url)
        self.port = parts.port or (443 if self.https else 80)
        self.prefix = parts.path
        self.headers = headers
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.proxy = _proxy(parts.scheme, self.host)
        self.max_age = max_age
        self._conn: http.client.HTTPConnection | None = None
        self._opened = 0.0

    def request(self, method: str, path: str, body: bytes | None = None) -> Reply:
        """The server's answer, whatever its status; `NoAnswer` when there is none. `path` may
        carry a query; a body is sent as JSON."""
        headers = self.headers if body is None else {**self.headers,
                                                     "Content-Type": "application/json"}
        target = self.prefix + path
        if self.proxy is not None and not self.https:  # a plain proxy takes the whole URL
            host = f"[{self.host}]" if ":" in self.host else self.host
            target = f"http://{host}:{self.port}{target}"
        for retry in (False, True):
            reused = self._conn is not None
            try:
                conn = self._connection()
                conn.request(method, target, body, headers)
                response = conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                if reused and not retry and isinstance(exc, _STALE):
                    continue  # closed while idle: once more on a fresh connection
                raise NoAnswer(f"{type(exc).__name__}: {exc}", isinstance(exc, TimeoutError)) from None
            if response.will_close:
                self.close()
            return Reply(response.status, data, response.reason, response.getheader("Retry-After"))
        raise AssertionError("unreachable")

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is not None:
            if time.monotonic() - self._opened < self.max_age:
                return self._conn
            self.close()  # renewed between requests: see MAX_CONNECTION_AGE
        host, port = self.proxy or (self.host, self.port)
        conn: http.client.HTTPConnection
        if self.https:
            conn = http.client.HTTPSConnection(host, port, timeout=self.connect_timeout,
                                               context=ssl_context())
            if self.proxy is not None:
                conn.set_tunnel(self.host, self.port)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=self.connect_timeout)
        try:
            conn.connect()
        except BaseException:
            conn.close()
            raise
        if conn.sock is not None:
            conn.sock.settimeout(self.read_timeout)
        self._conn = conn
        self._opened = time.monotonic()
        return conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
