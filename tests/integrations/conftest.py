"""Fixtures for the framework integrations, all over real services and real processes:

- `jobtrail_server`: the real jobtrail API (`asgi_app`, what `jobtrail serve` runs) under uvicorn on
  a loopback port, over a SQLite file; `.stop()` and `.start()` bring it down and back on the same
  port (tests take it away mid-run). `make_jobtrail_server(store_url)` for another store.
- `redis_url`: a Redis database number (1-14) nobody else is using (claimed with a key, so
  concurrent test runs on one machine do not share one), emptied before and flushed after.
- `rabbitmq_url`: the RabbitMQ broker, after checking it answers.
- `spawn`: start a worker command as a subprocess, wait until its output shows it is ready, and
  always kill it (its whole process group) at teardown; `.output()` is what it printed.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from jobtrail import Settings, Trail
from jobtrail.web import asgi_app
from jt_support import LiveServer, need, start_server

ADMIN_TOKEN = "it-admin-secret"
WORKER_TOKEN = "it-worker-secret"  # ingest+read: what a worker needs (events, kill requests)
TOKENS = (f"admin+ingest:{ADMIN_TOKEN}", f"ingest+read:{WORKER_TOKEN}")
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
RABBITMQ_URL = os.environ.get("JOBTRAIL_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672//")
READY_TIMEOUT = 60.0  # seconds for a worker subprocess to say it is ready
STOP_TIMEOUT = 10.0  # seconds between SIGTERM and SIGKILL at teardown


def wait_for(check: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1,
             what: str = "condition") -> Any:
    """Poll `check()` until it returns something truthy (returned), or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


# ---- the jobtrail server -----------------------------------------------------------------------


@dataclass
class JobtrailServer:
    """The API over `store_url` on a fixed loopback port; stop() and start() it at will."""

    store_url: str
    port: int = 0
    _live: LiveServer | None = None
    _trails: list[Trail] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._live is not None

    def start(self) -> JobtrailServer:
        """Serve on `port` (the same one after a stop, so clients find it back)."""
        assert self._live is None, "already running"
        self._live = start_server(asgi_app(self.store_url, Settings(tokens=TOKENS)), self.port)
        self.port = self._live.port
        return self

    def stop(self) -> None:
        """Close the listening socket and every connection: clients see the server gone."""
        if self._live is not None:
            live, self._live = self._live, None
            live.stop()

    def trail(self, token: str = ADMIN_TOKEN, **settings: Any) -> Trail:
        """A Trail over HTTP (admin token by default), closed at teardown."""
        trail = Trail(self.url, token=token, settings=Settings(**settings))
        self._trails.append(trail)
        return trail

    def worker_env(self, **extra: str) -> dict[str, str]:
        """Environment for a worker subprocess that reports here with the ingest+read token."""
        env = dict(os.environ)
        env.update(JOBTRAIL_URL=self.url, JOBTRAIL_TOKEN=WORKER_TOKEN)
        env.update(extra)
        return env

    def close(self) -> None:
        for trail in self._trails:
            trail.close()
        self.stop()


@pytest.fixture
def make_jobtrail_server() -> Iterator[Callable[[str], JobtrailServer]]:
    """`make_jobtrail_server(store_url)`: a started server over that store, stopped at teardown."""
    with ExitStack() as stack:

        def make(store_url: str) -> JobtrailServer:
            server = JobtrailServer(store_url).start()
            stack.callback(server.close)
            return server

        yield make


@pytest.fixture
def jobtrail_server(make_jobtrail_server: Callable[[str], JobtrailServer],
                    sqlite_url: str) -> JobtrailServer:
    return make_jobtrail_server(sqlite_url)


# ---- brokers ----------------------------------------------------------------------------------

