"""What job code holds while it runs: `JobHandle` (progress, heartbeat, kill_requested).

Every method only appends an event to the writer's buffer; none does I/O or raises into the job.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import Any

from jobtrail.errors import Killed

__all__ = ["JobHandle"]

Emit = Callable[[dict[str, Any]], None]


class JobHandle:
    """One run of one job. Use as a context manager (via `Trail.track`) or call start/finish."""

    __slots__ = ("_emit", "_fields", "_kills", "_live", "_progress", "attempt", "id", "name")

    def __init__(
        self,
        emit: Emit,
        kills: set[str],
        live: dict[str, JobHandle],
        job_id: str,
        name: str,
        attempt: int,
        fields: dict[str, Any],
    ) -> None:
        self._emit = emit
        self._kills = kills
        self._live = live
        self.id = job_id
        self.name = name
        self.attempt = attempt
        self._fields = fields
        self._progress: dict[str, int] = {}

    def _event(self, kind: str, **extra: Any) -> None:
        event = {"job_id": self.id, "type": kind, "at": time.time(), "attempt": self.attempt}
        event.update(extra)
        self._emit(event)

    @property
    def kill_requested(self) -> bool:
        """True once someone asked to kill this job (learned from the store in the background)."""
        return self.id in self._kills

    def progress(
        self,
        done: int | None = None,
        total: int | None = None,
        failed: int | None = None,
        skipped: int | None = None,
    ) -> None:
        """Record items processed so far; omitted counts keep their last value."""
        for key, value in (("done", done), ("total", total), ("failed", failed),
                           ("skipped", skipped)):
            if value is not None:
                self._progress[key] = value
        self._event("progress", progress=dict(self._progress))

    def heartbeat(self) -> None:
        """Say the job is alive (also sent automatically while it runs)."""
        self._event("heartbeat")

    def start(self) -> JobHandle:
        self._live[self.id] = self
        event = {"job_id": self.id, "type": "started", "at": time.time(), "attempt": self.attempt,
                 "name": self.name}
        if self._fields:
            event.update(self._fields)
        self._emit(event)
        return self

    def finish(self, result: Any = None) -> None:
        # Built inline, not through `_event(**extra)`: this and `start` run once per job, in the
        # job's own thread.
        event = {"job_id": self.id, "type": "succeeded", "at": time.time(), "attempt": self.attempt}
        if result is not None:
            event["result"] = result
        if self._progress:
            event["progress"] = dict(self._progress)
        self._emit(event)
        self._close()

    def fail(self, exc: BaseException, kind: str = "failed") -> None:
        error = {
            "type": type(exc).__qualname__,
            "message": str(exc),
            "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
        }
        extra: dict[str, Any] = {"error": error}
        if self._progress:
            extra["progress"] = dict(self._progress)
        self._event(kind, **extra)
        self._close()

    def _close(self) -> None:
        self._live.pop(self.id, None)
        self._kills.discard(self.id)

    def __enter__(self) -> JobHandle:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc is None:
                self.finish()
            elif isinstance(exc, Killed) or not isinstance(exc, Exception):
                # Killed on request, or interrupted (KeyboardInterrupt, SystemExit).
                self.fail(exc, kind="killed")
            else:
                self.fail(exc)
        except Exception:  # noqa: BLE001 - recording must never replace the job's own outcome
            print("jobtrail: could not record the end of a job", file=sys.stderr)
