"""Support shared by the test folders (importable because pytest puts `tests/` on the path):
the skip-or-fail rule for missing services, and a real uvicorn server on a loopback port."""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn

__all__ = ["IN_CI", "LiveServer", "need", "start_server"]

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
START_TIMEOUT = 15.0  # seconds for a server to start (PostgreSQL migrations included)


def need(service: str, reason: str) -> None:
    """Skip (or, under CI=true, fail) because `service` is unavailable."""
    message = f"{service} unavailable: {reason}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true requires it)", pytrace=False)
    pytest.skip(message)


@dataclass
class LiveServer:
    """A uvicorn server running `app` in a thread, with its lifespan (sweeper, alerts) on."""

    url: str
    port: int
    server: uvicorn.Server
    thread: threading.Thread
    sock: socket.socket

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        self.sock.close()
        assert not self.thread.is_alive(), "the test server did not stop"


def start_server(app: Any, port: int | None = None, **config: Any) -> LiveServer:
    """Bind first (port 0: any free one), then serve on that socket, so no other process can take
    the port between choosing and listening. `config`: more uvicorn settings (with `ssl_certfile`
    the URL is https)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port or 0))
    bound = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=bound, log_level="warning",
                                           ws="none", lifespan="on", **config))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True,
                              name="uvicorn-test-server")
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(5)
            sock.close()
            raise AssertionError("the test server did not start")
        time.sleep(0.01)
    scheme = "https" if config.get("ssl_certfile") else "http"
    return LiveServer(f"{scheme}://127.0.0.1:{bound}", bound, server, thread, sock)
