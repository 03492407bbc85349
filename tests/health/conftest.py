"""A real uvicorn server on a free loopback port (in a thread, lifespan on, so the stall sweep
runs), with health thresholds given per test, and `jobtrail` driven by Typer's CliRunner."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner, Result

from jobtrail.config import Settings
from jobtrail.health import HealthSettings
from jobtrail.web import asgi_app

TOKENS = ("admin:adm", "ingest:ing", "read:rd")


@dataclass
class Server:
    url: str

    def client(self, token: str = "adm") -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"},
                            timeout=30)


Serve = Callable[[HealthSettings], Server]


@pytest.fixture
def serve(store_url: str) -> Iterator[Serve]:
    """`serve(health_settings)`: the jobtrail app over the test database, on loopback."""
    running: list[tuple[uvicorn.Server, threading.Thread, socket.socket]] = []

    def start(health: HealthSettings) -> Server:
        app = asgi_app(store_url, Settings(tokens=TOKENS))
        app.state.health = health
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", ws="none"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        running.append((server, thread, sock))
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.01)
        return Server(f"http://127.0.0.1:{sock.getsockname()[1]}")

    try:
        yield start
    finally:
        for server, thread, sock in running:
            server.should_exit = True
            thread.join(15)
            sock.close()
            assert not thread.is_alive(), "the server did not stop"


@pytest.fixture
def jobtrail_cli() -> Callable[..., Result]:
    """`jobtrail_cli("--url", url, "health")`: the CLI in-process, with no JOBTRAIL_* from outside."""
    from jobtrail.cli import app

    runner = CliRunner()
    env = {"JOBTRAIL_URL": None, "JOBTRAIL_TOKEN": None, "COLUMNS": "200"}
    return lambda *args: runner.invoke(app, list(args), env=env)  # type: ignore[arg-type]
