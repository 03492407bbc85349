"""Celery (5.x) → jobtrail through Celery's own signals: `setup(app, trail)` and every task is tracked.

- publish (`before_task_publish`, in the process that sends): queued, with the queue, the batch
  (group id, else the workflow's root id for chains and subtasks) and the attempt, so wait is real;
- `task_prerun` (in the pool process): started, with the worker `host:pid`, attempt `retries + 1`;
  the Trail then heartbeats it while it runs;
- `task_postrun` (succeeded), `task_failure` (with the traceback), `task_retry` (retrying that
  attempt);
- `task_revoked` (in the worker): killed when a running task was terminated, else cancelled;
- worker lifecycle (`worker_ready`, a timer, `worker_shutdown`): `trail.worker_heartbeat(...)`.

A kill request made in jobtrail reaches the worker through a `KillPoller`: a running task gets
`app.control.revoke(id, terminate=True)`, a queued one a plain revoke. Under the solo pool a running
task cannot be terminated from outside, so it is flagged instead: the task sees `kill_requested()`.

Task options: `@app.task(resources=lambda book_id, **_: [f"Book:{book_id}"], labels={"team": "x"})`.
Every hook is guarded: tracking never raises into a task or delays it (events are buffered).
"""

from __future__ import annotations

import inspect
import os
import threading
import time
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from jobtrail.client.tracking import JobHandle
from jobtrail.errors import Killed
from jobtrail.events import MAX_FUTURE_SECONDS
from jobtrail.integrations.common import (
    DEFAULT_KILL_POLL_SECONDS,
    KillPoller,
    Ticker,
    args_snapshot,
    clean_labels,
    emit,
    error_info,
    never_raise,
    plain_call,
    require,
    resources_for,
    result_snapshot,
    worker_identity,
)

if TYPE_CHECKING:
    from jobtrail.client import Trail
    from jobtrail.model import Job

__all__ = ["DEFAULT_WORKER_HEARTBEAT_SECONDS", "CeleryIntegration", "kill_requested", "setup"]

PUBLISHED_HEADER = "jobtrail"
"""Message header the publishing side sets once it recorded the task's args and resources."""
ETA_SLACK_SECONDS = 1.0
"""An eta less than this far ahead counts as now (a retry with countdown=0 carries one)."""
QUEUED_AHEAD_MAX_SECONDS = MAX_FUTURE_SECONDS - 60.0
"""How far ahead a `queued` event may be dated (the store rejects more than its skew limit)."""
DEFAULT_WORKER_HEARTBEAT_SECONDS = 10.0
"""How often a worker reports itself alive to jobtrail, in seconds."""

_RECEIVERS = {  # Celery signal → the CeleryIntegration method that receives it
    "before_task_publish": "on_publish",
    "task_prerun": "on_prerun",
    "task_failure": "on_failure",
    "task_retry": "on_retry",
    "task_revoked": "on_revoked",
    "task_postrun": "on_postrun",
    "worker_ready": "on_worker_ready",
    "heartbeat_sent": "on_heartbeat_sent",
    "worker_shutdown": "on_worker_shutdown",
    "worker_process_shutdown": "on_process_shutdown",
}
_integrations: dict[int, CeleryIntegration] = {}
_setup_lock = threading.Lock()


def setup(app: Any, trail: Trail, *, kill_poll_interval: float = DEFAULT_KILL_POLL_SECONDS,
          worker_heartbeat_interval: float = DEFAULT_WORKER_HEARTBEAT_SECONDS,
          track_args: bool = True) -> CeleryIntegration:
    """Track every task of the Celery `app` in `trail` (call once where the app is defined, so the
    publishers and the workers both run it). A second call for the same app returns the first
    integration. Raises `MissingExtra` when Celery is not installed."""
    require("celery", "celery")
    with _setup_lock:
        existing = _integrations.get(id(app))
        if existing is not None:
            return existing
        integration = CeleryIntegration(app, trail, kill_poll_interval=kill_poll_interval,
                                        worker_heartbeat_interval=worker_heartbeat_interval,
                                        track_args=track_args)
        integration.connect()
        _integrations[id(app)] = integration
        return integration


def kill_requested(task_id: str | None = None) -> bool:
    """True once a kill was requested in jobtrail for `task_id` (default: the current task).
    For tasks that stop cooperatively (always possible; needed under the solo pool): raise
    `jobtrail.Killed` and the job is recorded killed."""
    if task_id is None:
        from celery import current_task  # type: ignore[import-untyped]

        task_id = current_task.request.id if current_task else None
    if task_id is None:
        return False
    return any(i.kill_flagged(task_id) for i in list(_integrations.values()))


