"""The Celery app the integration tests run: in a real worker subprocess (`celery -A celery_tasks
worker`, configured by JT_* environment variables) and in the test process, which publishes.

Every task returns the times it saw itself start and end (Celery's own view), so the tests can
compare jobtrail's wait and run with them.
"""

from __future__ import annotations

import os
import time
from typing import Any

from celery import Celery
from celery.exceptions import Ignore, Reject
from kombu import Exchange, Queue

from jobtrail import Killed, Trail
from jobtrail.integrations import celery as jt_celery

LONG_TASK_SECONDS = 60.0  # a "long" task runs this long unless killed


# The task functions live at module level: Celery warns when one name is registered to two
# different callables, which a new app per test would otherwise do.


def ok(book_id: int, pause: float = 0.0) -> dict[str, Any]:
    started = time.time()
    time.sleep(pause)
    return {"started": started, "ended": time.time(), "pid": os.getpid()}


def boom(book_id: int) -> None:
    raise ValueError(f"book {book_id} is <missing>")


def flaky(self: Any, chapter_id: int) -> dict[str, Any]:
    started = time.time()
    if self.request.retries < 1:
        raise self.retry(exc=RuntimeError("first attempt fails"), countdown=0)
    return {"started": started, "ended": time.time(), "retries": self.request.retries}


def long(seconds: float = LONG_TASK_SECONDS, cooperative: bool = True) -> dict[str, Any]:
    started = time.time()
    while time.time() - started < seconds:
        if cooperative and jt_celery.kill_requested():
            raise Killed("stopped on request")
        time.sleep(0.05)
    return {"started": started, "ended": time.time()}


def replaced(self: Any, book_id: int) -> Any:
    raise self.replace(self.app.tasks["jt.ok"].s(book_id))


def ignored() -> None:
    raise Ignore()


def rejecting(marker: str, requeue: bool) -> dict[str, Any]:
    """Rejects its message the first time it runs (`marker` is a file it creates then)."""
    started = time.time()
    if not os.path.exists(marker):
        open(marker, "w").close()
        raise Reject("not now", requeue=requeue)
    return {"started": started, "ended": time.time()}


class ModerationReject(Exception):
    """An application's own exception that happens to share celery's name for it."""


ModerationReject.__name__ = "Reject"


def moderated() -> None:
    raise ModerationReject("comment refused")


def unlucky(book_id: int) -> int:
    """Its resources declaration raises: tracking must not let that reach the task."""
    return book_id


def _broken_resources(**_: Any) -> list[str]:
    raise ZeroDivisionError("a bug in the declaration")


def create(broker: str, backend: str, queue: str, trail: Trail | None, *,
           kill_poll_interval: float = 0.3, routing_key: str | None = None,
           ) -> tuple[Celery, jt_celery.CeleryIntegration | None]:
    """The app with its tasks; tracked in `trail` (None: an app without jobtrail); `routing_key`:
    the queue is bound to its own exchange with that key instead of its name."""
    app = Celery("celery_tasks", broker=broker, backend=backend)
    app.conf.update(
        task_default_queue=queue,
        # Deleted when the last worker leaves, so RabbitMQ keeps nothing of a test run.
        task_queues=[Queue(queue, Exchange(queue), routing_key=routing_key, auto_delete=True)
                     if routing_key else Queue(queue, auto_delete=True)],
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        result_expires=600,
        worker_prefetch_multiplier=1,
    )

    app.task(name="jt.ok", resources=lambda book_id, **_: [f"Book:{book_id}"],
             labels={"team": "books"})(ok)
    app.task(name="jt.boom")(boom)
    app.task(name="jt.flaky", bind=True, max_retries=3)(flaky)
    app.task(name="jt.long")(long)
    app.task(name="jt.replaced", bind=True)(replaced)
    app.task(name="jt.ignored")(ignored)
    app.task(name="jt.rejecting", acks_late=True)(rejecting)
    app.task(name="jt.moderated")(moderated)
    app.task(name="jt.unlucky", resources=_broken_resources)(unlucky)
    if trail is None:
        return app, None
    integration = jt_celery.setup(app, trail, kill_poll_interval=kill_poll_interval,
                                  worker_heartbeat_interval=0.5)
    return app, integration


if "JT_BROKER" in os.environ:  # the worker subprocess: `celery -A celery_tasks worker`
    app, integration = create(os.environ["JT_BROKER"], os.environ["JT_BACKEND"],
                              os.environ["JT_QUEUE"], Trail(),
                              routing_key=os.environ.get("JT_ROUTING_KEY") or None)
