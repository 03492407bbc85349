"""RQ (2.x and later): every job reported to jobtrail through RQ's own extension points.

Two lines of setup::

    queue = jobtrail.integrations.rq.Queue("default", connection=redis, trail=trail)  # queued
    $ rq worker --worker-class jobtrail.integrations.rq.Worker   # JOBTRAIL_URL: the rest

The `Queue` subclass records `queued` (or `scheduled`) at enqueue. The `Worker` subclass records
everything else from the worker's main process, never from the forked work horse (which leaves
with `os._exit`, so nothing it buffered would be sent): before the fork the attempt's `queued` (at
RQ's own `enqueued_at`, so wait time is real even for retries and scheduled jobs; skipped when the
recording `Queue` already sent it) and `started`;
after the horse exits the outcome RQ stored in Redis (finished → succeeded, failed, retried →
retrying, stopped → killed, canceled → cancelled) at RQ's `ended_at`. The horse only passes its
exception to the parent through a short-lived Redis key. A `Ticker` sends job and worker
heartbeats, and a `KillPoller` acts on kill requests: `send_stop_job_command` for a running job,
`cancel()` for a queued one.
"""

from __future__ import annotations

import functools
import gc
import json
import mmap
import struct
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from jobtrail.integrations.common import (
    DEFAULT_KILL_POLL_SECONDS,
    KillPoller,
    Resources,
    Ticker,
    call_fields,
    emit,
    error_info,
    never_raise,
    plain_call,
    require,
    warn_once,
    worker_identity,
)

require("rq", "rq")

import rq  # noqa: E402 - after the install hint
from rq.command import send_stop_job_command  # noqa: E402
from rq.exceptions import InvalidJobOperation, NoSuchJobError  # noqa: E402
from rq.job import JobStatus  # noqa: E402
from rq.utils import import_attribute  # noqa: E402

if TYPE_CHECKING:
    from jobtrail.client import Trail
    from jobtrail.model import Job as TrailJob

__all__ = ["Queue", "SimpleWorker", "Worker", "declare", "record_enqueued"]

F = TypeVar("F", bound=Callable[..., Any])

ATTEMPT_META = "jobtrail_attempt"
"""`job.meta` key holding the attempt number of a retried job (absent on the first attempt)."""
QUEUED_META = "jobtrail_queued"
"""`job.meta` flag: the recording `Queue` sent this job's `queued` event with all its fields."""
BATCH_META = "batch"
"""`job.meta` key read as the job's batch when it belongs to no RQ group."""
ERROR_KEY = "jobtrail:rq:error:{}"
"""Redis key through which the work horse hands its exception to the worker's main process."""
ERROR_KEY_SECONDS = 3600  # how long an unread hand-over key lives
WORKER_BEAT_SECONDS = 10.0  # interval of worker heartbeats while the worker waits or works
_DECLARATION = "__jobtrail__"


def declare(*, resources: Resources = None, labels: Mapping[str, str] | None = None,
            keep: str | float | None = None) -> Callable[[F], F]:
    """Decorator for an RQ job function: the resources (a list, or a function of the call's
    arguments), labels and retention its jobs record. Returns the function itself, so RQ still
    imports it by its dotted name."""

    def mark(fn: F) -> F:
        setattr(fn, _DECLARATION, {"resources": resources, "labels": dict(labels or {}),
                                   "keep": keep})
        return fn

    return mark


def _timestamp(value: datetime | None) -> float | None:
    """RQ's datetimes are UTC (aware in 2.x, naive in older releases) → Unix seconds."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def _text(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else (value or "")


def _attempt(job: rq.job.Job) -> int:
    try:
        return max(int(job.meta.get(ATTEMPT_META) or 1), 1)
    except (TypeError, ValueError, AttributeError):
        return 1


@functools.lru_cache(maxsize=1024)
def _function(name: str) -> Callable[..., Any] | None:
    """The job function by its dotted name, imported once (RQ imports it on every `job.func`)."""
    fn: Callable[..., Any] | None = import_attribute(name)
    return fn


def _call(job: rq.job.Job) -> tuple[list[Any], dict[str, Any]]:
    """The job's arguments, copied (empty when they cannot be deserialised)."""
    try:
        return list(job.args), dict(job.kwargs)
    except Exception:  # noqa: BLE001 - undeserialisable data
        return [], {}


