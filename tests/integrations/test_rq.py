"""The RQ integration against a real Redis, a real `rq worker` subprocess (the example app's jobs)
and a real jobtrail server on loopback: states, names, batches, timings agreeing with RQ's own
timestamps, errors, retries, kill requests, worker heartbeats, and a server outage mid-run."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from jobtrail import Trail
from jobtrail.errors import NotFound
from jobtrail.model import Job

from .conftest import PYTHON, WORKER_TOKEN, JobtrailServer, Proc, Spawn, wait_for

redis = pytest.importorskip("redis")
rq = pytest.importorskip("rq")

from rq import Retry  # noqa: E402
from rq.group import Group  # noqa: E402
from rq.job import Job as RqJob  # noqa: E402
from rq.job import JobStatus  # noqa: E402

from jobtrail.integrations.rq import Queue  # noqa: E402

EXAMPLE = Path(__file__).parents[2] / "examples" / "rq"
RQ = str(Path(PYTHON).parent / "rq")
TOLERANCE = 0.5  # seconds between jobtrail's and RQ's view of one instant (fork, Redis round trips)


def _ts(value: Any) -> float:
    from jobtrail.integrations.rq import _timestamp

    stamp = _timestamp(value)
    assert stamp is not None
    return stamp


def start_worker(spawn: Spawn, server: JobtrailServer, redis_url: str, queue: str,
                 *extra: str) -> Proc:
    return spawn(
        [RQ, "worker", "--url", redis_url, "--path", str(EXAMPLE), "--worker-class",
         "jobtrail.integrations.rq.Worker", "--job-monitoring-interval", "1", *extra, queue],
        ready=r"Listening on|\*\*\* Listening",
        env=server.worker_env(JOBTRAIL_HEARTBEAT_INTERVAL="1s", JOBTRAIL_FLUSH_INTERVAL="0.2s"),
        cwd=EXAMPLE,
    )


def tracked(trail: Trail, job_id: str, states: tuple[str, ...]) -> Callable[[], Job | None]:
    def check() -> Job | None:
        try:
            job = trail.get(job_id)
        except NotFound:
            return None
        return job if job.state in states else None

    return check


@pytest.fixture
def connection(redis_url: str) -> Any:
    conn = redis.Redis.from_url(redis_url)
    yield conn
    conn.close()


def test_every_rq_job_is_recorded_with_its_outcome_and_rq_timestamps(
    spawn: Spawn, jobtrail_server: JobtrailServer, redis_url: str, connection: Any
) -> None:
    # Given a tracked worker and a recording queue
    name = f"rq-{uuid.uuid4().hex[:8]}"
    reader = jobtrail_server.trail()
    sender = jobtrail_server.trail(WORKER_TOKEN)
    queue = Queue(name, connection=connection, trail=sender)
    worker = start_worker(spawn, jobtrail_server, redis_url, name)

    # When a mix of jobs runs: a group that succeeds, a failure, a retry that succeeds, a batch by meta
    group = Group.create(connection=connection, name=f"req-{uuid.uuid4().hex[:6]}")
    added = group.enqueue_many(queue, [Queue.prepare_data("tasks.add", (i, i)) for i in range(3)])
    booked = queue.enqueue("tasks.import_book", book_id=42, shelf_id=7, meta={"batch": "nightly"})
    failing = queue.enqueue("tasks.send_report", 9, fail=True)
    flaky = queue.enqueue("tasks.flaky", retry=Retry(max=2))
    done = (*added, booked, failing, flaky)
    wait_for(lambda: all(j.get_status() in (JobStatus.FINISHED, JobStatus.FAILED) for j in done),
             timeout=30, what="RQ to finish every job")
    assert sender.flush(5)  # the enqueue side's `queued` events go out with its next batch

    # Expect jobtrail to hold each job as RQ reports it
    for job in added:
        got = wait_for(tracked(reader, job.id, ("succeeded",)), what=f"{job.id} succeeded")
        job.refresh()
        assert (got.name, got.queue, got.batch) == ("tasks.add", name, group.name)
        assert got.worker is not None and got.worker.startswith(f"{socket.gethostname()}:")
        assert got.args == {"args": [int(got.args["args"][0])] * 2, "kwargs": {}}
        assert got.queued_at == pytest.approx(_ts(job.enqueued_at), abs=1e-3)
        assert got.wait == pytest.approx(_ts(job.started_at) - _ts(job.enqueued_at), abs=TOLERANCE)
        assert got.run == pytest.approx(_ts(job.ended_at) - _ts(job.started_at), abs=TOLERANCE)
        assert got.finished_at == pytest.approx(_ts(job.ended_at), abs=1e-3)

    book = wait_for(tracked(reader, booked.id, ("succeeded",)), what="the book import")
    assert book.batch == "nightly"
    assert set(book.resources) == {"Book:42", "Shelf:7"}

    failed = wait_for(tracked(reader, failing.id, ("failed",)), what="the failure")
    assert failed.name == "tasks.send_report"
    assert failed.error is not None and failed.error["type"] == "ValueError"
    assert failed.error["message"] == "no address for user 9"
    assert "Traceback" in failed.error["traceback"]
    assert failed.resources == ("User:9",) and failed.labels == {"team": "growth"}

    retried = wait_for(tracked(reader, flaky.id, ("succeeded",)), what="the retried job")
    assert retried.attempt == 2
    first = retried.attempts[0]
    assert first.end == "retrying" and first.error is not None
    assert first.error["type"] == "ConnectionError"
    flaky.refresh()
    assert retried.attempts[1].queued_at == pytest.approx(_ts(flaky.enqueued_at), abs=1e-3)

    # ... and the worker, alive and idle, then stopped when it shuts down
    me = wait_for(lambda: [w for w in reader.workers() if w["pid"] == worker.pid],
                  what="the worker's heartbeat")[0]
    assert me["queues"] == [name] and me["state"] in ("idle", "busy")
    worker.stop()
    wait_for(lambda: [w for w in reader.workers() if w["pid"] == worker.pid
                      and w["state"] == "stopped"], what="the worker recorded stopped")


def test_a_kill_request_stops_a_running_job_and_cancels_a_queued_one(
    spawn: Spawn, jobtrail_server: JobtrailServer, redis_url: str, connection: Any
) -> None:
    # Given a long job running on the only worker, and a job queued behind it
    name = f"rq-{uuid.uuid4().hex[:8]}"
    admin = jobtrail_server.trail()
    queue = Queue(name, connection=connection, trail=jobtrail_server.trail(WORKER_TOKEN))
    start_worker(spawn, jobtrail_server, redis_url, name)
    long = queue.enqueue("tasks.long_job", 60, job_timeout=120)
    wait_for(lambda: long.get_status() == JobStatus.STARTED, what="the long job to start")
    behind = queue.enqueue("tasks.add", 1, 2)
    wait_for(tracked(admin, behind.id, ("queued",)), what="the queued job recorded")

    # When both are killed from jobtrail
    admin.kill(behind.id)
    admin.kill(long.id)

    # Expect RQ to stop the running one and cancel the queued one, and jobtrail to say so
    wait_for(lambda: long.get_status() == JobStatus.STOPPED, timeout=15, what="RQ stopped it")
    killed = wait_for(tracked(admin, long.id, ("killed",)), what="recorded killed")
    assert killed.kill_requested_at is not None and killed.run is not None and killed.run < 30
    # ... after heartbeats while it ran (JOBTRAIL_HEARTBEAT_INTERVAL=1s)
    assert killed.heartbeat_at is not None and killed.started_at is not None
    assert killed.heartbeat_at > killed.started_at
    assert RqJob.fetch(behind.id, connection=connection).get_status() == JobStatus.CANCELED
    cancelled = wait_for(tracked(admin, behind.id, ("cancelled",)), what="recorded cancelled")
    assert cancelled.started_at is None


def test_jobs_run_while_the_server_is_down_and_no_event_is_lost(
    spawn: Spawn, jobtrail_server: JobtrailServer, redis_url: str, connection: Any
) -> None:
    # Given a tracked worker, and the jobtrail server taken away
    name = f"rq-{uuid.uuid4().hex[:8]}"
    producer = jobtrail_server.trail(WORKER_TOKEN)
    queue = Queue(name, connection=connection, trail=producer)
    start_worker(spawn, jobtrail_server, redis_url, name)
    first = queue.enqueue("tasks.add", 0, 0)
    wait_for(lambda: first.get_status() == JobStatus.FINISHED, what="a first job")
    jobtrail_server.stop()

    # When jobs are enqueued and run meanwhile
    jobs = [queue.enqueue("tasks.add", i, 1) for i in range(20)]
    wait_for(lambda: all(j.get_status() == JobStatus.FINISHED for j in jobs), timeout=30,
             what="RQ to run them without the server")
    assert len(queue.failed_job_registry) == 0

    # Expect every job complete in jobtrail once it is back
    jobtrail_server.start()
    assert producer.flush(30)  # the enqueue side's spilled events, sent now that it is back
    reader = jobtrail_server.trail()
    for job in jobs:
        got = wait_for(tracked(reader, job.id, ("succeeded",)), timeout=30, what=job.id)
        job.refresh()
        assert got.queued_at == pytest.approx(_ts(job.enqueued_at), abs=1e-3)
        assert got.started_at is not None and got.finished_at == pytest.approx(_ts(job.ended_at), abs=1e-3)
