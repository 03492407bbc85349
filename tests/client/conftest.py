"""Fixtures for the tracking client.

- `server`, `remote`, `remote_settings`, `dead_url`: a real uvicorn server on a SQLite file, and
  Trails that talk to it over HTTP (used by test_remote.py).
- `make_trail`, `eventually`: Trails on a database with fast timings, always closed; polling with a
  deadline instead of sleeping.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from jobtrail import Settings, Trail
from jt_support import start_server

T = TypeVar("T")

# ---- a live server, and Trails over HTTP -------------------------------------------------------

TOKENS = ("ingest:tok-i", "read:tok-r", "admin:tok-a")


@dataclass
class Server:
    """A running server: `url` to reach it over HTTP; `local()` a Trail on its database directly."""

    url: str
    db_url: str

    @contextlib.contextmanager
    def local(self) -> Iterator[Trail]:
        trail = Trail(self.db_url, settings=Settings(flush_interval=0.05, exit_timeout=1.0))
        try:
            yield trail
        finally:
            trail.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    from jobtrail.web import asgi_app

    db_url = f"sqlite:///{tmp_path / 'server.db'}"
    running = start_server(asgi_app(db_url, Settings(tokens=TOKENS)))
    try:
        yield Server(url=running.url, db_url=db_url)
    finally:
        running.stop()


RemoteSettings = Callable[..., Settings]


@pytest.fixture
def remote_settings(tmp_path: Path) -> RemoteSettings:
    """`remote_settings(**fields)`: fast Settings whose spill folder is inside this test's tmp_path."""

    def make(**fields: Any) -> Settings:
        base: dict[str, Any] = {
            "flush_interval": 0.05,
            "exit_timeout": 1.0,
            "extra": {"spill_dir": str(tmp_path / "spill"), "retry_max_seconds": "1"},
        }
        return Settings(**{**base, **fields})

    return make


@pytest.fixture
def remote(server: Server, remote_settings: RemoteSettings) -> Iterator[Callable[..., Trail]]:
    """`remote(token, **settings)`: a Trail on the server's URL with that token, closed afterwards."""
    made: list[Trail] = []

    def make(token: str | None, **fields: Any) -> Trail:
        trail = Trail(server.url, token=token, settings=remote_settings(**fields))
        made.append(trail)
        return trail

    yield make
    for trail in reversed(made):
        trail.close()


@pytest.fixture
def dead_url() -> str:
    """An http URL on a loopback port that nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# ---- Trails on a database ----------------------------------------------------------------------

FAST = {"flush_interval": 0.05, "heartbeat_interval": 0.1, "exit_timeout": 0.5}
"""Seconds: send often, beat often, and never wait long at close."""

MakeTrail = Callable[..., Trail]
Eventually = Callable[..., Any]


@pytest.fixture
def make_trail() -> Iterator[MakeTrail]:
    """`make_trail(url, **settings)`: a Trail with FAST settings (overridable), closed at teardown."""
    made: list[Trail] = []

    def make(url: str, **settings: Any) -> Trail:
        trail = Trail(url, settings=Settings(**{**FAST, **settings}))
        made.append(trail)
        return trail

    yield make
    for trail in reversed(made):
        trail.close()


@pytest.fixture
def eventually() -> Eventually:
    """`eventually(fn, timeout=5)`: poll `fn` until it returns something truthy; fail at the deadline."""

    def poll(fn: Callable[[], T], timeout: float = 5.0, what: str = "condition") -> T:
        deadline = time.monotonic() + timeout
        while True:
            value = fn()
            if value:
                return value
            if time.monotonic() > deadline:
                pytest.fail(f"{what} did not hold within {timeout}s (last value {value!r})")
            time.sleep(0.02)

    return poll