def _declared(job: rq.job.Job) -> tuple[Callable[..., Any] | None, dict[str, Any]]:
    """The job's function (None when it cannot be imported here) and its `declare(...)`."""
    try:
        fn: Callable[..., Any] | None = (
            job.func if job.instance is not None else _function(job.func_name or ""))
    except Exception:  # noqa: BLE001 - a producer that enqueues by name need not import the function
        fn = None
    return fn, getattr(fn, _DECLARATION, None) or {}


def _fields(job: rq.job.Job, call: tuple[list[Any], dict[str, Any]] | None = None,
            *, with_args: bool = True) -> dict[str, Any]:
    """The job fields every event of this job carries: name, queue, batch, args, resources...
    `call`: its arguments as `_call` copied them (read from the job when None)."""
    fields: dict[str, Any] = {"name": job.func_name or "unknown", "queue": job.origin}
    meta = job.meta if isinstance(job.meta, dict) else {}
    batch = getattr(job, "group_id", None) or meta.get(BATCH_META)
    if isinstance(batch, str | int) and str(batch):
        fields["batch"] = str(batch)
    args, kwargs = call if call is not None else _call(job)
    fn, declared = _declared(job)
    fields.update(call_fields(declared, fn, args, kwargs, with_args=with_args))
    return fields


class _EnqueueRecord:
    """Builds a job's `queued` (or `scheduled`) event on the writer thread from `(_ENQUEUED, job,
    kind, at, attempt, call)`, for the usual call (a few scalars, no resources function): the
    enqueuing thread (often a web request) only copies the arguments and appends the record, and
    the writer builds the event while that thread waits for Redis."""

    @staticmethod
    def event(record: tuple[Any, ...]) -> dict[str, Any]:
        _, job, kind, at, attempt, call = record
        event: dict[str, Any] = {"job_id": job.id, "type": kind, "at": at, "attempt": attempt}
        event.update((k, v) for k, v in _fields(job, call).items() if v is not None)
        return event


_ENQUEUED = _EnqueueRecord()


@never_raise("recording an RQ enqueue")
def record_enqueued(trail: Trail, job: rq.job.Job) -> None:
    """Record `job` as just enqueued (scheduled or deferred: `scheduled`). For code that enqueues
    with a plain `rq.Queue`; the `Queue` here calls it itself."""
    status = job.get_status(refresh=False)
    if status in (JobStatus.FINISHED, JobStatus.FAILED):  # a synchronous queue ran it already
        _record_ran(trail, job, status)
        return
    kind = "queued" if status in (None, JobStatus.QUEUED) else "scheduled"
    at = _timestamp(job.enqueued_at) if kind == "queued" else None
    call = _call(job)
    if plain_call(*call) and not callable(_declared(job)[1].get("resources")):
        # Scalars cannot change after this copy; a resources function is user code: it runs here.
        trail._emit((_ENQUEUED, job, kind, at or time.time(), _attempt(job), call))
        return
    emit(trail, kind, job.id, attempt=_attempt(job), at=at, **_fields(job, call))


def _record_ran(trail: Trail, job: rq.job.Job, status: JobStatus) -> None:
    """A job a synchronous queue (`is_async=False`) ran inside `enqueue`: no worker will report
    it, so its whole run is recorded here, at RQ's own timestamps."""
    attempt = _attempt(job)
    emit(trail, "queued", job.id, attempt=attempt, at=_timestamp(job.enqueued_at), **_fields(job))
    emit(trail, "started", job.id, attempt=attempt, at=_timestamp(job.started_at),
         worker=worker_identity().name)
    at = _timestamp(job.ended_at)
    if status == JobStatus.FINISHED:
        emit(trail, "succeeded", job.id, attempt=attempt, at=at)
    else:
        emit(trail, "failed", job.id, attempt=attempt, at=at, error=_Tracking._latest_error(job))


