"""`Trail`: the one object users hold. Reads (jobs, get, batch, stats) and tracking (enqueued,
track, @job) over a database URL; a remote server URL comes with `jobtrail serve`."""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ParamSpec, TypeVar

from jobtrail.client.ids import new_job_id
from jobtrail.client.tracking import JobHandle
from jobtrail.client.writer import Writer, WriterStats
from jobtrail.config import Settings
from jobtrail.errors import ConfigError, NotFound
from jobtrail.events import cap_args
from jobtrail.ingest import IngestResult, ingest
from jobtrail.model import BatchSummary, Job
from jobtrail.query import JobQuery, TimeArg, batch_summary, build_filter
from jobtrail.retention import SweepResult, sweep
from jobtrail.store import Store, open_store

__all__ = ["Trail"]

log = logging.getLogger("jobtrail")
P = ParamSpec("P")
R = TypeVar("R")


def _new_id() -> str:
    return new_job_id()


class Trail:
    """Track jobs and query them. `Trail()` uses JOBTRAIL_URL, else a SQLite file in the user data
    directory; `Trail("postgresql://...")` or `Trail("sqlite:///jobs.db")` name one."""

    def __init__(self, url: str | None = None, *, settings: Settings | None = None,
                 store: Store | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self.url = url or (store.url if store is not None else self.settings.resolved_url())
        if self.url.startswith(("http://", "https://")):
            raise ConfigError("a server URL needs the HTTP client, which is not available yet")
        self._store = store
        self._store_lock = threading.Lock()
        self._kills: set[str] = set()
        self._live: dict[str, JobHandle] = {}
        self._last_beat = time.monotonic()
        self.periodic: dict[str, dict[str, Any]] = {}
        s = self.settings
        self._writer = Writer(
            self._send,
            capacity=s.buffer_size,
            batch_size=s.batch_size,
            interval=s.flush_interval,
            on_result=self._on_result,
            tick=self._beat,
            exit_timeout=s.exit_timeout,
        )

    # ---- plumbing --------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        if self._store is None:
            with self._store_lock:
                if self._store is None:
                    self._store = open_store(self.url)
        return self._store

    def _send(self, events: list[dict[str, Any]]) -> IngestResult:
        for event in events:
            if "args" in event:
                event["args"] = cap_args(event["args"])
        result = ingest(self.store, events)
        if result.rejected:
            self._writer.stats.rejected += len(result.rejected)
            self._writer.warn_once(
                "rejected", "jobtrail: the store rejected an event: %s", result.rejected[0].error
            )
        return result

    def _on_result(self, result: IngestResult) -> None:
        self._kills.update(j for j in result.control if j in self._live)

    def _beat(self) -> None:
        """Runs on the writer thread: heartbeats for live jobs, which also fetch kill requests."""
        now = time.monotonic()
        if self._live and now - self._last_beat >= self.settings.heartbeat_interval:
            self._last_beat = now
            for handle in list(self._live.values()):
                handle.heartbeat()

    def _emit(self, event: dict[str, Any]) -> None:
        try:
            self._writer.put(event)
        except Exception:  # noqa: BLE001 - tracking never raises into job code
            self._writer.stats.record_errors += 1

    @property
    def stats(self) -> WriterStats:
        """How many events were sent, dropped, rejected; send errors."""
        return self._writer.stats

    def flush(self, timeout: float = 5.0) -> bool:
        """Write everything tracked so far; False if that took longer than `timeout`."""
        return self._writer.flush(timeout)

    def close(self) -> None:
        self._writer.close()
        if self._store is not None:
            self._store.close()

    def __enter__(self) -> Trail:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- tracking --------------------------------------------------------------------------

    def _fields(self, **fields: Any) -> dict[str, Any]:
        out = {k: v for k, v in fields.items() if v is not None and v != [] and v != {}}
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
        job_id = job_id or _new_id()
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
        fields = self._fields(queue=queue, batch=batch, resources=resources, labels=labels,
                              args=args, worker=worker, keep=keep)
        return JobHandle(self._emit, self._kills, self._live, job_id or _new_id(), name, attempt,
                         fields)

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
        declare a periodic job (kept in `trail.periodic` for the staleness checks).
        """

        def wrap(fn: Callable[P, R]) -> Callable[P, R]:
            job_name = name or f"{fn.__module__}.{fn.__qualname__}"
            if every or cron:
                self.periodic[job_name] = {"every": every, "cron": cron, "grace": grace}

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

    # ---- reading and operating ---------------------------------------------------------------

    def ingest(self, events: Iterable[Any]) -> IngestResult:
        """Apply events now, in this thread, in one transaction (rejections listed by index)."""
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
        return JobQuery(self.store, flt)

    def get(self, job_id: str) -> Job:
        record = self.store.get(job_id)
        if record is None:
            raise NotFound(f"no job {job_id!r}")
        return Job.from_record(record)

    def batch(self, batch_id: str) -> BatchSummary:
        return batch_summary(self.store, batch_id)

    def sweep(self, **kwargs: Any) -> SweepResult:
        """Delete jobs whose retention ran out (settings' rules) and compact old roll-ups."""
        kwargs.setdefault("minute_rollup_days", self.settings.minute_rollup_days)
        return sweep(self.store, self.settings.retention, **kwargs)
