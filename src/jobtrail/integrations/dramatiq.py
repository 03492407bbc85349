"""Dramatiq: every message reported to jobtrail by one middleware.

Two lines of setup, where the broker is made (the producer and every worker process import it)::

    broker.add_middleware(JobtrailMiddleware(trail))
    @dramatiq.actor(resources=lambda book_id, **_: [f"Book:{book_id}"])  # optional declaration

`after_enqueue` records `queued` at dramatiq's own message timestamp (`scheduled` for a delayed
message, then `queued` at its eta when the worker that held it enqueues it, and so for each retry
after its backoff: waits are real); `before_process_message` records `started`, with every
field (so messages sent without the middleware are complete too); `after_process_message`
records `succeeded` or keeps the error until the message is acked (Retries enqueued another
attempt → `retrying`) or nacked (→ `failed`); `after_skip_message` records `cancelled`.
Attempts are the Retries middleware's `retries` option plus one. Heartbeats come from a `Ticker`
in each worker process.

Kill requests need no extra package (dramatiq-abort would bring a second event backend for what
jobtrail already stores): a `KillPoller` in each worker process raises `jobtrail.Killed` in the
thread running the message, as dramatiq's own time limits do (so a job blocked in a system call
stops when that call returns), and the message is recorded `killed` and not retried. A message
still queued is skipped when a worker receives it, and recorded `cancelled`.
"""

from __future__ import annotations

import ctypes
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from jobtrail.errors import Killed
from jobtrail.integrations.common import (
    DEFAULT_KILL_POLL_SECONDS,
    KillPoller,
    Ticker,
    call_fields,
    emit,
    error_info,
    never_raise,
    require,
    worker_identity,
)

require("dramatiq", "dramatiq")

import dramatiq  # noqa: E402 - after the install hint
from dramatiq.common import q_name  # noqa: E402
from dramatiq.middleware import SkipMessage  # noqa: E402
from dramatiq.threading import raise_thread_exception  # noqa: E402

if TYPE_CHECKING:
    from jobtrail.client import Trail
    from jobtrail.model import Job as TrailJob

__all__ = ["JobtrailMiddleware"]

WORKER_BEAT_SECONDS = 10.0  # interval of worker heartbeats
BATCH_OPTION = "batch"
"""Message option read as the job's batch (`actor.send_with_options(batch="req-7")`); a group
with completion callbacks gives its own id otherwise."""


class _Running:
    __slots__ = ("attempt", "beat_at", "killed", "message", "thread")

    def __init__(self, message: Any, attempt: int, thread: int) -> None:
        self.message = message
        self.attempt = attempt
        self.thread = thread
        self.beat_at = time.monotonic()
        self.killed = False  # `Killed` was raised in its thread (once at most)


def _take_back_kill(thread: int) -> None:
    """Clear an async exception raised in `thread` that has not landed yet (CPython)."""
    if hasattr(ctypes, "pythonapi"):
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread), None)


def _attempt(message: Any) -> int:
    try:
        return int(message.options.get("retries") or 0) + 1
    except (TypeError, ValueError):
        return 1


