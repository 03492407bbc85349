"""What job code holds while it runs: `JobHandle` (progress, heartbeat, kill_requested).

A job's thread does as little as it can: each lifecycle step appends one small record
`(handle, type, at, extra)` to the writer's buffer. The writer thread turns records into event
dicts (`JobHandle.event`) and keeps the set of live jobs that it heartbeats. Nothing here does
I/O or raises into the job.
"""

from __future__ import annotations

import sys
import time
import traceback
from types import TracebackType
from typing import TYPE_CHECKING, Any

from jobtrail.errors import Killed

if TYPE_CHECKING:
    from jobtrail.client.trail import Trail

__all__ = ["JobHandle", "Record", "job_fields"]

Record = tuple["JobHandle", str | None, float, dict[str, Any] | None]
"""(handle, event type or None for "stop heartbeating", Unix seconds, extra fields)."""

RawFields = tuple[Any, Any, Any, Any, Any, Any, Any] | None
"""`Trail.track`'s (queue, batch, resources, labels, args, worker, keep), snapshotted."""

_now = time.time


def job_fields(raw: RawFields) -> dict[str, Any]:
    """The job fields of a `started` event from `Trail.track`'s snapshot; None and empty
    values are left out (built on the writer thread)."""
    if raw is None:
        return {}
    queue, batch, resources, labels, args, worker, keep = raw
    out: dict[str, Any] = {}
    for key, value in (("queue", queue), ("batch", batch), ("resources", resources),
                       ("labels", labels), ("args", args), ("worker", worker), ("keep", keep)):
        if value is not None and value != [] and value != {}:
            out[key] = value
    return out


class JobHandle:
    """One run of one job. Use as a context manager (via `Trail.track`) or call start/finish."""

    __slots__ = ("_done", "_fields", "_progress", "_trail", "attempt", "id", "name")

    def __init__(self, trail: Trail, job_id: str, name: str, attempt: int,
                 fields: RawFields) -> None:
        self._trail = trail
        self.id = job_id
        self.name = name
        self.attempt = attempt
        self._fields = fields
        self._progress: dict[str, int] | None = None
        self._done = False

    def _record(self, kind: str | None, extra: dict[str, Any] | None = None) -> None:
        try:
            self._trail._writer.put((self, kind, _now(), extra))
        except Exception:  # noqa: BLE001 - tracking never raises into job code
            self._trail._writer.stats.record_errors += 1

    @property
    def kill_requested(self) -> bool:
        """True once someone asked to kill this job (learned from the store in the background)."""
        return self.id in self._trail._kills

    def progress(
        self,
        done: int | None = None,
        total: int | None = None,
        failed: int | None = None,
        skipped: int | None = None,
    ) -> None:
        """Record items processed so far; omitted counts keep their last value."""
        if self._progress is None:
            self._progress = {}
        for key, value in (("done", done), ("total", total), ("failed", failed),
                           ("skipped", skipped)):
            if value is not None:
                self._progress[key] = value
        self._record("progress", {"progress": dict(self._progress)})

    def heartbeat(self) -> None:
        """Say the job is alive (also sent automatically while it runs)."""
        self._record("heartbeat")

    def start(self) -> JobHandle:
        self._record("started")
        return self

    def finish(self, result: Any = None) -> None:
        self._done = True
        extra = None
        if result is not None or self._progress:
            extra = {} if result is None else {"result": result}
            if self._progress:
                extra["progress"] = dict(self._progress)
        self._record("succeeded", extra)

    def fail(self, exc: BaseException, kind: str = "failed") -> None:
        self._done = True
        error = {
            "type": type(exc).__qualname__,
            "message": str(exc),
            "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
        }
        extra: dict[str, Any] = {"error": error}
        if self._progress:
            extra["progress"] = dict(self._progress)
        self._record(kind, extra)

    def _close(self) -> None:
        """Stop heartbeating this run without recording an end (another process reports it)."""
        self._done = True
        self._record(None)

    def event(self, record: Record) -> dict[str, Any] | None:
        """The event dict for one of this handle's records (on the writer thread, which also
        keeps `trail._live`: a job is live from its `started` record to its end)."""
        _, kind, at, extra = record
        trail = self._trail
        if kind is None or kind not in ("started", "heartbeat", "progress"):  # an end
            trail._live.pop(self.id, None)
            trail._kills.discard(self.id)
            if kind is None:
                return None
        event = {"job_id": self.id, "type": kind, "at": at, "attempt": self.attempt}
        if kind == "started":
            event["name"] = self.name
            if self._fields is not None:
                event.update(job_fields(self._fields))
            if not self._done:
                trail._live[self.id] = self
        if extra:
            event.update(extra)
        return event

    def __enter__(self) -> JobHandle:
        try:  # `start()` inline: one call less per job
            self._trail._writer.put((self, "started", _now(), None))
        except Exception:  # noqa: BLE001 - tracking never raises into job code
            self._trail._writer.stats.record_errors += 1
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc is None:
                if self._progress is None:  # the common case, inline
                    self._done = True
                    self._trail._writer.put((self, "succeeded", _now(), None))
                else:
                    self.finish()
            elif isinstance(exc, Killed) or not isinstance(exc, Exception):
                # Killed on request, or interrupted (KeyboardInterrupt, SystemExit).
                self.fail(exc, kind="killed")
            else:
                self.fail(exc)
        except Exception:  # noqa: BLE001 - recording must never replace the job's own outcome
            print("jobtrail: could not record the end of a job", file=sys.stderr)

