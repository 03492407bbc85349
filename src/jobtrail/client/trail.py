"""`Trail`: the one object users hold. Reads (jobs, get, batch, stats) and tracking (enqueued,
track, @job) over a database URL, or over HTTP to a `jobtrail serve` server at an http(s) URL."""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from jobtrail import periodic, workers
from jobtrail.client.ids import new_job_id
from jobtrail.client.outbox import Outbox
from jobtrail.client.tracking import JobHandle
from jobtrail.client.writer import Writer, WriterStats
from jobtrail.config import Settings
from jobtrail.errors import ConfigError, NotFound
from jobtrail.events import cap_args
from jobtrail.forks import process_flag, reinit_lock
from jobtrail.ingest import IngestResult, ingest
from jobtrail.model import BatchSummary, Job
from jobtrail.query import JobQuery, TimeArg, batch_summary, build_filter, kill_job
from jobtrail.retention import SweepResult, sweep
from jobtrail.store import Store, open_store

if TYPE_CHECKING:
    from jobtrail.client.http_sink import HttpSink
    from jobtrail.client.remote import RemoteClient

__all__ = ["Trail"]

log = logging.getLogger("jobtrail")
P = ParamSpec("P")
R = TypeVar("R")


class Trail:
    """Track jobs and query them. `Trail()` uses JOBTRAIL_URL, else a SQLite file in the user data
    directory; `Trail("postgresql://...")` or `Trail("sqlite:///jobs.db")` name one.

    `Trail("http://host:8765", token=...)` talks to a jobtrail server instead (token default:
    JOBTRAIL_TOKEN): the same reads over its API, and tracking that spills to disk while the server
    is unreachable. `settings.extra` may hold "spill_dir", "spill_max_bytes" and
    "retry_max_seconds" for it.
    """

    def __init__(self, url: str | None = None, *, settings: Settings | None = None,
                 store: Store | None = None, token: str | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self.url = url or (store.url if store is not None else self.settings.resolved_url())
        self.token = token if token is not None else self.settings.token
        self._remote: RemoteClient | None = None
        self._sink: HttpSink | None = None
        send: Callable[[list[dict[str, Any]]], Any] = self._send
        tick: Callable[[], None] = self._beat
        keep: Callable[[list[dict[str, Any]]], int] | None = None
        if self.url.startswith(("http://", "https://")):  # a server: its HTTP modules load only then
            if store is not None:
                raise ConfigError("a Trail talks either to a server URL or to a store, not both")
            self._remote, self._sink = _remote(self.url, self.token, self.settings, self._on_result)
            send, tick, keep = self._sink.send, self._remote_tick, self._sink.keep
        self._store = store
        self._store_lock = threading.Lock()
        self._last_beat = time.monotonic()  # a child keeps it: its first beat is no later
        self._init_live()
        self._outbox = Outbox(self._deliver_meta, self._meta_error)
        s = self.settings
        self._writer = Writer(
            send,
            capacity=s.buffer_size,
            batch_size=s.batch_size,
            # The writer's turn is what sends heartbeats, so it comes at least twice per interval.
            interval=min(s.flush_interval, max(s.heartbeat_interval / 2, 0.01)),
            on_result=self._on_result,
            tick=tick,
            exit_timeout=s.exit_timeout,
            keep=keep,
        )

    # ---- plumbing --------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        if self._remote is not None:
            return self._remote.no_store  # raises ConfigError on use: the server owns the database
        if self._store is None:
            with self._store_lock:
                if self._store is None:
                    self._store = open_store(self.url)
        return self._store

    def _send(self, events: list[dict[str, Any]]) -> IngestResult:
        # Args were snapshotted and capped in the job's thread (`_fields`).
        result = ingest(self.store, events)
        if result.rejected:
            self._writer.stats.rejected += len(result.rejected)
            self._writer.warn_once(
                "rejected", "jobtrail: the store rejected an event: %s", result.rejected[0].error
            )
        return result

    def _on_result(self, result: IngestResult | Mapping[str, Any]) -> None:
        """Kill requests the store or server named in its answer reach the running jobs."""
        control = (result.get("control") or {}) if isinstance(result, Mapping) else result.control
        self._kills.update(j for j in control if j in self._live)

    def _deliver_meta(self, kind: str, items: list[dict[str, Any]]) -> None:
        if self._remote is not None:
            if kind == "periodic":  # the server stamps its own declaration time
                items = [{k: v for k, v in item.items() if k != "at"} for item in items]
            answer = self._remote.call("POST", f"/api/v1/{kind}", body={kind: items})
            for rejection in answer.get("rejected") or ():
                self._writer.stats.rejected += 1
                self._writer.warn_once("rejected-" + kind, "jobtrail: the server rejected %s: %s",
                                       kind, rejection.get("error"))
            return
        store = self.store
        for item in items:
            (store.beat_worker if kind == "workers" else store.declare_periodic)(item)

    def _meta_error(self, kind: str, exc: Exception) -> None:
        self._writer.stats.send_errors += 1
        self._writer.warn_once("meta-" + kind, "jobtrail: could not send %s (will retry): %s", kind, exc)

    def _init_live(self) -> None:
        """The running jobs the writer thread heartbeats, and kill requests for them: this
        process's own. A forked child starts with none, so it never beats for its parent's jobs
        (a parent that died would then never look lost)."""
        self._here = process_flag()  # emptied in a forked child: `_beat` starts over there
        self._kills: set[str] = set()
        self._live: dict[str, JobHandle] = {}

    def _beat(self) -> None:
        """Runs on the writer thread at the start of every turn, before it builds any event:
        heartbeats for live jobs, which also fetch kill requests; worker heartbeats and periodic
        declarations (only this thread sends them: `flush` waits for its turn)."""
        if not self._here:
            with reinit_lock():
                if not self._here:
                    self._init_live()
        if len(self._outbox):
            self._outbox.send()
        now = time.monotonic()
        if self._live and now - self._last_beat >= self.settings.heartbeat_interval:
            self._last_beat = now
            for handle in list(self._live.values()):
                if handle._done:  # ended; its end record is on its way
                    self._live.pop(handle.id, None)
                else:
                    handle.heartbeat()

    def _remote_tick(self) -> None:
        self._beat()
        if self._sink is not None:
            self._sink.tick()

    def _emit(self, event: dict[str, Any] | tuple[Any, ...]) -> None:
        """Buffer an event dict, or a record whose first item builds it on the writer thread
        (`record[0].event(record)`, as a JobHandle's records), for the integrations' hooks."""
        try:
            self._writer.put(event)
        except Exception:  # noqa: BLE001 - tracking never raises into job code
            self._writer.stats.record_errors += 1

    @property
    def stats(self) -> WriterStats:
        """How many events were sent, dropped, rejected; send errors (and, for a server, spilled)."""
        if self._sink is not None:
            return self._sink.stats(self._writer.stats)
        return self._writer.stats

    def flush(self, timeout: float = 5.0) -> bool:
        """Write everything tracked so far (for a server: spilled events too); False if that took
        longer than `timeout`. The writer thread does the sending, so this waits no longer."""
        deadline = time.monotonic() + timeout
        mark = self._outbox.mark()  # the writer thread may be delivering the outbox just now
        done = self._writer.flush(timeout, turn=not self._outbox.delivered(mark))
        done = self._outbox.delivered(mark) and done
        if self._sink is None or not done:
            return done
        return self._sink.drain(max(deadline - time.monotonic(), 0.0))

    def close(self) -> None:
        """Send what waits (the writer's last turn sends the outbox too), within exit_timeout."""
        deadline = time.monotonic() + self.settings.exit_timeout
        self._writer.close()
        # Registers, not spilled: the process's next heartbeat or declaration sends them anew.
        self._writer.lost_at_exit(self._outbox.unsent, "worker heartbeats or periodic declarations")
        if self._sink is not None:
            self._sink.close(max(deadline - time.monotonic(), 0.0))
        if self._remote is not None:
            self._remote.close()
        if self._store is not None:
            self._store.close()

    def __enter__(self) -> Trail:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- tracking --------------------------------------------------------------------------

    def _fields(self, **fields: Any) -> dict[str, Any]:
        out = {k: v for k, v in fields.items() if v is not None and v != [] and v != {}}
        if not out:
            return out
        if fields.get("args") is not None:
            # A snapshot (capped in size), so a job that mutates its arguments while it runs
            # does not rewrite what was tracked before the writer thread sends it.
            out["args"] = cap_args(fields["args"])
        if "resources" in out:
            out["resources"] = list(out["resources"])
        if "labels" in out:
            out["labels"] = dict(out["labels"])
        return out

    def enqueued(
        self,
        name: str,
        job_id: str | None = None,
        *,
        queue: str | None = None,
        batch: str | None = None,
        resources: Sequence[str] | None = None,
        labels: Mapping[str, str] | None = None,
        args: Any = None,
        keep: str | float | None = None,
        attempt: int = 1,
        at: float | None = None,
    ) -> str:
        """Record that a job was queued; returns its id (generated when not given)."""
        job_id = job_id or new_job_id()
        event = {"job_id": job_id, "type": "queued", "at": time.time() if at is None else at,
                 "name": name, "attempt": attempt}
        event.update(self._fields(queue=queue, batch=batch, resources=resources, labels=labels,
                                  args=args, keep=keep))
        self._emit(event)
        return job_id

    def track(
        self,
        name: str,
        job_id: str | None = None,
        *,
        queue: str | None = None,
        batch: str | None = None,
        resources: Sequence[str] | None = None,
        labels: Mapping[str, str] | None = None,
        args: Any = None,
        worker: str | None = None,
        keep: str | float | None = None,
        attempt: int = 1,
    ) -> JobHandle:
        """A handle for one run: `with trail.track(...) as job:` records started, then succeeded,
        failed (with the exception) or killed (on `jobtrail.Killed`)."""
        # Only snapshots here, in the job's thread: the writer thread builds the event dicts.
        # Containers are copied (the job may mutate them before then), args capped as JSON.
        if resources is not None:
            resources = list(resources)
        if labels is not None:
            labels = dict(labels)
        if args is not None:
            args = cap_args(args)
        return JobHandle(self, job_id or new_job_id(), name, attempt,
                         (queue, batch, resources, labels, args, worker, keep))

    def job(
        self,
        name: str | None = None,
        *,
        queue: str | None = None,
        every: str | None = None,
        cron: str | None = None,
        grace: str | None = None,
        resources: Callable[..., Iterable[str]] | Sequence[str] | None = None,
        labels: Mapping[str, str] | None = None,
        keep: str | float | None = None,
    ) -> Callable[[Callable[P, R]], Callable[P, R]]:
        """Decorator: every call of the function is tracked as one job named `name`.

        `resources` may be a list or a function of the call's arguments. `every`/`cron`/`grace`
        declare a periodic job (see `declare_periodic`); a bad schedule raises here, at decoration.
        """

        def wrap(fn: Callable[P, R]) -> Callable[P, R]:
            job_name = name or f"{fn.__module__}.{fn.__qualname__}"
            if every or cron:
                self.declare_periodic(job_name, every=every, cron=cron, grace=grace)

            @functools.wraps(fn)
            def run(*args: P.args, **kwargs: P.kwargs) -> R:
                res = resources(*args, **kwargs) if callable(resources) else resources
                with self.track(job_name, queue=queue, resources=list(res or ()) or None,
                                labels=labels, keep=keep,
                                args={"args": list(args), "kwargs": kwargs} if args or kwargs
                                else None):
                    return fn(*args, **kwargs)

            return run

        return wrap

    def declare_periodic(
        self,
        name: str,
        every: str | float | None = None,
        cron: str | None = None,
        grace: str | float | None = None,
        down_after: str | float | None = None,
    ) -> None:
        """Declare that `name` should succeed every interval (or on a cron schedule, in UTC); it is
        late after that plus `grace` without a success, and down after `down_after` (default: one
        more interval). Sent in the background; `InvalidInput` for a bad schedule."""
        declared = periodic.spec(name, every=every, cron=cron, grace=grace, down_after=down_after)
        self._outbox.put("periodic", name, declared)
        self._writer.start()  # its turn sends the outbox, also in a process that tracks no job

    def worker_heartbeat(
        self,
        worker_id: str | None = None,
        *,
        queues: Iterable[str] = (),
        running: int = 0,
        state: str | None = None,
        host: str | None = None,
        pid: int | None = None,
    ) -> None:
        """Report a worker process alive (busy when `running` > 0, unless `state` says otherwise:
        "busy", "idle" or "stopped"). Never blocks or raises: the latest beat is sent in the
        background, and a bad one is counted and logged once."""
        try:
            value = workers.beat(worker_id, queues=queues, running=running, state=state, host=host,
                                 pid=pid)
        except Exception as exc:  # noqa: BLE001 - called from worker hooks: never raise into them
            self._writer.stats.record_errors += 1
            self._writer.warn_once("worker", "jobtrail: bad worker heartbeat: %s", exc)
            return
        self._outbox.put("workers", value["id"], value)
        self._writer.start()

    # ---- reading and operating ---------------------------------------------------------------

    def workers(self) -> list[dict[str, Any]]:
        """Every worker's latest heartbeat (`id, host, pid, queues, state, running, started_at,
        last_seen`)."""
        if self._remote is not None:
            return list(self._remote.call("GET", "/api/v1/workers")["workers"])
        return self.store.workers()

    def periodics(self) -> list[periodic.PeriodicStatus]:
        """Every declared periodic job with where it stands now (ok, never, late, down)."""
        if self._remote is not None:
            return [periodic.PeriodicStatus(**{k: v for k, v in item.items() if k != "level"})
                    for item in self._remote.call("GET", "/api/v1/periodic")["periodic"]]
        return periodic.statuses(self.store)

    def ingest(self, events: Iterable[Any]) -> IngestResult:
        """Apply events now, in this thread, in one transaction (rejections listed by index).
        For a server: POSTed now, in as many requests as its limits need."""
        if self._remote is not None:
            return self._remote.ingest(events)
        return ingest(self.store, events)

    def jobs(
        self,
        state: str | Sequence[str] | None = None,
        name: str | Sequence[str] | None = None,
        *,
        queue: str | Sequence[str] | None = None,
        batch: str | None = None,
        resource: str | None = None,
        labels: Mapping[str, str] | Sequence[str] | None = None,
        since: TimeArg = None,
        until: TimeArg = None,
    ) -> JobQuery:
        """Jobs matching every given filter; `since="7d"` or a datetime; labels as a dict."""
        flt = build_filter(state=state, name=name, queue=queue, batch=batch, resource=resource,
                           labels=labels, since=since, until=until)
        if self._remote is not None:
            from jobtrail.client.remote import RemoteJobQuery

            return RemoteJobQuery(self._remote, flt)
        return JobQuery(self.store, flt)

    def get(self, job_id: str) -> Job:
        if self._remote is not None:
            return self._remote.get(job_id)
        record = self.store.get(job_id)
        if record is None:
            raise NotFound(f"no job {job_id!r}")
        return Job.from_record(record)

    def kill(self, job_id: str) -> Job:
        """Flag one unfinished job for killing: `Conflict` if it already finished, `NotFound` if
        unknown. Its tracking client sees the flag on the job's next heartbeat."""
        if self._remote is not None:
            return self._remote.kill(job_id)
        return kill_job(self.store, job_id)

    def batch(self, batch_id: str) -> BatchSummary:
        if self._remote is not None:
            return self._remote.batch(batch_id)
        return batch_summary(self.store, batch_id)

    def sweep(self, **kwargs: Any) -> SweepResult:
        """Delete jobs whose retention ran out (settings' rules) and compact old roll-ups."""
        if self._remote is not None:
            raise ConfigError(f"{self.url} is a jobtrail server: run the sweep against its database")
        kwargs.setdefault("minute_rollup_days", self.settings.minute_rollup_days)
        return sweep(self.store, self.settings.retention, **kwargs)


def _remote(url: str, token: str | None, settings: Settings,
            on_result: Callable[[IngestResult], None]) -> tuple[RemoteClient, HttpSink]:
    """The HTTP side of a Trail; imported only here, so database-only processes load none of it."""
    from jobtrail.client.connection import server_host
    from jobtrail.client.http_sink import BACKOFF_MAX, SPILL_MAX_BYTES, HttpSink
    from jobtrail.client.remote import RemoteClient

    try:
        server_host(url)
        extra = settings.extra
        spill_dir = Path(extra["spill_dir"]) if extra.get("spill_dir") else None
        spill_max = int(extra.get("spill_max_bytes", SPILL_MAX_BYTES))
        backoff_max = float(extra.get("retry_max_seconds", BACKOFF_MAX))
    except ValueError as exc:
        raise ConfigError(f"invalid server URL or setting: {exc}") from None
    sink = HttpSink(url, token, spill_dir=spill_dir, spill_max_bytes=spill_max,
                    backoff_max=backoff_max, on_result=on_result)
    return RemoteClient(url, token), sink
