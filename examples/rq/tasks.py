"""The example's RQ jobs: plain functions, imported by the worker by their dotted names."""

from __future__ import annotations

import time

from rq import Retry, get_current_job

from jobtrail.integrations.rq import declare


def add(x: int, y: int) -> int:
    return x + y


def import_book(book_id: int, shelf_id: int | None = None) -> str:
    """Recorded with the resources `Book:<book_id>` and `Shelf:<shelf_id>` (the `*_id` default)."""
    time.sleep(0.05)
    return f"imported {book_id}"


@declare(resources=lambda user_id, **_: [f"User:{user_id}"], labels={"team": "growth"})
def send_report(user_id: int, fail: bool = False) -> None:
    if fail:
        raise ValueError(f"no address for user {user_id}")


def flaky(succeed_on: int = 2) -> int:
    """Fails until its `succeed_on`-th attempt (counted in Redis, as each attempt is a new process)."""
    job = get_current_job()
    assert job is not None
    attempt = int(job.connection.incr(f"example:flaky:{job.id}"))
    if attempt < succeed_on:
        raise ConnectionError(f"upstream timed out (attempt {attempt})")
    return attempt


def long_job(seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.1)


def wait_for_export(ready_on: int = 2) -> str | Retry:
    """Asks RQ to run it again (by returning `rq.Retry`) until its `ready_on`-th attempt."""
    job = get_current_job()
    assert job is not None
    attempt = int(job.connection.incr(f"example:export:{job.id}"))
    return "exported" if attempt >= ready_on else Retry(max=3)
