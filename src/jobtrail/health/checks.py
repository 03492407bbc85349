"""The five checks. Each reads only small things (queue levels, workers, periodic declarations,
roll-ups, the running jobs), so a health probe stays fast at millions of jobs.

A check returns one `Check`; its reason names the worst offender in words, its details hold the
numbers a dashboard or a script needs.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping
from typing import Any

from jobtrail.durations import format_duration
from jobtrail.health.report import Check, worst
from jobtrail.health.settings import HealthSettings
from jobtrail.health.stalled import lost_since, mark_stalled, stalled
from jobtrail.model import JobFilter
from jobtrail.store.base import Store

__all__ = ["ALL", "check_periodic", "check_queues", "check_stalled", "check_store", "check_workers"]


def _level(value: float, degraded: float, unhealthy: float) -> str:
    """The level of a value against two thresholds; a threshold of 0 is switched off."""
    if unhealthy and value >= unhealthy:
        return "unhealthy"
    if degraded and value >= degraded:
        return "degraded"
    return "healthy"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


@functools.cache
def _head_revision() -> str:
    """The newest migration this code ships (read from the migration scripts once per process)."""
    from jobtrail.store.sql.migrate import head_revision

    return head_revision()


def check_store(store: Store, settings: HealthSettings, now: float) -> Check:
    """Reachable, and its schema at the migration this jobtrail expects."""
    started = time.perf_counter()
    details: dict[str, Any] = {}
    engine = getattr(store, "engine", None)
    if engine is not None:
        from jobtrail.store.sql.migrate import current_revision

        current, head = current_revision(engine), _head_revision()
        details.update(revision=current, head=head)
        if current != head:
            found = "has no jobtrail tables" if current is None else f"is at migration {current}"
            return Check("store", "unhealthy",
                         f"the database {found}, this jobtrail needs {head}: "
                         "run `jobtrail db upgrade`", details)
    store.count(JobFilter(ids=("-",)))  # one indexed lookup: the database answers queries
    latency = time.perf_counter() - started
    details["latency_seconds"] = round(latency, 6)
    if settings.store_slow and latency >= settings.store_slow:
        return Check("store", "degraded",
                     f"the database took {format_duration(latency)} to answer "
                     f"(degraded from {format_duration(settings.store_slow)})", details)
    return Check("store", "healthy",
                 f"the database answers in {format_duration(latency)}; migrations are current",
                 details)


def check_queues(store: Store, settings: HealthSettings, now: float) -> Check:
    """Per queue: jobs waiting, the oldest one's age, and net growth over the recent window."""
    queues: dict[str, dict[str, Any]] = {}
    for row in store.queue_levels():
        q = queues.setdefault(row["queue"], {"queue": row["queue"], "queued": 0, "running": 0,
                                              "oldest_queued_at": None})
        q["queued"] += int(row["queued"] or 0)
        q["running"] += int(row["running"] or 0)
        oldest = row.get("oldest_queued_at")
        if oldest is not None and (q["oldest_queued_at"] is None or oldest < q["oldest_queued_at"]):
            q["oldest_queued_at"] = oldest
    window = settings.queue_growth_window
    for _t, _name, queue, _metric, n in store.rollup_counts(
        now - window, now + 60, metrics=("load:queued",), step=60
    ):
        q = queues.setdefault(queue, {"queue": queue, "queued": 0, "running": 0,
                                      "oldest_queued_at": None})
        q["growth"] = q.get("growth", 0) + n
    findings: list[tuple[str, str]] = []
    for q in queues.values():
        q.setdefault("growth", 0)
        oldest = q["oldest_queued_at"]
        q["oldest_queued_age"] = None if oldest is None else max(0.0, now - oldest)
        name = repr(q["queue"])
        level = _level(q["queued"], settings.queue_degraded, settings.queue_unhealthy)
        if level != "healthy":
            limit = settings.queue_unhealthy if level == "unhealthy" else settings.queue_degraded
            findings.append((level, f"queue {name} holds {_plural(q['queued'], 'job')} waiting "
                                    f"({level} from {limit:,})"))
        age = q["oldest_queued_age"]
        if age is not None:
            level = _level(age, settings.queue_age_degraded, settings.queue_age_unhealthy)
            if level != "healthy":
                limit_s = (settings.queue_age_unhealthy if level == "unhealthy"
                           else settings.queue_age_degraded)
                findings.append((level, f"the oldest job in queue {name} has waited "
                                        f"{format_duration(age)} ({level} from "
                                        f"{format_duration(limit_s)})"))
        if settings.queue_growth_degraded and q["growth"] >= settings.queue_growth_degraded:
            findings.append(("degraded", f"queue {name} grew by {_plural(q['growth'], 'job')} "
                                         f"in the last {format_duration(window)}"))
    # Queues that drained within the window have nothing to say.
    rows = sorted((q for q in queues.values() if q["queued"] or q["running"] or q["growth"] > 0),
                  key=lambda q: (-q["queued"], q["queue"]))
    details = {"queues": rows, "growth_window_seconds": window}
    if findings:
        level = worst(f[0] for f in findings)
        reasons = [text for lvl, text in findings if lvl == level]
        more = len(findings) - 1
        return Check("queues", level, reasons[0] + (f" (and {more} more)" if more else ""), details)
    waiting = [q for q in rows if q["queued"]]
    running = sum(q["running"] for q in rows)
    if not waiting:
        text = f"no jobs are waiting; {running:,} running" if running else \
            "no jobs are waiting or running"
        return Check("queues", "healthy", text, details)
    oldest_age = max((q["oldest_queued_age"] or 0.0) for q in waiting)
    return Check("queues", "healthy",
                 f"{_plural(sum(q['queued'] for q in waiting), 'job')} waiting in "
                 f"{_plural(len(waiting), 'queue')}, the oldest for {format_duration(oldest_age)}",
                 details)


