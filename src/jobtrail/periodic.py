"""Periodic jobs: a schedule (an interval or a cron expression) and a grace period per job name.

Staleness is judged by each job's own schedule, so a job that runs every 6 hours is late 6 hours
plus its grace after its last success, not after a global 2 hours. A job is `late` once its next
run is overdue by more than the grace, and `down` once the run after that is overdue too (or after
an explicit `down_after`). Before its first success, the declaration time stands in for it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from cronsim import CronSim, CronSimError

from jobtrail.durations import format_duration, format_relative, parse_duration
from jobtrail.errors import InvalidInput
from jobtrail.events import normalize

if TYPE_CHECKING:
    from jobtrail.store.base import Store

__all__ = ["PeriodicStatus", "next_due", "parse_every", "spec", "status", "statuses"]

State = Literal["ok", "never", "late", "down"]
MIN_GRACE, MAX_GRACE = 60.0, 3600.0
MAX_CRON_CHARS = 200  # the column's width


def parse_every(value: str | float | int) -> float:
    """Seconds of an interval such as "6h", "30m", "1d" or a number of seconds; must be positive."""
    seconds = parse_duration(value)
    if not seconds > 0:
        raise InvalidInput(f"a periodic interval must be positive, got {value!r}")
    return seconds


def _cron(expr: str, start: float, reverse: bool = False) -> CronSim:
    try:
        return CronSim(expr, datetime.fromtimestamp(start, UTC), reverse=reverse)
    except CronSimError as exc:
        raise InvalidInput(f"bad cron expression {expr!r}: {exc}") from None


def _seconds(value: str | float | int | None, what: str) -> float | None:
    if value is None:
        return None
    seconds = parse_duration(value)
    if seconds < 0:
        raise InvalidInput(f"{what} cannot be negative, got {value!r}")
    return seconds


def spec(
    name: str,
    every: str | float | int | None = None,
    cron: str | None = None,
    grace: str | float | int | None = None,
    down_after: str | float | int | None = None,
    at: float | None = None,
) -> dict[str, Any]:
    """A validated declaration as the store keeps it (seconds; the default grace is a tenth of the
    interval, between 1 minute and 1 hour)."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("a periodic job needs a name")
    # A job's name rules (length, no NUL, valid Unicode): a name the store cannot keep would fail
    # the whole declaration batch on every retry.
    normalize({"job_id": "-", "type": "queued", "at": time.time(), "name": name}, time.time())
    if (every is None) == (cron is None):
        raise InvalidInput(f"periodic job {name!r}: give exactly one of every= or cron=")
    at = time.time() if at is None else at
    interval: float
    if cron is not None:
        if len(cron) > MAX_CRON_CHARS:
            raise InvalidInput(f"a cron expression is at most {MAX_CRON_CHARS} characters")
        fires = _cron(cron, at)
        first = next(fires).timestamp()
        interval = next(fires).timestamp() - first
    else:
        interval = parse_every(every)  # type: ignore[arg-type]
    grace_s = _seconds(grace, "grace")
    if grace_s is None:
        grace_s = min(max(interval / 10, MIN_GRACE), MAX_GRACE)
    return {
        "name": name,
        "every": None if cron is not None else interval,
        "cron": cron,
        "grace": grace_s,
        "down_after": _seconds(down_after, "down_after"),
        "at": at,
    }


@dataclass(frozen=True, slots=True)
class PeriodicStatus:
    name: str
    state: State
    every: float | None
    cron: str | None
    grace: float
    last_success_at: float | None
    due_at: float
    late_at: float
    down_at: float
    reason: str

    @property
    def level(self) -> str:
        """The health level this state maps to."""
        return {"late": "degraded", "down": "unhealthy"}.get(self.state, "healthy")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"level": self.level}


def next_due(declared: Mapping[str, Any], last_success: float | None) -> tuple[float, float]:
    """(when the next success is due, the interval after it) from the last success, or from the
    declaration while there has been none."""
    ref = last_success if last_success is not None else declared.get("declared_at", declared.get("at"))
    if ref is None or not math.isfinite(ref):
        raise InvalidInput(f"periodic job {declared.get('name')!r} has no reference time")
    if declared.get("cron"):
        fires = _cron(declared["cron"], ref)
        due = next(fires).timestamp()
        return due, next(fires).timestamp() - due
    every = float(declared["every"])
    return ref + every, every


def status(declared: Mapping[str, Any], last_success: float | None, now: float | None = None
           ) -> PeriodicStatus:
    """Where a declared periodic job stands at `now`: ok, never (no success yet, not overdue),
    late (its run is overdue past the grace) or down (the next one is overdue too)."""
    now = time.time() if now is None else now
    due, interval = next_due(declared, last_success)
    grace = float(declared["grace"])
    late_at = due + grace
    down_after = declared.get("down_after")
    down_at = due + max(float(down_after), grace) if down_after is not None else late_at + interval
    schedule = f"cron {declared['cron']}" if declared.get("cron") else f"every {format_duration(interval)}"
    since = (f"last success {format_relative(last_success, now)}" if last_success is not None
             else "no success yet")
    state: State
    if now < late_at:
        state = "ok" if last_success is not None else "never"
        reason = f"{since}; next due {format_relative(due, now)} ({schedule}, grace {format_duration(grace)})"
    else:
        state = "late" if now < down_at else "down"
        reason = (f"{state}: {since}; it was due {format_relative(due, now)} "
                  f"({schedule}, grace {format_duration(grace)})")
    return PeriodicStatus(
        name=declared["name"], state=state, every=declared.get("every"), cron=declared.get("cron"),
        grace=grace, last_success_at=last_success, due_at=due, late_at=late_at, down_at=down_at,
        reason=reason,
    )


def statuses(store: Store, now: float | None = None) -> list[PeriodicStatus]:
    """Every declared periodic job's status, by name."""
    declared = store.periodics()
    last = store.last_success([d["name"] for d in declared]) if declared else {}
    return [status(d, last.get(d["name"]), now) for d in declared]
