"""A small, known job history in a real SQLite file, and a runner that invokes `jobtrail` on it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from jobtrail import Trail
from jobtrail.cli import app

DAY = 86400.0
Invoke = Callable[..., Result]


def history(now: float) -> list[dict[str, Any]]:
    """Five jobs: a success and a failure in batch req-1, one running and one waiting import,
    and a cleanup that finished ten days ago."""
    return [
        {"job_id": "a1", "type": "queued", "at": now - 600, "name": "reports.send_email",
         "queue": "mail", "batch": "req-1", "resources": ["User:1"], "labels": {"tenant": "acme"}},
        {"job_id": "a1", "type": "started", "at": now - 590, "worker": "w1"},
        {"job_id": "a1", "type": "succeeded", "at": now - 470,
         "progress": {"done": 10, "total": 10}},
        {"job_id": "a2", "type": "queued", "at": now - 500, "name": "reports.send_email",
         "queue": "mail", "batch": "req-1", "resources": ["User:2"],
         "labels": {"tenant": "globex"}},
        {"job_id": "a2", "type": "started", "at": now - 495, "worker": "w2"},
        {"job_id": "a2", "type": "failed", "at": now - 400,
         "error": {"type": "ValueError", "message": "bad row",
                   "traceback": "Traceback (most recent call last):\n  File \"t.py\", line 3\n"
                                "ValueError: bad row\n"}},
        {"job_id": "b1", "type": "queued", "at": now - 300, "name": "ImportBook",
         "queue": "imports", "resources": ["Book:42"], "labels": {"tenant": "acme"},
         "args": {"book_id": 42}},
        {"job_id": "b1", "type": "started", "at": now - 290, "worker": "w3"},
        {"job_id": "b2", "type": "queued", "at": now - 100, "name": "ImportBook",
         "queue": "imports"},
        {"job_id": "c1", "type": "queued", "at": now - 10 * DAY, "name": "cleanup"},
        {"job_id": "c1", "type": "started", "at": now - 10 * DAY + 5},
        {"job_id": "c1", "type": "succeeded", "at": now - 10 * DAY + 65},
    ]


@pytest.fixture
def url(sqlite_url: str) -> str:
    """A SQLite database holding `history`."""
    with Trail(sqlite_url) as trail:
        result = trail.ingest(history(time.time()))
    assert not result.rejected, result.rejected
    return sqlite_url


@pytest.fixture
def invoke() -> Invoke:
    """`invoke(url, "jobs", "--state", "failed", input="n\\n", env={...})` → the CLI's Result."""
    runner = CliRunner()
    base_env = {"COLUMNS": "200", "JOBTRAIL_URL": None, "JOBTRAIL_TOKEN": None,
                "JOBTRAIL_RETENTION": None}

    def run(url: str | None, *args: str, input: str | None = None,
            env: dict[str, str] | None = None) -> Result:
        argv = (["--url", url] if url else []) + list(args)
        return runner.invoke(app, argv, input=input, env={**base_env, **(env or {})})

    return run


@pytest.fixture
def state_of(url: str) -> Callable[[str], str]:
    """The current state of one job, read straight from the database."""

    def read(job_id: str) -> str:
        with Trail(url) as trail:
            return trail.get(job_id).state

    return read


@pytest.fixture
def ids_in(url: str) -> Callable[..., set[str]]:
    """Ids of the jobs matching `trail.jobs(**filters)`, read straight from the database."""

    def read(**filters: Any) -> set[str]:
        with Trail(url) as trail:
            return {job.id for job in trail.jobs(**filters)}

    return read
