"""The Dramatiq middleware against a real Redis broker, a real `dramatiq` worker subprocess (the
example app's actors) and a real jobtrail server on loopback: states, names, batches, timings
agreeing with dramatiq's message timestamps, errors, retries, kill requests, worker heartbeats,
and a server outage mid-run."""

from __future__ import annotations

import signal
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from jobtrail import Trail
from jobtrail.errors import NotFound
from jobtrail.integrations.common import DEFAULT_KILL_POLL_SECONDS
from jobtrail.model import Job

from .conftest import PYTHON, WORKER_TOKEN, JobtrailServer, Proc, Spawn, wait_for

redis = pytest.importorskip("redis")
dramatiq = pytest.importorskip("dramatiq")

from dramatiq.brokers.redis import RedisBroker  # noqa: E402

from jobtrail.integrations.dramatiq import JobtrailMiddleware  # noqa: E402

EXAMPLE = Path(__file__).parents[2] / "examples" / "dramatiq"
DRAMATIQ = str(Path(PYTHON).parent / "dramatiq")
DONE = "example:done"  # examples/dramatiq/tasks.py: ids of messages whose actor returned
TOLERANCE = 0.5  # seconds of scheduling slack on a loaded machine


def start_worker(spawn: Spawn, server: JobtrailServer, redis_url: str) -> Proc:
    return spawn(
        [DRAMATIQ, "tasks", "--path", str(EXAMPLE), "--processes", "1", "--threads", "2"],
        ready=r"Worker process is ready",
        env=server.worker_env(DRAMATIQ_REDIS_URL=redis_url, JOBTRAIL_HEARTBEAT_INTERVAL="1s",
                              JOBTRAIL_FLUSH_INTERVAL="0.2s"),
        cwd=EXAMPLE,
    )


class Producer:
    """What an application does: send messages through a broker that has the middleware."""

    def __init__(self, redis_url: str, trail: Trail) -> None:
        self.broker = RedisBroker(url=redis_url)
        self.broker.add_middleware(JobtrailMiddleware(trail, kill_poll=0))

    def send(self, actor: str, *args: Any, **options: Any) -> dramatiq.Message[Any]:
        kwargs = options.pop("kwargs", {})
        message = dramatiq.Message(queue_name="default", actor_name=actor, args=args, kwargs=kwargs,
                                   options=options)
        return self.broker.enqueue(message)

    def close(self) -> None:
        self.broker.close()

    def done(self) -> set[str]:
        return {m.decode() for m in self.broker.client.smembers(DONE)}

    def dead(self) -> int:
        return int(self.broker.client.zcard("dramatiq:default.XQ"))


@pytest.fixture
def make_producer(redis_url: str) -> Iterator[Callable[[Trail], Producer]]:
    """`make_producer(trail)`: a `Producer` on the test's Redis, its broker closed at teardown."""
    made: list[Producer] = []

    def make(trail: Trail) -> Producer:
        made.append(Producer(redis_url, trail))
        return made[-1]

    yield make
    for producer in made:
        producer.close()


def tracked(trail: Trail, job_id: str, states: tuple[str, ...]) -> Callable[[], Job | None]:
    def check() -> Job | None:
        try:
            job = trail.get(job_id)
        except NotFound:
            return None
        return job if job.state in states else None

    return check


def test_every_dramatiq_message_is_recorded_with_its_outcome(
    spawn: Spawn, jobtrail_server: JobtrailServer, redis_url: str,
    make_producer: Callable[[Trail], Producer],
) -> None:
    # Given a worker and a producer, both with the middleware
    reader = jobtrail_server.trail()
    sender = jobtrail_server.trail(WORKER_TOKEN)
    producer = make_producer(sender)
    worker = start_worker(spawn, jobtrail_server, redis_url)

    # When a mix of messages runs: a batch that succeeds, a failure, a retry that succeeds
    batch = f"req-{uuid.uuid4().hex[:6]}"
    books = [producer.send("import_book", kwargs={"book_id": i, "seconds": 0.3}, batch=batch)
             for i in range(3)]
    failing = producer.send("send_report", 9, kwargs={"fail": True})
    flaky = producer.send("flaky")
    # The producer's `queued` events go out with its next batch (flush interval, default 0.5 s),
    # which may be after the worker has already reported a short job's end.
    assert sender.flush(5)

    # Expect each recorded as dramatiq ran it, with dramatiq's enqueue time
    for message in books:
        got = wait_for(tracked(reader, message.message_id, ("succeeded",)), what="a book import")
        assert (got.name, got.queue, got.batch) == ("import_book", "default", batch)
        assert got.worker is not None and got.worker.startswith(f"{socket.gethostname()}:")
        assert got.resources == (f"Book:{got.args['kwargs']['book_id']}",)
        assert got.queued_at == pytest.approx(message.message_timestamp / 1000, abs=1e-3)
        assert got.wait is not None and got.run is not None
        assert 0.3 <= got.run < 0.3 + TOLERANCE
        assert got.started_at is not None and got.finished_at is not None
        assert got.finished_at <= time.time()
    assert {m.message_id for m in books} <= producer.done()

    failed = wait_for(tracked(reader, failing.message_id, ("failed",)), what="the failure")
    assert failed.name == "send_report" and failed.attempt == 1
    assert failed.error is not None and failed.error["type"] == "ValueError"
    assert failed.error["message"] == "no address for user 9"
    assert failed.resources == ("User:9",) and failed.labels == {"team": "growth"}

    retried = wait_for(tracked(reader, flaky.message_id, ("succeeded",)), what="the retried one")
    assert retried.attempt == 2
    first, second = retried.attempts
    assert first.end == "retrying" and first.error is not None
    assert first.error["type"] == "ConnectionError"
    assert second.started_at is not None and first.ended_at is not None
    assert second.queued_at is not None and first.ended_at < second.queued_at <= second.started_at
    # ... queued when its backoff (100-200 ms: examples/dramatiq/tasks.py) was over
    assert second.queued_at - first.ended_at >= 0.05
    assert flaky.message_id in producer.done() and failing.message_id not in producer.done()

    # ... and the worker process, alive, then stopped when it shuts down
    beat = wait_for(lambda: [w for w in reader.workers() if w["queues"] == ["default"]],
                    what="the worker's heartbeat")[0]
    assert beat["state"] in ("idle", "busy") and beat["host"] == socket.gethostname()
    worker.popen.send_signal(signal.SIGTERM)  # to the main process, as a supervisor would
    worker.popen.wait(15)
    wait_for(lambda: [w for w in reader.workers() if w["id"] == beat["id"]
                      and w["state"] == "stopped"], what="the worker recorded stopped")


