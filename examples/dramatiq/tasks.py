"""The example's Dramatiq broker and actors; the producer and every worker process import this.

`DRAMATIQ_REDIS_URL` names the broker (default: Redis database 0 on localhost); jobtrail is the
`Trail()` of `JOBTRAIL_URL` (and `JOBTRAIL_TOKEN` for a server).
"""

from __future__ import annotations

import os
import time

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage

from jobtrail import Trail
from jobtrail.integrations.dramatiq import JobtrailMiddleware

broker = RedisBroker(url=os.environ.get("DRAMATIQ_REDIS_URL", "redis://127.0.0.1:6379/0"))
broker.add_middleware(CurrentMessage())
trail = Trail()
broker.add_middleware(JobtrailMiddleware(trail))  # the one line jobtrail needs
dramatiq.set_broker(broker)

DONE = "example:done"
"""Redis set of the ids of messages whose actor returned: the framework's own record of success."""


def _done() -> None:
    message = CurrentMessage.get_current_message()
    if message is not None:
        broker.client.sadd(DONE, message.message_id)


@dramatiq.actor(max_retries=0)
def add(x: int, y: int) -> None:
    _done()


@dramatiq.actor(max_retries=0)
def import_book(book_id: int, seconds: float = 0.2) -> None:
    """Recorded with the resource `Book:<book_id>` (the `*_id` default)."""
    time.sleep(seconds)
    _done()


@dramatiq.actor(max_retries=0, resources=lambda user_id, **_: [f"User:{user_id}"],
                labels={"team": "growth"})
def send_report(user_id: int, fail: bool = False) -> None:
    if fail:
        raise ValueError(f"no address for user {user_id}")
    _done()


@dramatiq.actor(max_retries=3, min_backoff=100, max_backoff=200)
def flaky(succeed_on: int = 2) -> None:
    """Fails until its `succeed_on`-th attempt (the Retries middleware counts them)."""
    message = CurrentMessage.get_current_message()
    attempt = int(message.options.get("retries", 0)) + 1 if message is not None else 1
    if attempt < succeed_on:
        raise ConnectionError(f"upstream timed out (attempt {attempt})")
    _done()


@dramatiq.actor(max_retries=0, time_limit=600_000)
def long_job(seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.1)
    _done()
