"""A real `jobtrail serve` process on a free loopback port, with health thresholds from its
environment, and a way to run the installed `jobtrail` command against it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

TOKENS = "admin:adm,ingest:ing,read:rd"
CLI = [sys.executable, "-c", "from jobtrail.cli import main; main()"]


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBTRAIL_")}
    env.update(extra or {})
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[str]

    def client(self, token: str = "adm") -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"},
                            timeout=30)


Serve = Callable[[dict[str, str]], Server]


@pytest.fixture
def serve(store_url: str) -> Iterator[Serve]:
    """`serve(env)`: `jobtrail serve` over the test database, with `env` added to its environment."""
    procs: list[subprocess.Popen[str]] = []

    def start(env: dict[str, str]) -> Server:
        port = _free_port()
        proc = subprocess.Popen(
            [*CLI, "--url", store_url, "serve", "--port", str(port)],
            env=clean_env({"JOBTRAIL_TOKENS": TOKENS, **env}),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.communicate()[0]
            try:
                httpx.get(f"{url}/openapi.json", timeout=2)
                return Server(url, proc)
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not answer within 60 s"
            time.sleep(0.1)

    try:
        yield start
    finally:
        for proc in procs:
            proc.terminate()
            try:
                out = proc.communicate(timeout=30)[0]
            except subprocess.TimeoutExpired:
                proc.kill()
                out = proc.communicate()[0]
            assert "Traceback" not in out, out