def _option(task: Any, name: str) -> Any:
    """A task option as declared (`@app.task(resources=fn)` stores fn on the task class, where
    plain attribute access would bind it as a method)."""
    if task is None:
        return None
    value = inspect.getattr_static(task, name, None)
    return value.__func__ if isinstance(value, staticmethod | classmethod) else value


@dataclass(frozen=True, slots=True)
class _TaskOptions:
    """What a task declares, read once per task name (reading it per call costs more than the
    rest of a hook)."""

    resources: Any
    labels: dict[str, str] | None
    run: Any


class _QueuedRecord:
    """Turns a publish's record (see `CeleryIntegration.on_publish`) into its `queued` event, on
    the Trail's writer thread (which calls `record[0].event(record)`, as for a JobHandle's)."""

    @staticmethod
    def event(record: tuple[Any, ...]) -> dict[str, Any]:
        _, task_id, attempt, at, name, queue, batch, options, args, kwargs, track_args = record
        kwargs = kwargs or {}
        fields = {
            "queue": queue, "batch": batch,
            "resources": resources_for(options.resources, options.run, args, kwargs) or None,
            "labels": options.labels,
            "args": args_snapshot(args, kwargs) if track_args else None,
        }
        event: dict[str, Any] = {"job_id": task_id, "type": "queued", "at": at, "attempt": attempt,
                                 "name": name}
        event.update((k, v) for k, v in fields.items() if v is not None)
        return event


_QUEUED = _QueuedRecord()


def _batch(task_id: str | None, group: str | None, root_id: str | None,
           leads: bool = False) -> str | None:
    """The group (or chord header) id; else the root of a chain or of a task sent from a task.
    `leads`: the tasks to run after this one (a chain's rest, `link=` callbacks), so the first
    task of a chain, which is its root, is in the chain's batch too."""
    if group:
        return str(group)
    if root_id and (root_id != task_id or leads):
        return str(root_id)
    return None


def _leads(embed: Any) -> bool:
    """Whether a message's embedded options (or a request) chain tasks after this one."""
    if isinstance(embed, Mapping):
        return bool(embed.get("chain") or embed.get("callbacks"))
    return bool(getattr(embed, "chain", None) or getattr(embed, "callbacks", None))


def _timestamp(value: Any) -> float | None:
    """Unix seconds from Celery's ISO 8601 `eta`/`expires` header (None when absent or unreadable)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def _worker_name() -> str:
    """`host:pid` of this process (a forked pool process has its own), made once per process."""
    if not _names:
        _names.append(worker_identity().name)
    return _names[0]


_names: list[str] = []
os.register_at_fork(after_in_child=_names.clear)


class Rejected(Exception):
    """The error of a task that raised celery's `Reject` without getting its message back."""

    def __init__(self, reason: Any) -> None:
        super().__init__(f"the task rejected its message (celery Reject): {reason}")


def _attempt(retries: Any) -> int:
    return int(retries) + 1 if isinstance(retries, int) and retries >= 0 else 1


