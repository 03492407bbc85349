"""Less common RQ paths, with a real in-process `SimpleWorker` on a real Redis reporting to a real
SQLite store: a job that returns `rq.Retry`, a job deferred on a dependency, a job whose result is
not kept, and RQ's traceback text turned into jobtrail's error."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from jobtrail import Trail

redis = pytest.importorskip("redis")
pytest.importorskip("rq")

from rq.job import JobStatus  # noqa: E402

from jobtrail.integrations.rq import (  # noqa: E402
    ATTEMPT_META,
    Queue,
    SimpleWorker,
    _error_from_text,
    _Outcome,
)

EXAMPLE = Path(__file__).parents[2] / "examples" / "rq"


@pytest.fixture
def setup(redis_url: str, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.syspath_prepend(str(EXAMPLE))
    conn = redis.Redis.from_url(redis_url)
    trail = Trail(sqlite_url)
    queue = Queue("paths", connection=conn, trail=trail)
    yield conn, trail, queue
    trail.close()
    conn.close()


def work(conn: Any, trail: Trail, queue: Queue) -> None:
    SimpleWorker([queue], connection=conn, trail=trail, kill_poll=0).work(burst=True)
    assert trail.flush(10)


def test_a_job_returning_retry_is_recorded_retrying_then_succeeded(setup: Any) -> None:
    conn, trail, queue = setup
    job = queue.enqueue("tasks.wait_for_export")
    work(conn, trail, queue)
    job.refresh()
    assert job.get_status() == JobStatus.FINISHED and job.meta[ATTEMPT_META] == 2
    got = trail.get(job.id)
    assert got.state == "succeeded" and got.attempt == 2
    assert got.attempts[0].end == "retrying"
    assert got.attempts[0].error is not None and got.attempts[0].error["type"] == "Retry"


def test_a_dependent_job_is_scheduled_until_its_dependency_ran(setup: Any) -> None:
    conn, trail, queue = setup
    first = queue.enqueue("tasks.add", 1, 1)
    second = queue.enqueue("tasks.add", 2, 2, depends_on=first)
    trail.flush(10)
    assert trail.get(second.id).state == "scheduled"
    work(conn, trail, queue)
    second.refresh()
    got = trail.get(second.id)
    assert got.state == "succeeded"
    assert got.queued_at is not None and second.enqueued_at is not None
    assert got.queued_at == pytest.approx(second.enqueued_at.timestamp(), abs=1e-3)


def test_the_args_recorded_at_enqueue_are_those_rq_stored(setup: Any) -> None:
    """The usual call's `queued` event is built on the writer thread; one with lists or dicts is
    recorded at once, so changing them after the enqueue does not change what is recorded."""
    _conn, trail, queue = setup
    items, options = [1, 2], {"mode": "fast"}
    job = queue.enqueue("tasks.add", items, options=options)
    items.append(3)
    options["mode"] = "changed"
    assert trail.flush(10)
    got = trail.get(job.id)
    assert got.state == "queued" and got.name == "tasks.add" and got.queue == "paths"
    assert got.args == {"args": [[1, 2]], "kwargs": {"options": {"mode": "fast"}}}
    assert list(queue.fetch_job(job.id).args) == [[1, 2]]  # what RQ stored, for comparison


def test_a_job_whose_result_is_not_kept_is_still_recorded_succeeded(setup: Any) -> None:
    conn, trail, queue = setup
    job = queue.enqueue("tasks.add", 1, 2, result_ttl=0)
    work(conn, trail, queue)
    assert not conn.exists(job.key)
    assert trail.get(job.id).state == "succeeded"


def test_a_job_cancelled_with_rq_itself_is_recorded_cancelled(setup: Any) -> None:
    conn, trail, queue = setup
    kept, dropped = queue.enqueue("tasks.add", 1, 1), queue.enqueue("tasks.add", 2, 2)
    dropped.cancel()  # RQ's own API, not jobtrail's kill
    work(conn, trail, queue)
    assert trail.get(kept.id).state == "succeeded"
    got = trail.get(dropped.id)
    assert got.state == "cancelled" and got.started_at is None


def test_a_worker_forgets_cancelled_jobs_once_rq_has_let_go_of_them(setup: Any) -> None:
    # Given a long-lived worker that recorded a job cancelled with RQ's own API
    conn, trail, queue = setup
    dropped = queue.enqueue("tasks.add", 2, 2)
    dropped.cancel()
    worker = SimpleWorker([queue], connection=conn, trail=trail, kill_poll=0)
    worker._record_cancellations()
    assert trail.flush(10) and trail.get(dropped.id).state == "cancelled"
    assert dropped.id in worker._cancelled
    # When RQ's registry no longer lists it (its entry expired or was cleaned up)
    queue.canceled_job_registry.remove(dropped)
    worker._record_cancellations()
    # Expect the worker to have let go of its id too, so its memory does not grow with every
    # cancellation it ever saw
    assert dropped.id not in worker._cancelled


def test_rq_traceback_text_becomes_type_message_and_traceback() -> None:
    text = ('Traceback (most recent call last):\n  File "x.py", line 1, in f\n'
            "app.errors.QuotaExceeded: over quota: 5 > 4\n")
    assert _error_from_text(text) == {"type": "QuotaExceeded", "message": "over quota: 5 > 4",
                                      "traceback": text}
    odd = "Work-horse terminated unexpectedly; waitpid returned 9 (signal 9); "
    assert _error_from_text(odd)["type"] == "Error"
    assert _error_from_text(odd)["message"] == odd.strip()


def _in_a_horse(outcome: _Outcome, job_id: str, ended_at: float) -> None:
    """`outcome.put` in a forked child, as RQ's horse does it."""
    outcome.clear()
    pid = os.fork()
    if pid == 0:
        try:
            outcome.put(job_id, ended_at)
        finally:
            os._exit(0)
    assert os.waitpid(pid, 0)[1] == 0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_horse_hands_its_finished_job_to_the_main_process_through_the_shared_page() -> None:
    """What the forking Worker relies on instead of a Redis read per job: a page written by the
    forked horse is read by its parent; only the job it names is taken, and only once."""
    outcome = _Outcome()
    _in_a_horse(outcome, "job-7", 1234.5)
    assert outcome.take("job-7") == 1234.5
    assert outcome.take("job-7") is None  # taken once: the page is empty again
    _in_a_horse(outcome, "job-7", 1234.5)
    assert outcome.take("job-8") is None  # another job's end is not this one's
    too_long = "x" * _Outcome.SIZE
    _in_a_horse(outcome, too_long, 99.0)
    assert outcome.take(too_long) is None  # not written: the main process asks Redis instead


def test_jobs_a_synchronous_queue_runs_at_enqueue_are_recorded_with_their_outcome(
        setup: Any) -> None:
    # Given a recording queue that runs its jobs at once (`is_async=False`, as in tests)
    conn, trail, _queue = setup
    sync = Queue("sync", connection=conn, trail=trail, is_async=False)
    # When a job that succeeds and one that fails are enqueued
    ok = sync.enqueue("tasks.import_book", book_id=3)
    bad = sync.enqueue("tasks.send_report", 4, fail=True)
    assert trail.flush(10)
    # Expect each recorded as it ran, at RQ's timestamps, not left waiting to be scheduled
    ok.refresh()
    got = trail.get(ok.id)
    assert (got.state, got.name, got.queue, got.resources) == (
        "succeeded", "tasks.import_book", "sync", ("Book:3",))
    assert got.started_at == pytest.approx(ok.started_at.timestamp(), abs=1e-3)
    assert got.finished_at == pytest.approx(ok.ended_at.timestamp(), abs=1e-3)
    failed = trail.get(bad.id)
    assert failed.state == "failed" and failed.started_at is not None
    assert failed.error is not None and failed.error["type"] == "ValueError"
