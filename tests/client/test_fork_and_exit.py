"""Tracking survives fork() and interpreter exit: every job arrives exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from typing import Any

import pytest

from jobtrail import Trail

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