class CeleryIntegration:
    """The signal receivers for one app. Made by `setup`; holds the running tasks' handles (in each
    pool process) and, in the worker's main process, the kill poller and the heartbeat timer."""

    def __init__(self, app: Any, trail: Trail, *, kill_poll_interval: float,
                 worker_heartbeat_interval: float, track_args: bool) -> None:
        self.app = app
        self.trail = trail
        self.track_args = track_args
        self.kill_poll_interval = kill_poll_interval
        self.worker_heartbeat_interval = worker_heartbeat_interval
        self._running: dict[str, JobHandle] = {}
        self._options: dict[str, _TaskOptions] = {}
        self._ours_by_id: dict[int, bool] = {}
        self._flagged: set[str] = set()
        self._republished: set[str] = set()
        self._queues: list[str] = []
        self._queue_names: dict[tuple[Any, str], str] = {}
        self._solo = False
        self._poller: KillPoller | None = None
        self._beat: Ticker | None = None

    # ---- wiring ---------------------------------------------------------------------------

    def connect(self) -> None:
        from celery import signals

        for name, method in _RECEIVERS.items():
            getattr(signals, name).connect(getattr(self, method), weak=False)

    def disconnect(self) -> None:
        """Undo `setup`: receivers off, worker timers stopped (for tests and app factories)."""
        from celery import signals

        for name, method in _RECEIVERS.items():
            getattr(signals, name).disconnect(getattr(self, method))
        for ticker in (self._poller, self._beat):
            if ticker is not None:
                ticker.stop(1.0)
        with _setup_lock:
            if _integrations.get(id(self.app)) is self:
                del _integrations[id(self.app)]

    def _ours(self, task: Any) -> bool:
        # Remembered per task object: reading `task.app` per call costs more than the check.
        key = id(task)
        ours = self._ours_by_id.get(key)
        if ours is None:
            ours = self._ours_by_id[key] = getattr(task, "app", self.app) is self.app
        return ours

    def _options_of(self, name: str, task: Any) -> _TaskOptions:
        options = self._options.get(name)
        if options is None:
            options = self._options[name] = _TaskOptions(
                _option(task, "resources"), clean_labels(_option(task, "labels")) or None,
                getattr(task, "run", None))
        return options

    def _queue_of(self, exchange: Any, routing_key: Any) -> str | None:
        """The queue a message sent with this routing key goes to: the app's queue bound with
        it (its name can differ from the key), else the key itself (Redis: key = queue)."""
        if not isinstance(routing_key, str) or not routing_key:
            return None
        exchange = getattr(exchange, "name", exchange) or None
        key = (exchange, routing_key)
        queue = self._queue_names.get(key)
        if queue is None:
            queue = routing_key
            for q in list(getattr(getattr(self.app, "amqp", None), "queues", {}).values()):
                q_exchange = getattr(getattr(q, "exchange", None), "name", None)
                if q.routing_key == routing_key and (exchange is None or q_exchange == exchange):
                    queue = str(q.name)
                    break
            self._queue_names[key] = queue
        return queue

    def kill_flagged(self, task_id: str) -> bool:
        if task_id in self._flagged:
            return True
        handle = self._running.get(task_id)
        return handle is not None and handle.kill_requested

    # ---- publishing -----------------------------------------------------------------------

    @never_raise("celery before_task_publish")
    def on_publish(self, sender: Any = None, body: Any = None, exchange: Any = None,
                   routing_key: Any = None, headers: Mapping[str, Any] | None = None,
                   declare: Sequence[Any] | None = None, **_: Any) -> None:
        headers = headers or {}
        if "task" in headers:  # message protocol 2
            name, task_id = headers["task"], headers.get("id")
            args, kwargs = (body[0], body[1]) if isinstance(body, list | tuple) and len(body) >= 2 \
                else ((), {})
            retries, group, root_id = headers.get("retries"), headers.get("group"), headers.get("root_id")
            leads = _leads(body[2]) if isinstance(body, list | tuple) and len(body) >= 3 else False
        elif isinstance(body, Mapping):  # protocol 1
            name, task_id = body.get("task"), body.get("id")
            args, kwargs = body.get("args") or (), body.get("kwargs") or {}
            retries, group, root_id = body.get("retries"), body.get("taskset"), None
            leads = False
        else:
            return
        if not name or not task_id:
            return
        if task_id in self._running and retries == getattr(self._running[task_id], "attempt", 0) - 1:
            self._republished.add(task_id)  # a running task sending itself again: replace()
        queue = getattr(declare[0], "name", None) if declare else None
        queue = queue or self._queue_of(exchange, routing_key)
        options = self._options.get(name) or self._options_of(name, self.app.tasks.get(name))
        attempt, now = _attempt(retries), time.time()
        eta = _timestamp(headers.get("eta"))
        if eta is None and not callable(options.resources) and plain_call(args, kwargs):
            # The usual publish: the writer thread builds the event from a record (the default
            # resources and the args snapshot, ~10 µs of a ~600 µs publish), off the publisher's
            # thread. Safe: the args are scalars, copied here; a declared resources function is
            # user code, so it runs here, on the other path.
            self.trail._emit((_QUEUED, str(task_id), attempt, now, str(name), queue,
                              _batch(task_id, group, root_id, leads), options, tuple(args),
                              dict(kwargs) if kwargs else None, self.track_args))
            if isinstance(headers, MutableMapping):
                headers[PUBLISHED_HEADER] = 1
            return
        fields: dict[str, Any] = {
            "queue": queue, "batch": _batch(task_id, group, root_id, leads),
            "resources": resources_for(options.resources, options.run, args, kwargs) or None,
            "labels": options.labels,
            "args": args_snapshot(args, kwargs) if self.track_args else None,
        }
        if eta is not None and eta > now + ETA_SLACK_SECONDS:
            # Not runnable before its eta/countdown: scheduled now, queued when it becomes due,
            # so the wait counts from then (an eta beyond the store's clock-skew limit stays
            # scheduled until it starts).
            emit(self.trail, "scheduled", str(task_id), attempt=attempt, at=now, name=str(name),
                 **fields)
            if eta > now + QUEUED_AHEAD_MAX_SECONDS:
                return
            now = eta
        # (emitted directly: the fields are already snapshotted and capped, which is what
        # `trail.enqueued` would do a second time)
        emit(self.trail, "queued", str(task_id), attempt=attempt, at=now, name=str(name), **fields)
        if isinstance(headers, MutableMapping):
            headers[PUBLISHED_HEADER] = 1  # the worker need not record args and resources again

    # ---- running (in the pool process) --------------------------------------------------------

    @never_raise("celery task_prerun")
    def on_prerun(self, sender: Any = None, task_id: str | None = None, task: Any = None,
                  args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None, **_: Any) -> None:
        task = task or sender
        if task_id is None or not self._ours(task):
            return
        request = task.request
        resources = labels = snapshot = None
        if getattr(request, PUBLISHED_HEADER, None) != 1:  # sent by an app without jobtrail
            args, kwargs = tuple(args or ()), dict(kwargs or {})
            options = self._options_of(task.name, task)
            resources = resources_for(options.resources, options.run, args, kwargs) or None
            labels = dict(options.labels) if options.labels else None
            snapshot = args_snapshot(args, kwargs) if self.track_args else None
        delivery = getattr(request, "delivery_info", None)
        queue = self._queue_of(delivery.get("exchange"), delivery.get("routing_key")) if delivery \
            else None
        batch = _batch(task_id, getattr(request, "group", None), getattr(request, "root_id", None),
                       _leads(request))
        # `Trail.track` without its copies: every field here is a fresh snapshot already.
        handle = JobHandle(self.trail, task_id, task.name, _attempt(getattr(request, "retries", 0)),
                           (queue, batch, resources, labels, snapshot, _worker_name(), None))
        self._running[task_id] = handle.start()

    def _take(self, task_id: str | None) -> JobHandle | None:
        return self._running.pop(task_id, None) if task_id else None

    @never_raise("celery task_failure")
    def on_failure(self, sender: Any = None, task_id: str | None = None,
                   exception: BaseException | None = None, einfo: Any = None, **_: Any) -> None:
        if task_id is None or exception is None:
            return
        from celery.exceptions import Reject  # type: ignore[import-untyped]

        if isinstance(exception, Reject):  # not by name: an app's own `Reject` is a failure
            return  # the pool process's task_postrun recorded it (a requeue is no failure)
        handle = self._take(task_id)
        kind = "killed" if isinstance(exception, Killed) else "failed"
        if handle is not None:
            handle.fail(exception, kind=kind)
            return
        # Reported by the worker's main process (the pool process died, a hard time limit, ...).
        request = getattr(sender, "request", None)
        tb = getattr(einfo, "traceback", None)
        emit(self.trail, kind, task_id, attempt=_attempt(getattr(request, "retries", 0)),
             name=getattr(sender, "name", None),
             error=error_info(exception, tb if isinstance(tb, str) else None))

    @never_raise("celery task_retry")
    def on_retry(self, sender: Any = None, request: Any = None, reason: Any = None,
                 einfo: Any = None, **_: Any) -> None:
        task_id = getattr(request, "id", None)
        handle = self._take(task_id)
        # `reason` is Celery's Retry; the error worth recording is the one it carries.
        exc = getattr(reason, "exc", None) or reason or getattr(einfo, "exception", None)
        if not isinstance(exc, BaseException):
            exc = RuntimeError(str(exc) if exc else "retry")
        if handle is not None:
            handle.fail(exc, kind="retrying")
        elif task_id:
            emit(self.trail, "retrying", task_id, attempt=_attempt(getattr(request, "retries", 0)),
                 error=error_info(exc))

    @never_raise("celery task_postrun")
    def on_postrun(self, sender: Any = None, task_id: str | None = None, retval: Any = None,
                   state: Any = None, **_: Any) -> None:
        # The end of every run (one signal instead of task_success too: hooks cost throughput).
        # Failure and retry took their handle already, with the exception and its traceback.
        handle = self._take(task_id)
        self._flagged.discard(task_id or "")
        if handle is None:
            return
        replaced = task_id in self._republished
        self._republished.discard(task_id or "")
        if state == "SUCCESS" or (state == "IGNORED" and not replaced):
            # (IGNORED: the task raised Ignore; Celery stores no state, but the run did end)
            handle.finish(result_snapshot(retval))
        elif state == "REJECTED":
            if getattr(retval, "requeue", False) and getattr(sender, "acks_late", False):
                # Back in the queue (acks_late: not acked yet), to run again under the same id
                # and attempt: that rerun's end is the job's, so this run records none.
                handle._close()
            else:
                handle.fail(Rejected(getattr(retval, "reason", None)))
        else:
            # Replaced (`self.replace(...)`: the replacement runs under the same id and ends the
            # job), or interrupted (SIGTERM from a revoke, a time limit): the worker's main
            # process reports that end. This run only stops heartbeating.
            handle._close()

    @never_raise("celery task_revoked")
    def on_revoked(self, sender: Any = None, request: Any = None, terminated: bool = False,
                   signum: Any = None, expired: bool = False, **_: Any) -> None:
        task_id = getattr(request, "id", None)
        if not task_id:
            return
        self._take(task_id)
        attempt = _attempt(getattr(request, "retries", 0))
        name = getattr(request, "task", None) or getattr(sender, "name", None)
        if terminated:
            error = {"type": "Terminated", "message": f"revoked and terminated (signal {signum})"}
            emit(self.trail, "killed", task_id, attempt=attempt, name=name, error=error)
        else:
            emit(self.trail, "cancelled", task_id, attempt=attempt, name=name)

    # ---- the worker (main process) ----------------------------------------------------------

    def _running_count(self) -> int:
        from celery.worker import state  # type: ignore[import-untyped]

        return len(state.active_requests)

    def beat(self, state: str | None = None) -> None:
        """Report this worker to jobtrail (busy while tasks run, else idle)."""
        me = worker_identity()
        self.trail.worker_heartbeat(queues=self._queues, running=self._running_count(),
                                    state=state, host=me.host, pid=me.pid)

    def _beat_round(self) -> None:
        self.beat()
        # Sent here, off the worker's threads: a main process that records no job events never
        # starts the Trail's writer thread, which would otherwise deliver the heartbeat.
        self.trail.flush(1.0)

    def on_kill(self, job: Job) -> None:
        """A kill request read from jobtrail: terminate a running task, revoke a queued one."""
        running = job.started_at is not None
        if running and self._solo:
            self._flagged.add(job.id)  # cannot terminate in-process: the task checks kill_requested()
            return
        self.app.control.revoke(job.id, terminate=running)

    @never_raise("celery worker_ready")
    def on_worker_ready(self, sender: Any = None, **_: Any) -> None:
        consumer = sender
        task_consumer = getattr(consumer, "task_consumer", None)
        names: Iterable[Any] = (q.name for q in getattr(task_consumer, "queues", ()) or ())
        self._queues = sorted({str(n) for n in names if n}) or [self.app.conf.task_default_queue]
        pool = getattr(getattr(consumer, "controller", None), "pool", None) or getattr(consumer, "pool", None)
        self._solo = type(pool).__module__.endswith(".solo") if pool is not None else False
        self.beat()
        self._beat = Ticker(self._beat_round, self.worker_heartbeat_interval,
                            "jobtrail-worker-beat").start()
        self._poller = KillPoller(self.trail, self.on_kill, queues=lambda: self._queues,
                                  interval=self.kill_poll_interval).start()

    @never_raise("celery heartbeat_sent")
    def on_heartbeat_sent(self, sender: Any = None, **_: Any) -> None:
        if self._beat is not None:  # only in a worker that announced itself ready
            self.beat()

    @never_raise("celery worker_shutdown")
    def on_worker_shutdown(self, sender: Any = None, **_: Any) -> None:
        for ticker in (self._poller, self._beat):
            if ticker is not None:
                ticker.stop(1.0)
        if self._beat is not None:
            self.beat(state="stopped")
        self.trail.flush(5.0)

    @never_raise("celery worker_process_shutdown")
    def on_process_shutdown(self, sender: Any = None, **_: Any) -> None:
        # A pool process may leave without running atexit hooks: send what it buffered now.
        self.trail.flush(5.0)