class Queue(rq.Queue):
    """An `rq.Queue` that records each job it enqueues or schedules in `trail` (nothing when
    `trail` is None, e.g. the queues a worker builds for itself)."""

    def __init__(self, name: str = "default", *args: Any, trail: Trail | None = None,
                 **kwargs: Any) -> None:
        super().__init__(name, *args, **kwargs)
        self.trail = trail

    def enqueue_job(self, job: rq.job.Job, *args: Any, **kwargs: Any) -> rq.job.Job:
        if self.trail is not None and not getattr(job, "_dependency_ids", None):
            job.meta[QUEUED_META] = True  # saved with the job: its worker need not send `queued`
        job = super().enqueue_job(job, *args, **kwargs)
        if self.trail is not None:
            record_enqueued(self.trail, job)
        return job

    def schedule_job(self, job: rq.job.Job, *args: Any, **kwargs: Any) -> rq.job.Job:
        job = super().schedule_job(job, *args, **kwargs)
        if self.trail is not None:
            record_enqueued(self.trail, job)
        return job

    def enqueue_many(self, *args: Any, **kwargs: Any) -> list[rq.job.Job]:
        jobs: list[rq.job.Job] = super().enqueue_many(*args, **kwargs)
        if self.trail is not None:
            for job in jobs:
                record_enqueued(self.trail, job)
        return jobs


def _error_from_text(text: str) -> dict[str, str]:
    """RQ's formatted traceback text → `{"type", "message", "traceback"}` (its last line names
    the exception)."""
    last = next((line for line in reversed(text.strip().splitlines()) if line.strip()), "")
    kind, sep, message = last.partition(": ")
    if not sep or " " in kind.strip():
        kind, message = "Error", last
    return {"type": kind.strip().rsplit(".", 1)[-1] or "Error", "message": message,
            "traceback": text}


class _StartRecord:
    """Builds a job's `started` event on the writer thread from `(_STARTED, job, attempt, worker,
    at)`. Each page of its heap that the worker's main process writes between two forks costs it
    a copy-on-write fault, and running Python writes to every object it touches (reference
    counts): the writer builds a batch of events over the same pages, once per batch instead of
    once per job (bench: ~33 fewer faults per job in the main process). The job object is the main
    process's copy, which the horse never changes; the attempt was read before the fork."""

    @staticmethod
    def event(record: tuple[Any, ...]) -> dict[str, Any]:
        _, job, attempt, worker, at = record
        event: dict[str, Any] = {"job_id": job.id, "type": "started", "at": at, "attempt": attempt,
                                 "worker": worker}
        event.update((k, v) for k, v in _fields(job, with_args=False).items() if v is not None)
        return event


_STARTED = _StartRecord()


class _Outcome:
    """One page shared by the worker's main process and every horse it forks (an anonymous
    mmap, made before the forks): once RQ has stored a job as finished, the horse writes the job's
    id and RQ's `ended_at` there, and the main process reads the usual end from it instead of
    asking Redis (a round trip per job, about 100 µs of the main process's CPU). Anything else
    (a failure, a retry, a horse that died) leaves the page empty and is read from Redis."""

    SIZE = 512
    _HEAD = struct.Struct("<Id")  # id length (0: empty), ended_at

    def __init__(self) -> None:
        self._page = mmap.mmap(-1, self.SIZE)  # MAP_SHARED: the horse's writes reach the parent

    def clear(self) -> None:
        self._page[:4] = b"\0\0\0\0"

    def put(self, job_id: str, ended_at: float) -> None:
        """In the horse. The id's length goes in last, so a half-written page reads as empty."""
        raw = job_id.encode()
        head = self._HEAD.size
        if len(raw) > self.SIZE - head:
            return
        self._page[head:head + len(raw)] = raw
        self._page[:head] = self._HEAD.pack(0, ended_at)
        self._page[:4] = struct.pack("<I", len(raw))

    def take(self, job_id: str) -> float | None:
        """RQ's `ended_at` if the horse reported `job_id` finished (the page is emptied)."""
        size, ended_at = self._HEAD.unpack_from(self._page)
        if size == 0:
            return None
        head = self._HEAD.size
        found = self._page[head:head + size] == job_id.encode()
        self.clear()
        return ended_at if found else None


class _Running:
    """The job the worker's main process is running now (for heartbeats and the end event)."""

    __slots__ = ("attempt", "beat_at", "id")

    def __init__(self, job_id: str, attempt: int) -> None:
        self.id = job_id
        self.attempt = attempt
        self.beat_at = time.monotonic()