class JobtrailMiddleware(dramatiq.Middleware):
    """Reports every message the broker enqueues and its workers process to `trail`.

    Actor options it adds: `resources` (a list, or a function of the message's arguments; default:
    arguments named `*_id`), `labels`, `keep`. `kill_poll`: seconds between reads of kill requests
    in each worker process (0: off).
    """

    def __init__(self, trail: Trail, *, kill_poll: float = DEFAULT_KILL_POLL_SECONDS) -> None:
        self.trail = trail
        self.kill_poll = kill_poll
        self._lock = threading.Lock()
        self._running: dict[str, _Running] = {}
        self._failed: dict[str, tuple[int, dict[str, str], float]] = {}
        self._cancel: set[str] = set()
        self._delayed: dict[str, float] = {}  # message id → eta (Unix seconds)
        self._threads: list[Ticker | KillPoller] = []
        self._worker_beat_at = 0.0
        self._queues: list[str] = []
        self._identity = worker_identity()

    @property
    def actor_options(self) -> set[str]:
        return {"resources", "labels", "keep"}

    # ---- what a message records ---------------------------------------------------------------

    def _fields(self, broker: Any, message: Any) -> dict[str, Any]:
        fields: dict[str, Any] = {"name": message.actor_name, "queue": q_name(message.queue_name)}
        options = message.options
        batch = options.get(BATCH_OPTION) or options.get("group_completion_uuid")
        if isinstance(batch, str | int) and str(batch):
            fields["batch"] = str(batch)
        try:
            actor = broker.get_actor(message.actor_name)
            fn: Callable[..., Any] | None = actor.fn
            declared = actor.options
        except Exception:  # noqa: BLE001 - an actor this process does not know (a producer)
            fn, declared = None, {}
        args, kwargs = list(message.args), dict(message.kwargs)
        fields.update(call_fields(declared, fn, args, kwargs))
        return fields

    # ---- the producer side ------------------------------------------------------------------

    @never_raise("recording a dramatiq enqueue")
    def after_enqueue(self, broker: Any, message: Any, delay: int | None) -> None:
        attempt = _attempt(message)
        with self._lock:
            eta = self._delayed.pop(message.message_id, None)
        if eta is not None or (attempt > 1 and not delay):
            # A delayed message (or a retry after its backoff) entering its queue: due since its eta.
            at = min(eta, time.time()) if eta is not None else None
            emit(self.trail, "queued", message.message_id, attempt=attempt, at=at)
        elif attempt == 1:
            kind = "scheduled" if delay else "queued"
            at = message.message_timestamp / 1000 if kind == "queued" else None
            emit(self.trail, kind, message.message_id, attempt=attempt, at=at,
                 **self._fields(broker, message))

    def before_delay_message(self, broker: Any, message: Any) -> None:
        """A worker holds a delayed message until its eta, then enqueues it (see after_enqueue)."""
        eta = message.options.get("eta")
        with self._lock:
            self._delayed[message.message_id] = eta / 1000 if eta else time.time()

    # ---- the worker side ---------------------------------------------------------------------

    @never_raise("recording a dramatiq message start")
    def _started(self, broker: Any, message: Any) -> None:
        attempt = _attempt(message)
        with self._lock:
            self._running[message.message_id] = _Running(message, attempt, threading.get_ident())
        emit(self.trail, "started", message.message_id, attempt=attempt,
             worker=self._identity.name, **self._fields(broker, message))

    def before_process_message(self, broker: Any, message: Any) -> None:
        with self._lock:
            cancel = message.message_id in self._cancel
            self._cancel.discard(message.message_id)
        if cancel:  # a kill request reached this queued message: drop it (after_skip_message)
            raise SkipMessage(f"jobtrail: kill requested for {message.message_id}")
        self._started(broker, message)

    def _ended(self, message: Any) -> _Running | None:
        """Drop the entry of a message that ended, under the lock that `_on_kill` holds while it
        raises: no kill is raised for it after this. One raised before that lands as soon as
        this thread runs Python code, mostly before this, or here (where it is spent: the message
        has ended), or else is taken back, so it never reaches the thread's next message."""
        for _ in range(2):  # again only if the one kill raised for it lands in the first round
            try:
                with self._lock:
                    running = self._running.pop(message.message_id, None)
                    if running is not None and running.killed:
                        _take_back_kill(running.thread)
                return running
            except Killed:
                continue
        return None

    @never_raise("recording a dramatiq message end")
    def after_process_message(self, broker: Any, message: Any, *, result: Any = None,
                              exception: BaseException | None = None) -> None:
        running = self._ended(message)
        attempt = running.attempt if running is not None else _attempt(message)
        if exception is None:
            emit(self.trail, "succeeded", message.message_id, attempt=attempt)
        elif isinstance(exception, Killed):
            emit(self.trail, "killed", message.message_id, attempt=attempt,
                 error=error_info(exception))
        else:  # retried or failed: known once the message is acked or nacked
            with self._lock:
                self._failed[message.message_id] = (attempt, error_info(exception), time.time())

    @never_raise("recording a skipped dramatiq message")
    def after_skip_message(self, broker: Any, message: Any) -> None:
        running = self._ended(message)
        attempt = running.attempt if running is not None else _attempt(message)
        emit(self.trail, "cancelled", message.message_id, attempt=attempt)

    def after_ack(self, broker: Any, message: Any) -> None:
        self._settled(broker, message, nacked=False)

    def after_nack(self, broker: Any, message: Any) -> None:
        self._settled(broker, message, nacked=True)

    @never_raise("recording a dramatiq failure")
    def _settled(self, broker: Any, message: Any, *, nacked: bool) -> None:
        with self._lock:
            failed = self._failed.pop(message.message_id, None)
        if failed is None:
            return
        attempt, error, at = failed
        # Retries numbered another attempt (it does so before it enqueues it, whichever side of
        # this middleware it sits); a nack means it gave up (or there is no Retries at all).
        retried = _attempt(message) > attempt
        kind = "retrying" if retried and not nacked else "failed"
        emit(self.trail, kind, message.message_id, attempt=attempt, at=at, error=error)

    # ---- worker lifecycle: heartbeats and kill requests ----------------------------------------

    def after_worker_boot(self, broker: Any, worker: Any) -> None:
        self._identity = worker_identity()
        self._queues = sorted({q_name(q) for q in getattr(worker, "consumers", {})})
        self._worker_beat()
        every = min(self.trail.settings.heartbeat_interval, WORKER_BEAT_SECONDS)
        self._threads = [Ticker(self._tick, max(every / 2, 0.1), "jobtrail-dramatiq-heartbeat").start()]
        if self.kill_poll > 0:
            self._threads.append(KillPoller(self.trail, self._on_kill, queues=lambda: self._queues,
                                            interval=self.kill_poll).start())

    def after_worker_shutdown(self, broker: Any, worker: Any) -> None:
        """Once the worker has let its running messages finish (and acked them): before that,
        they still heartbeat and can be killed, and the worker is not yet stopped."""
        for thread in self._threads:
            thread.stop()
        self._threads = []
        self._worker_beat(stopped=True)
        self.trail.flush(self.trail.settings.exit_timeout)

    def _tick(self) -> None:
        now = time.monotonic()
        with self._lock:
            due = [r for r in self._running.values()
                   if now - r.beat_at >= self.trail.settings.heartbeat_interval]
            for running in due:
                running.beat_at = now
        for running in due:
            emit(self.trail, "heartbeat", running.message.message_id, attempt=running.attempt)
        if now - self._worker_beat_at >= WORKER_BEAT_SECONDS:
            self._worker_beat()

    @never_raise("a dramatiq worker heartbeat")
    def _worker_beat(self, stopped: bool = False) -> None:
        self._worker_beat_at = time.monotonic()
        with self._lock:
            busy = len(self._running)
        self.trail.worker_heartbeat(
            self._identity.name, queues=self._queues, running=busy,
            state="stopped" if stopped else ("busy" if busy else "idle"),
            host=self._identity.host, pid=self._identity.pid,
        )

    def _on_kill(self, wanted: TrailJob) -> None:
        """Kill the message if this process runs it; else make sure it is skipped on arrival."""
        with self._lock:  # held until raised: the message's thread drops it under it (`_ended`)
            running = self._running.get(wanted.id)
            if running is None:
                self._cancel.add(wanted.id)
                return
            if running.killed:
                return
            options = running.message.options
            throws = options.get("throws")
            # Retries must not run a killed message again: it gives up on a `throws` exception.
            options["throws"] = (Killed, throws) if throws else Killed
            running.killed = True
            raise_thread_exception(running.thread, Killed)  # type: ignore[no-untyped-call]