def test_a_kill_request_stops_a_running_message_and_cancels_a_queued_one(
    spawn: Spawn, jobtrail_server: JobtrailServer, redis_url: str,
    make_producer: Callable[[Trail], Producer],
) -> None:
    # Given two long messages running on the worker's two threads, and one queued behind them
    admin = jobtrail_server.trail()
    producer = make_producer(jobtrail_server.trail(WORKER_TOKEN))
    start_worker(spawn, jobtrail_server, redis_url)
    longs = [producer.send("long_job", 60) for _ in range(2)]
    for message in longs:
        wait_for(tracked(admin, message.message_id, ("started",)), what="a long job to start")
    behind = producer.send("add", 1, 2)
    wait_for(tracked(admin, behind.message_id, ("queued",)), what="the queued one recorded")

    # When the queued one and a running one are killed from jobtrail (the queued one a poll round
    # earlier, so the worker knows before a thread is free to receive it)
    admin.kill(behind.message_id)
    time.sleep(DEFAULT_KILL_POLL_SECONDS * 1.5)
    admin.kill(longs[0].message_id)

    # Expect the running one killed (not retried), and the queued one skipped once it is reached
    killed = wait_for(tracked(admin, longs[0].message_id, ("killed",)), timeout=15,
                      what="recorded killed")
    assert killed.attempt == 1 and killed.run is not None and killed.run < 30
    assert killed.heartbeat_at is not None and killed.started_at is not None
    assert killed.heartbeat_at > killed.started_at  # heartbeats while it ran (every 1 s here)
    assert longs[0].message_id not in producer.done()
    admin.kill(longs[1].message_id)  # frees the thread that then receives the queued message
    wait_for(tracked(admin, longs[1].message_id, ("killed",)), timeout=15, what="second killed")
    cancelled = wait_for(tracked(admin, behind.message_id, ("cancelled",)), timeout=15,
                         what="recorded cancelled")
    assert cancelled.started_at is None and behind.message_id not in producer.done()


def test_messages_run_while_the_server_is_down_and_no_event_is_lost(
    spawn: Spawn, jobtrail_server: JobtrailServer, redis_url: str,
    make_producer: Callable[[Trail], Producer],
) -> None:
    # Given a worker, and the jobtrail server taken away
    sender = jobtrail_server.trail(WORKER_TOKEN)
    producer = make_producer(sender)
    start_worker(spawn, jobtrail_server, redis_url)
    first = producer.send("add", 0, 0)
    wait_for(lambda: first.message_id in producer.done(), what="a first message")
    jobtrail_server.stop()

    # When messages are sent and run meanwhile
    sent = [producer.send("add", i, 1) for i in range(20)]
    ids = {m.message_id for m in sent}
    wait_for(lambda: ids <= producer.done(), timeout=30, what="dramatiq to run them")
    assert producer.dead() == 0

    # Expect every one complete in jobtrail once it is back
    jobtrail_server.start()
    assert sender.flush(30)  # the producer's spilled events, sent now that it is back
    reader = jobtrail_server.trail()
    for message in sent:
        got = wait_for(tracked(reader, message.message_id, ("succeeded",)), timeout=30,
                       what=message.message_id)
        assert got.queued_at == pytest.approx(message.message_timestamp / 1000, abs=1e-3)
        assert got.started_at is not None and got.finished_at is not None
