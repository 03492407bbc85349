"""A real uvicorn server per test, on a free loopback port, talked to over HTTP with httpx.

Every response any test receives is checked on the way in: an error (4xx/5xx) must be the JSON
`{"error": message, "status": code}` with the status it answers with, and no body may ever carry a
Python traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from jobtrail.config import Settings
from jobtrail.web import asgi_app
from jt_support import start_server

ADMIN = "admin-secret"
READ = "read-secret"
INGEST = "ingest-secret"
TOKENS = (f"admin:{ADMIN}", f"read:{READ}", f"ingest:{INGEST}")


def check_response(response: httpx.Response) -> None:
    """The invariants every response keeps, whichever test made the request."""
    response.read()
    assert "Traceback" not in response.text, response.text
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error", "status"}, body
        assert body["status"] == response.status_code, body
        assert isinstance(body["error"], str) and body["error"], body


@dataclass
class Live:
    """A running server: `client(token)` gives an httpx client that checks every response."""

    url: str
    app: Any
    _clients: list[httpx.Client] = field(default_factory=list)

    def client(self, token: str | None = ADMIN, prefix: str = "") -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        client = httpx.Client(base_url=self.url + prefix, headers=headers, timeout=30,
                              event_hooks={"response": [check_response]})
        self._clients.append(client)
        return client

    def close(self) -> None:
        for client in self._clients:
            client.close()


Serve = Callable[..., Live]


@pytest.fixture
def serve() -> Iterator[Serve]:
    """`serve(app)`, or `serve(url, settings)` for `asgi_app(url, settings)`: a running server."""
    with ExitStack() as stack:

        def start(target: Any, settings: Settings | None = None) -> Live:
            app = asgi_app(target, settings or Settings(tokens=TOKENS)) if isinstance(target, str) \
                else target
            running = start_server(app)
            stack.callback(running.stop)
            live = Live(running.url, app)
            stack.callback(live.close)
            return live

        yield start


@pytest.fixture
def live(serve: Serve, store_url: str) -> Live:
    """The API over a fresh database (SQLite, then PostgreSQL) with admin, read and ingest tokens."""
    return serve(store_url)


@pytest.fixture
def admin(live: Live) -> httpx.Client:
    return live.client(ADMIN)


@pytest.fixture
def reader(live: Live) -> httpx.Client:
    return live.client(READ)


@pytest.fixture
def ingester(live: Live) -> httpx.Client:
    return live.client(INGEST)


Send = Callable[..., dict[str, Any]]


@pytest.fixture
def send() -> Send:
    """`send(client, *events)`: POST the events, expect every one accepted, return the body."""

    def post(client: httpx.Client, *events: dict[str, Any]) -> dict[str, Any]:
        response = client.post("/api/v1/events", json={"events": list(events)})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert body["rejected"] == [], body
        return body

    return post
