"""Less common Dramatiq paths, with a real in-process `dramatiq.Worker` on a real Redis broker
reporting to a real SQLite store: a delayed message, a failure on a broker without the Retries
middleware, a message skipped by another middleware, a kill request racing the end of the message
it was meant for, and a worker shut down while it runs a message."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from types import FrameType
from typing import Any

import pytest

from jobtrail import Trail
from jobtrail.config import Settings

pytest.importorskip("redis")
dramatiq = pytest.importorskip("dramatiq")

from dramatiq.brokers.redis import RedisBroker  # noqa: E402
from dramatiq.middleware import AgeLimit, Retries  # noqa: E402
from dramatiq.threading import raise_thread_exception  # noqa: E402

from jobtrail.integrations.common import KillPoller  # noqa: E402
from jobtrail.integrations.dramatiq import JobtrailMiddleware  # noqa: E402


@pytest.fixture
def trail(sqlite_url: str) -> Iterator[Trail]:
    with Trail(sqlite_url) as trail:
        yield trail


def run(broker: Any, trail: Trail) -> None:
    """Start a worker, wait until every queue is empty, stop it, write what it tracked."""
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=100)
    worker.start()
    try:
        broker.join("default", timeout=30_000)
        worker.join()
    finally:
        worker.stop()
    assert trail.flush(10)


@pytest.fixture
def make_broker(redis_url: str) -> Iterator[Any]:
    """`make_broker(trail, retries=True)`: a Redis broker with the middleware, closed at teardown."""
    made: list[Any] = []

    def make(trail: Trail, *, retries: bool = True) -> Any:
        middleware = [AgeLimit()] + ([Retries(min_backoff=50, max_backoff=100)] if retries else [])
        broker = RedisBroker(url=redis_url, middleware=middleware)
        broker.add_middleware(JobtrailMiddleware(trail, kill_poll=0))
        made.append(broker)
        return broker

    yield make
    for broker in made:
        broker.close()


def test_a_delayed_message_is_scheduled_then_queued_at_its_eta(make_broker: Any, trail: Trail) -> None:
    broker = make_broker(trail)

    def later(n: int) -> None:
        pass

    actor = dramatiq.actor(later, broker=broker, actor_name="later")
    message = actor.send_with_options(args=(1,), delay=300)
    trail.flush(10)
    assert trail.get(message.message_id).state == "scheduled"
    run(broker, trail)
    got = trail.get(message.message_id)
    assert got.state == "succeeded" and got.name == "later"
    assert got.queued_at == pytest.approx(message.options["eta"] / 1000, abs=1e-3)
    assert got.started_at is not None and got.started_at >= got.queued_at


def test_a_failure_without_the_retries_middleware_is_recorded_failed(
    make_broker: Any, trail: Trail
) -> None:
    broker = make_broker(trail, retries=False)

    def broken(order_id: int) -> None:
        raise KeyError(order_id)

    actor = dramatiq.actor(broken, broker=broker, actor_name="broken")
    message = actor.send(5)
    run(broker, trail)
    got = trail.get(message.message_id)
    assert got.state == "failed" and got.resources == ("Order:5",)
    assert got.error is not None and got.error["type"] == "KeyError"


def test_a_message_skipped_by_another_middleware_is_recorded_cancelled(
    make_broker: Any, trail: Trail
) -> None:
    broker = make_broker(trail)

    def stale() -> None:
        pass

    actor = dramatiq.actor(stale, broker=broker, actor_name="stale", max_age=1)
    message = actor.send()
    time.sleep(0.05)  # older than its max_age of 1 ms when the worker receives it
    run(broker, trail)
    got = trail.get(message.message_id)
    assert got.state == "cancelled" and got.started_at is None


def test_a_retry_is_recorded_retrying_whatever_the_order_of_the_middleware(
    redis_url: str, trail: Trail
) -> None:
    # Given a broker whose middleware list puts jobtrail's before Retries
    broker = RedisBroker(url=redis_url, middleware=[
        JobtrailMiddleware(trail, kill_poll=0), AgeLimit(), Retries(min_backoff=50, max_backoff=100)])
    try:
        def twice(order_id: int) -> None:
            raise KeyError(order_id)

        actor = dramatiq.actor(twice, broker=broker, actor_name="twice", max_retries=1)
        # When a message fails, is retried once, and fails again
        message = actor.send(3)
        run(broker, trail)
        time.sleep(0.2)  # (its retry waits out a backoff in the delay queue)
        run(broker, trail)
    finally:
        broker.close()
    # Expect the first attempt recorded retrying, the second failed
    got = trail.get(message.message_id)
    assert [a.end for a in got.attempts] == ["retrying", "failed"]
    assert got.state == "failed" and got.attempt == 2


def test_a_kill_sent_as_its_message_ends_never_lands_in_the_next_message(
    make_broker: Any, trail: Trail
) -> None:
    # Given a one-thread worker running `first` (held until the test lets it return) and `second`
    # queued behind it, and a kill request for `first`
    broker = make_broker(trail)
    jobtrail = next(m for m in broker.middleware if isinstance(m, JobtrailMiddleware))
    first_running, release_first, second_running = (threading.Event() for _ in range(3))
    ran: list[str] = []

    def first() -> None:
        first_running.set()
        assert release_first.wait(30)
        ran.append("first")

    def second() -> None:
        second_running.set()
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:  # Python code: a stray async exception lands here
            pass
        ran.append("second")

    first_actor = dramatiq.actor(first, broker=broker, actor_name="first", max_retries=0)
    second_actor = dramatiq.actor(second, broker=broker, actor_name="second", max_retries=0)
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=100)
    worker.start()
    try:
        one = first_actor.send()
        assert first_running.wait(30)
        two = second_actor.send()
        assert trail.flush(10)
        trail.kill(one.message_id)

        # When the kill poller is held just as it raises the kill in the worker's thread, and
        # `first` returns meanwhile (the worker then takes `second`, if it can)
        at_raise = threading.Event()

        def held(frame: FrameType, event: str, arg: Any) -> None:
            if event == "call" and frame.f_code is raise_thread_exception.__code__:
                at_raise.set()
                # Until `second` runs; a poller that raises only while `first` still runs keeps
                # the worker from getting there, so it goes on after a while.
                second_running.wait(1.0)

        def poll() -> None:
            sys.settrace(held)
            try:
                KillPoller(trail, jobtrail._on_kill).poll()
            finally:
                sys.settrace(None)

        poller = threading.Thread(target=poll)
        poller.start()
        assert at_raise.wait(10)
        release_first.set()
        poller.join(30)
        broker.join("default", timeout=30_000)
        worker.join()
    finally:
        worker.stop()
    assert trail.flush(10)

    # Expect `second` untouched: it ran to its end and is recorded succeeded
    assert "second" in ran
    assert trail.get(two.message_id).state == "succeeded"
    # ... and `first`, which had returned before the kill could land, recorded as it ended
    assert "first" in ran and trail.get(one.message_id).state == "succeeded"


def test_a_worker_shutting_down_reports_its_running_message_until_it_ends_then_stops(
    make_broker: Any, sqlite_url: str
) -> None:
    # Given a worker running a message that takes a while (heartbeats every 0.2 s)
    with Trail(sqlite_url, settings=Settings(heartbeat_interval=0.2)) as trail:
        broker = make_broker(trail)
        running = threading.Event()

        def slow() -> None:
            running.set()
            deadline = time.monotonic() + 1.5
            while time.monotonic() < deadline:
                time.sleep(0.05)

        actor = dramatiq.actor(slow, broker=broker, actor_name="slow", max_retries=0)
        worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=100)
        worker.start()
        message = actor.send()
        assert running.wait(30)

        # When it is told to stop: dramatiq lets the message finish first
        stopping = time.time()
        worker.stop()
        assert trail.flush(10)

        # Expect the message heartbeating while the worker drained it, then recorded succeeded,
        # and the worker recorded stopped after that, with nothing running
        got = trail.get(message.message_id)
        assert got.state == "succeeded" and got.finished_at is not None
        assert got.heartbeat_at is not None and got.heartbeat_at >= stopping + 0.5
        (beat,) = trail.workers()
        assert beat["state"] == "stopped" and beat["running"] == 0
        assert beat["last_seen"] >= got.finished_at