_CLAIM_KEY = "jobtrail-test:claimed"
_CLAIM_SECONDS = 900  # a crashed run's claim expires after this long


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis URL on a database number (1-14) claimed for this test alone, empty at start
    (0 is left to the examples, 15 to bench/integrations.py)."""
    try:
        import redis
    except ImportError as exc:
        need("Redis", f"the redis package is not installed ({exc})")
    owner = uuid.uuid4().hex
    claimed: Any = None
    for db in range(1, 15):
        client = redis.Redis(REDIS_HOST, REDIS_PORT, db=db, socket_connect_timeout=3)
        try:
            if client.set(_CLAIM_KEY, owner, nx=True, ex=_CLAIM_SECONDS):
                claimed = (db, client)
                break
        except redis.ConnectionError as exc:
            client.close()
            need("Redis", str(exc))
        client.close()
    if claimed is None:
        pytest.fail("every Redis database 1-14 is claimed by another test run")
    db, client = claimed
    for key in client.scan_iter(count=1000):
        if key != _CLAIM_KEY.encode():
            client.delete(key)
    try:
        yield f"redis://{REDIS_HOST}:{REDIS_PORT}/{db}"
    finally:
        client.flushdb()  # the claim key goes with it: the number is free again
        client.close()


@pytest.fixture
def rabbitmq_url() -> str:
    """The RabbitMQ URL, once its port answers (tests use their own uniquely named queues)."""
    from urllib.parse import urlsplit

    parts = urlsplit(RABBITMQ_URL)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), 3).close()
    except OSError as exc:
        need("RabbitMQ", f"{parts.hostname}:{parts.port or 5672}: {exc}")
    return RABBITMQ_URL


# ---- worker subprocesses ---------------------------------------------------------------------


@dataclass
class Proc:
    """A started subprocess whose stdout and stderr go to `log` (read with `output()`)."""

    args: Sequence[str]
    popen: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int:
        """Signal the process group, wait, then SIGKILL it; returns the exit code."""
        if self.popen.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)
            with suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout)
        if self.popen.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)
        else:  # the leader exited; make sure no pool child outlives it
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, signal.SIGKILL)
        return self.popen.returncode


Spawn = Callable[..., Proc]


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Spawn]:
    """`spawn(args, ready=r"regex" | callable, env=..., cwd=...)`: a running subprocess, in its own
    process group, once `ready` matches its output (or returns True); killed at teardown, and its
    output printed when the test failed."""
    started: list[Proc] = []

    def start(args: Sequence[str], *, ready: str | Callable[[Proc], bool] | None = None,
              env: Mapping[str, str] | None = None, cwd: str | Path | None = None,
              timeout: float = READY_TIMEOUT) -> Proc:
        log = tmp_path / f"proc-{len(started)}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(list(args), stdout=out, stderr=subprocess.STDOUT,
                                     env=dict(env) if env is not None else None, cwd=cwd,
                                     start_new_session=True)
        proc = Proc(args, popen, log)
        started.append(proc)
        if ready is not None:
            check: Callable[[Proc], bool] = (
                (lambda p: re.search(ready, p.output()) is not None) if isinstance(ready, str)
                else ready
            )
            deadline = time.monotonic() + timeout
            while not check(proc):
                if not proc.alive():
                    raise AssertionError(f"{args[0]} exited with {popen.returncode}:\n{proc.output()}")
                if time.monotonic() > deadline:
                    raise AssertionError(f"{args[0]} not ready after {timeout}s:\n{proc.output()}")
                time.sleep(0.1)
        return proc

    yield start
    for proc in reversed(started):
        proc.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Attach the worker subprocesses' output to a failing test's report."""
    report = yield
    if report.failed and call.when == "call":
        spawned = item.funcargs.get("spawn") if hasattr(item, "funcargs") else None
        tmp = item.funcargs.get("tmp_path") if hasattr(item, "funcargs") else None
        if spawned is not None and isinstance(tmp, Path):
            for log in sorted(tmp.glob("proc-*.log")):
                report.sections.append((f"subprocess {log.name}", log.read_text(errors="replace")[-20000:]))
    return report


PYTHON = sys.executable
"""The interpreter of this venv, for worker commands (`[PYTHON, "-m", "celery", ...]`)."""