class _Tracking:
    """What `Worker` and `SimpleWorker` add to RQ's worker; RQ's own methods do the work."""

    connection: Any
    name: str
    is_horse: bool
    queues: list[rq.Queue]
    job_class: type[rq.job.Job]
    serializer: Any

    @property
    def _job_class(self) -> type[rq.job.Job]:
        return getattr(self, "job_class", None) or rq.job.Job

    def _setup_tracking(self, trail: Trail | None, kill_poll: float) -> None:
        if trail is None:
            from jobtrail.client import Trail

            trail = Trail()  # JOBTRAIL_URL and JOBTRAIL_TOKEN, as `rq worker` cannot pass one
        self.trail = trail
        self.kill_poll = kill_poll
        self._running: _Running | None = None
        self._errors: dict[str, dict[str, str]] = {}
        self._ticker: Ticker | None = None
        self._poller: KillPoller | None = None
        self._worker_beat_at = 0.0
        self._cancelled: set[str] = set()
        self._identity = worker_identity()
        self._outcome = _Outcome()

    # ---- RQ's hooks ----------------------------------------------------------------------

    def register_birth(self) -> None:
        super().register_birth()  # type: ignore[misc]
        self._identity = worker_identity()
        self._worker_beat()
        self._record_cancellations()
        self._start_beats()

    def register_death(self) -> None:
        self._stop_beats()
        self._worker_beat(stopped=True)
        try:
            super().register_death()  # type: ignore[misc]
        finally:
            self.trail.flush(self.trail.settings.exit_timeout)

    def execute_job(self, job: rq.job.Job, queue: rq.Queue) -> None:
        self._job_started(job)
        try:
            super().execute_job(job, queue)  # type: ignore[misc]
        finally:
            self._job_ended(job)

    def handle_job_success(self, job: rq.job.Job, *args: Any, **kwargs: Any) -> None:
        """Runs where the job ran (the horse): once RQ stored the success, tell the main process
        through the shared page (see `_Outcome`)."""
        super().handle_job_success(job, *args, **kwargs)  # type: ignore[misc]
        try:
            if job.get_status(refresh=False) == JobStatus.FINISHED and job.ended_at is not None:
                self._outcome.put(job.id, _timestamp(job.ended_at) or time.time())
        except Exception:  # noqa: BLE001 - the main process then reads the end from Redis
            warn_once("rq-outcome", "jobtrail: could not pass the end of RQ job %s on", job.id,
                      exc_info=True)

    def handle_exception(self, job: rq.job.Job, *exc_info: Any) -> None:
        """Runs where the job raised (the horse): hand the exception to the main process."""
        self._keep_error(job, exc_info)
        super().handle_exception(job, *exc_info)  # type: ignore[misc]

    def handle_job_failure(self, job: rq.job.Job, queue: rq.Queue, *args: Any,
                           **kwargs: Any) -> None:
        """Numbers the next attempt in `job.meta` (saved by RQ's own requeue) and, for failures
        RQ detects in the main process (horse killed or stopped), keeps its error text."""
        self._next_attempt(job)
        exc_string = kwargs.get("exc_string") or ""
        if exc_string and not self.is_horse and job.id not in self._errors:
            self._errors[job.id] = _error_from_text(str(exc_string))
        super().handle_job_failure(job, queue, *args, **kwargs)  # type: ignore[misc]

    def handle_job_retry(self, job: rq.job.Job, *args: Any, **kwargs: Any) -> None:
        """A job that returned `rq.Retry`: number its next attempt too."""
        self._next_attempt(job, returned=True)
        super().handle_job_retry(job, *args, **kwargs)  # type: ignore[misc]

    # ---- recording -------------------------------------------------------------------------

    @never_raise("recording an RQ job start")
    def _job_started(self, job: rq.job.Job) -> None:
        attempt = _attempt(job)
        self._running = _Running(job.id, attempt)
        self._outcome.clear()
        if attempt == 1 and job.meta.get(QUEUED_META):
            # The enqueue side sent `queued` with the args; the declaration on the function
            # (resources, labels) may only be importable here, so those go with `started`,
            # built on the writer thread from a record (see `_StartRecord`).
            self.trail._emit((_STARTED, job, attempt, self._identity.name, time.time()))
            return
        fields = _fields(job)
        emit(self.trail, "queued", job.id, attempt=attempt, at=_timestamp(job.enqueued_at), **fields)
        emit(self.trail, "started", job.id, attempt=attempt, worker=self._identity.name, **fields)

    @never_raise("recording the end of an RQ job")
    def _job_ended(self, job: rq.job.Job) -> None:
        running, self._running = self._running, None
        attempt = running.attempt if running is not None else _attempt(job)
        error = self._errors.pop(job.id, None)
        if error is None:
            at = self._outcome.take(job.id)
            if at is None:
                at = self._finished_at(job)
            if at is not None:  # the usual end, without reading the whole job
                emit(self.trail, "succeeded", job.id, attempt=attempt, at=at)
                return
        try:
            job.refresh()  # type: ignore[no-untyped-call]
            status: Any = job.get_status(refresh=False)
        except NoSuchJobError:  # deleted at once (result_ttl=0) or expired
            status = None
        retried = status is not None and _attempt(job) > attempt  # RQ requeued it
        if retried or status != JobStatus.FINISHED:  # only then can the horse have left an error
            error = error or self._horse_error(job.id)
        if status is None:
            status = JobStatus.FAILED if error else JobStatus.FINISHED
        at = _timestamp(job.ended_at) if status != JobStatus.CANCELED else None
        if retried:  # another worker may run (or have run) the next attempt by now
            if status not in (JobStatus.QUEUED, JobStatus.SCHEDULED):
                at = None  # ended_at may be the next attempt's by now
            emit(self.trail, "retrying", job.id, attempt=attempt, at=at,
                 error=error or {"type": "Retry", "message": "the job returned rq.Retry",
                                 "traceback": ""})
        elif status == JobStatus.FINISHED:
            emit(self.trail, "succeeded", job.id, attempt=attempt, at=at)
        elif status == JobStatus.STOPPED:
            emit(self.trail, "killed", job.id, attempt=attempt, at=at,
                 error=error or {"type": "Stopped", "message": "stopped by a stop-job command",
                                 "traceback": ""})
        elif status == JobStatus.CANCELED:
            emit(self.trail, "cancelled", job.id, attempt=attempt)
        elif status == JobStatus.FAILED:
            emit(self.trail, "failed", job.id, attempt=attempt, at=at,
                 error=error or self._latest_error(job))
        # Any other status (e.g. still started after a lost main process) stays as it is.

    def _finished_at(self, job: rq.job.Job) -> float | None:
        """RQ's `ended_at` of a job it stored as finished, else None (then the whole job is read)."""
        status, ended = self.connection.hmget(job.key, "status", "ended_at")
        if _text(status) != JobStatus.FINISHED.value or not ended:
            return None
        try:
            return _timestamp(datetime.fromisoformat(_text(ended)))
        except ValueError:
            return None

    def _keep_error(self, job: rq.job.Job, exc_info: Sequence[Any]) -> None:
        try:
            exc: BaseException | None = exc_info[1] if len(exc_info) > 1 else None
            tb: TracebackType | None = exc_info[2] if len(exc_info) > 2 else None
            if exc is None:
                return
            error = error_info(exc, tb)
            self._errors[job.id] = error
            if self.is_horse:
                self.connection.set(ERROR_KEY.format(job.id), json.dumps(error), ex=ERROR_KEY_SECONDS)
        except Exception:  # noqa: BLE001 - the job's failure is RQ's to record, whatever happens here
            warn_once("rq-error", "jobtrail: could not keep the error of RQ job %s", job.id,
                      exc_info=True)

    def _horse_error(self, job_id: str) -> dict[str, str] | None:
        key = ERROR_KEY.format(job_id)
        with self.connection.pipeline() as pipe:
            pipe.get(key)
            pipe.delete(key)
            raw, _ = pipe.execute()
        if not raw:
            return None
        value = json.loads(raw)
        return value if isinstance(value, dict) else None

    @staticmethod
    def _latest_error(job: rq.job.Job) -> dict[str, str] | None:
        result = job.latest_result()
        text = getattr(result, "exc_string", None)
        return _error_from_text(text) if text else None

    def _next_attempt(self, job: rq.job.Job, *, returned: bool = False) -> None:
        try:
            if returned or (job.should_retry and getattr(self, "_stopped_job_id", None) != job.id):
                job.meta[ATTEMPT_META] = _attempt(job) + 1
        except Exception:  # noqa: BLE001 - RQ retries the job whatever jobtrail numbers it
            warn_once("rq-attempt", "jobtrail: could not number the next attempt of %s", job.id,
                      exc_info=True)

    # ---- heartbeats and kill requests ---------------------------------------------------------

    def _start_beats(self) -> None:
        self._stop_beats()
        every = min(self.trail.settings.heartbeat_interval, WORKER_BEAT_SECONDS)
        self._ticker = Ticker(self._tick, max(every / 2, 0.1), "jobtrail-rq-heartbeat").start()
        if self.kill_poll > 0:
            self._poller = KillPoller(self.trail, self._on_kill, queues=self._queue_names,
                                      interval=self.kill_poll).start()

    def _stop_beats(self) -> None:
        for thread in (self._ticker, self._poller):
            if thread is not None:
                thread.stop()
        self._ticker = self._poller = None

    def _tick(self) -> None:
        """Heartbeats: the running job's every `heartbeat_interval`, the worker's every
        `WORKER_BEAT_SECONDS` (RQ's own heartbeat comes only every few minutes when idle)."""
        now = time.monotonic()
        running = self._running
        if running is not None and now - running.beat_at >= self.trail.settings.heartbeat_interval:
            running.beat_at = now
            emit(self.trail, "heartbeat", running.id, attempt=running.attempt)
        if now - self._worker_beat_at >= WORKER_BEAT_SECONDS:
            self._worker_beat()
            self._record_cancellations()

    @never_raise("reading RQ's cancelled jobs")
    def _record_cancellations(self) -> None:
        """Jobs cancelled with RQ's own `job.cancel()` / `rq cancel` (not through jobtrail): RQ
        keeps them in each queue's canceled-job registry, read here at start and with each worker
        heartbeat; each new one is recorded `cancelled` once per worker process. Ids that left
        the registries (expired, cleaned up) are forgotten, so a long-lived worker's set stays as
        small as RQ's registries."""
        listed: set[str] = set()
        for queue in self.queues:
            ids = queue.canceled_job_registry.get_job_ids()
            listed.update(ids)
            for job_id in ids:
                if job_id in self._cancelled:
                    continue
                self._cancelled.add(job_id)
                try:
                    job = self._job_class.fetch(job_id, connection=self.connection,
                                                serializer=self.serializer)
                except NoSuchJobError:
                    continue
                emit(self.trail, "cancelled", job_id, attempt=_attempt(job))
        self._cancelled &= listed

    def _queue_names(self) -> list[str]:
        return [q.name for q in self.queues]

    @never_raise("an RQ worker heartbeat")
    def _worker_beat(self, stopped: bool = False) -> None:
        self._worker_beat_at = time.monotonic()
        busy = self._running is not None
        self.trail.worker_heartbeat(
            self._identity.name, queues=self._queue_names(), running=int(busy),
            state="stopped" if stopped else ("busy" if busy else "idle"),
            host=self._identity.host, pid=self._identity.pid,
        )

    def _on_kill(self, wanted: TrailJob) -> None:
        """A kill request from jobtrail: stop the job if RQ runs it, cancel it if it waits."""
        try:
            job = self._job_class.fetch(wanted.id, connection=self.connection,
                                        serializer=self.serializer)
        except NoSuchJobError:
            return
        status = job.get_status(refresh=False)
        if status == JobStatus.STARTED:
            send_stop_job_command(self.connection, job.id, serializer=self.serializer)
        elif status in (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED):
            try:
                job.cancel()
            except InvalidJobOperation:  # another worker cancelled it first
                return
            self._cancelled.add(job.id)
            emit(self.trail, "cancelled", job.id, attempt=_attempt(job))


class Worker(_Tracking, rq.Worker):
    """`rq.Worker` (a work horse forked per job) that reports its jobs to `trail` (default:
    `Trail()`, i.e. JOBTRAIL_URL). `kill_poll`: seconds between reads of kill requests (0: off)."""

    def __init__(self, *args: Any, trail: Trail | None = None,
                 kill_poll: float = DEFAULT_KILL_POLL_SECONDS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._setup_tracking(trail, kill_poll)

    def register_birth(self) -> None:
        super().register_birth()
        # Every horse is a fork of this process: objects alive now (imports, the Trail's client)
        # go to the collector's permanent generation, so a horse's garbage collection neither
        # scans nor copies-on-write them (what Python's docs advise before fork without exec).
        gc.freeze()


class SimpleWorker(_Tracking, rq.SimpleWorker):
    """`rq.SimpleWorker` (jobs in the worker's own process) that reports to `trail`. It has no
    horse to stop, so a kill request reaches only queued jobs."""

    def __init__(self, *args: Any, trail: Trail | None = None,
                 kill_poll: float = DEFAULT_KILL_POLL_SECONDS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._setup_tracking(trail, kill_poll)

