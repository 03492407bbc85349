"""Tracking survives fork() and interpreter exit: every job arrives exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from jobtrail import Settings, Trail
from jt_support import start_server

CHILD_TIMEOUT = 60.0  # seconds


def _track_and_read(trail: Trail, name: str, jobs: int) -> list[str]:
    """Track `jobs` jobs named `name`, reading the store every tenth job; return the read errors."""
    errors = []
    for i in range(jobs):
        with trail.track(name, job_id=f"{name}-{i}") as job:
            job.progress(done=i)
        if i % 10 == 0:
            try:
                trail.jobs(name=name).count()
            except Exception as exc:  # noqa: BLE001 - reported by the test
                errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
    return errors


def _wait(pid: int) -> int:
    deadline = time.monotonic() + CHILD_TIMEOUT
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail(f"the forked child did not finish within {CHILD_TIMEOUT}s")
        time.sleep(0.02)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_tracks_its_own_jobs_and_every_job_arrives_exactly_once(
    make_trail: Any, store_url: str
) -> None:
    # Given a parent that has used its Trail (so a database connection is open)
    trail = make_trail(store_url, heartbeat_interval=3600)  # no heartbeats: exact event counts
    for i in range(20):
        with trail.track("parent", job_id=f"before-{i}"):
            pass
    assert trail.flush(10)
    assert trail.jobs().count() == 20
    with trail.track("parent", job_id="pending-at-fork"):  # still buffered when the fork happens
        pass
    read, write = os.pipe()

    pid = os.fork()
    if pid == 0:  # the child: report through the pipe and the exit code, never return into pytest
        code = 70
        try:
            os.close(read)
            sent_at_fork = trail.stats.sent
            errors = _track_and_read(trail, "child", 200)
            ok = trail.flush(30)
            own = trail.stats.sent - sent_at_fork
            os.write(write, repr((errors[:3], ok, own, trail.stats.send_errors)).encode())
            code = 0 if (not errors and ok and own == 3 * 200) else 1  # started, progress, succeeded
        finally:
            os._exit(code)

    os.close(write)
    # Meanwhile the parent keeps tracking and reading
    errors = _track_and_read(trail, "parent", 200)
    assert trail.flush(30)
    code = _wait(pid)
    with os.fdopen(read) as pipe:
        child_report = pipe.read()
    assert code == 0, f"child reported (read errors, flushed, events it sent, send errors): {child_report}"
    assert errors == [], "the parent's reads failed after the fork"
    assert trail.jobs(name="child").count() == 200
    assert trail.jobs(name="parent").count() == 221
    assert trail.jobs().counts() == {"succeeded": 421}
    assert trail.get("child-199").progress == {"done": 199}
    assert trail.stats.send_errors == 0


EXIT_SCRIPT = """
import sys, jobtrail
trail = jobtrail.Trail(sys.argv[1])
for i in range({jobs}):
    with trail.track("at.exit", job_id=f"exit-{{i}}") as job:
        job.progress(done=i)
{ending}
"""


@pytest.mark.parametrize(
    ("ending", "exit_code"),
    [
        ("", 0),  # falls off the end without flush() or close()
        ("sys.exit(3)", 3),
        ("raise RuntimeError('the job script crashed')", 1),
    ],
    ids=["normal end", "sys.exit", "uncaught exception"],
)
def test_jobs_tracked_just_before_the_interpreter_exits_are_all_written(
    store_url: str, ending: str, exit_code: int
) -> None:
    jobs = 1000
    script = textwrap.dedent(EXIT_SCRIPT.format(jobs=jobs, ending=ending))
    done = subprocess.run(
        [sys.executable, "-c", script, store_url], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == exit_code, done.stderr

    with Trail(store_url) as trail:
        assert trail.jobs(name="at.exit").counts() == {"succeeded": jobs}
        assert trail.get(f"exit-{jobs - 1}").progress == {"done": jobs - 1}


class HoldFirstWorkersBeat:
    """The real app, except that the first POST /api/v1/workers is answered `delay` seconds late
    (`arrived` is set when it comes in): a sender is then inside that request for a while."""

    def __init__(self, app: Any, delay: float) -> None:
        self.app = app
        self.delay = delay
        self.arrived = threading.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/api/v1/workers" \
                and not self.arrived.is_set():
            self.arrived.set()
            await asyncio.sleep(self.delay)
        await self.app(scope, receive, send)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_child_forked_while_a_worker_heartbeat_is_being_sent_tracks_and_closes(
    tmp_path: Path, remote_settings: Any
) -> None:
    # Given a parent whose writer thread is inside the request delivering its worker heartbeat
    from jobtrail.web import asgi_app

    db_url = f"sqlite:///{tmp_path / 'server.db'}"
    app = HoldFirstWorkersBeat(asgi_app(db_url, Settings()), delay=2.0)
    live = start_server(app)
    trail = Trail(live.url, settings=remote_settings())
    try:
        trail.worker_heartbeat("parent-worker", queues=["q"])
        assert app.arrived.wait(5), "the parent's worker heartbeat never reached the server"
        read, write = os.pipe()

        # When the process forks then, and the child beats, tracks a job, flushes and closes
        pid = os.fork()
        if pid == 0:  # the child: report through the pipe, never return into pytest
            code = 70
            try:
                os.close(read)
                trail.worker_heartbeat("child-worker", queues=["q"])
                with trail.track("child.job", job_id="child-job"):
                    pass
                flushed = trail.flush(5)
                closing = threading.Thread(target=trail.close, daemon=True)
                closing.start()
                closing.join(5)
                os.write(write, repr((flushed, closing.is_alive())).encode())
                code = 0 if flushed and not closing.is_alive() else 1
            finally:
                os._exit(code)

        os.close(write)
        code = _wait(pid)
        with os.fdopen(read) as pipe:
            report = pipe.read()
        # Expect the child's beat and job to arrive, and its close() to return
        assert code == 0, f"child reported (flushed, close still blocked): {report}"
        assert trail.flush(5)
    finally:
        trail.close()
        live.stop()
    with Trail(db_url, settings=Settings()) as local:
        assert local.get("child-job").state == "succeeded"
        assert {w["id"] for w in local.workers()} == {"parent-worker", "child-worker"}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_heartbeats_only_the_jobs_it_started(make_trail: Any, sqlite_url: str) -> None:
    # Given a parent running a job that its writer thread heartbeats
    trail = make_trail(sqlite_url, heartbeat_interval=0.05)
    with trail.track("parent.job", job_id="parent-job"):
        assert trail.flush(5)  # its start was sent: the writer thread counts it live
        # When it forks a child that runs a job of its own for a while, and the parent's job ends
        pid = os.fork()
        if pid == 0:
            code = 70
            try:
                with trail.track("child.job", job_id="child-job"):
                    time.sleep(0.5)
                code = 0 if trail.flush(5) else 1
            finally:
                os._exit(code)
    assert trail.flush(5)
    assert _wait(pid) == 0
    # Expect no heartbeat of the parent's job after it ended (else a parent that died would
    # never look lost), and the child's own job heartbeated
    parent_job, child_job = trail.get("parent-job"), trail.get("child-job")
    assert parent_job.state == "succeeded"
    assert parent_job.finished_at is not None and parent_job.heartbeat_at is not None
    assert parent_job.heartbeat_at <= parent_job.finished_at
    assert child_job.heartbeat_at is not None and child_job.started_at is not None
    assert child_job.heartbeat_at > child_job.started_at