def check_stalled(store: Store, settings: HealthSettings, now: float, *, mark: bool = True) -> Check:
    """Marks running jobs silent past the stall timeout `lost` (with `mark=False` only finds them),
    then counts recent lost jobs."""
    timeout = settings.stall_timeout
    marked = mark_stalled(store, timeout, now) if mark else list(stalled(store, timeout, now))
    recent = lost_since(store, now - settings.lost_window, now)
    n = max(sum(recent.values()), len(marked))
    details = {"marked_lost": [s.job_id for s in marked][:100], "marked_count": len(marked),
               "lost_recently": recent, "lost_window_seconds": settings.lost_window,
               "stall_timeout_seconds": settings.stall_timeout}
    if n == 0:
        return Check("stalled", "healthy",
                     f"no job has been silent past the {format_duration(settings.stall_timeout)} "
                     "stall timeout", details)
    level = "unhealthy" if settings.lost_unhealthy and n >= settings.lost_unhealthy else "degraded"
    names = sorted(recent, key=lambda k: (-recent[k], k))[:3] or sorted(
        {s.name or "" for s in marked})[:3]
    shown = ", ".join(repr(x) for x in names)
    return Check("stalled", level,
                 f"{_plural(n, 'job')} went silent past the {format_duration(settings.stall_timeout)} "
                 f"stall timeout in the last {format_duration(settings.lost_window)} and "
                 f"{'is' if n == 1 else 'are'} {'marked' if mark else 'to be marked'} lost ({shown})",
                 details)


def check_workers(store: Store, settings: HealthSettings, now: float) -> Check:
    """Each worker's last heartbeat: silent past the timeout is lost; all lost is unhealthy."""
    rows: list[dict[str, Any]] = []
    for w in store.workers():
        age = max(0.0, now - float(w["last_seen"]))
        if w.get("state") == "stopped" or age > settings.worker_forget:
            continue
        rows.append({**w, "age": age, "lost": age > settings.worker_timeout})
    rows.sort(key=lambda w: (-w["age"], str(w["id"])))
    lost = [w for w in rows if w["lost"]]
    details = {"workers": rows, "alive": len(rows) - len(lost), "lost": len(lost),
               "timeout_seconds": settings.worker_timeout}
    if not rows:
        return Check("workers", "healthy", "no worker reports heartbeats", details)
    if not lost:
        busy = sum(1 for w in rows if w.get("state") == "busy")
        return Check("workers", "healthy",
                     f"{_plural(len(rows), 'worker')} alive ({busy} busy); the quietest was seen "
                     f"{format_duration(rows[0]['age'])} ago", details)
    silent = f"silent for more than {format_duration(settings.worker_timeout)}"
    shown = ", ".join(repr(str(w["id"])) for w in lost[:3])
    if len(lost) == len(rows):
        return Check("workers", "unhealthy",
                     f"every worker is {silent} ({shown}); the last was seen "
                     f"{format_duration(rows[-1]['age'])} ago", details)
    return Check("workers", "degraded",
                 f"{len(lost)} of {_plural(len(rows), 'worker')} {'is' if len(lost) == 1 else 'are'} "
                 f"{silent} ({shown})", details)


def check_periodic(store: Store, settings: HealthSettings, now: float) -> Check:
    """Each declared periodic job against its own schedule and grace: late is degraded, down is
    unhealthy (so a 6-hourly job is judged by 6 hours, not by one global limit)."""
    from jobtrail.periodic import statuses

    found = statuses(store, now)
    details = {"periodic": [st.to_dict() for st in found]}
    if not found:
        return Check("periodic", "healthy", "no periodic jobs are declared", details)
    bad = [st for st in found if st.level != "healthy"]
    if not bad:
        never = sum(1 for st in found if st.state == "never")
        tail = f" ({never} not run yet)" if never else ""
        return Check("periodic", "healthy",
                     f"{_plural(len(found), 'periodic job')}, none late or down{tail}", details)
    level = worst(st.level for st in bad)
    first = next(st for st in bad if st.level == level)
    more = len(bad) - 1
    return Check("periodic", level, f"{first.name!r} is {first.reason}"
                 + (f" (and {more} more late or down)" if more else ""), details)


CheckFn = Callable[[Store, HealthSettings, float], Check]
ALL: Mapping[str, CheckFn] = {
    "store": check_store,
    "queues": check_queues,
    "stalled": check_stalled,
    "workers": check_workers,
    "periodic": check_periodic,
}
"""Every check, in the order a report lists them."""
