"""Stalled jobs: started, then silent past the stall timeout. They are marked `lost` with an
ordinary `lost` event through `ingest`, so the order-free merge keeps every guarantee: a later real
heartbeat or end still wins, and marking twice (or from several server processes) changes nothing.

The event's time is deterministic, the last sign of life plus the timeout (the instant the job
became lost), so every process that finds the same stalled job writes the very same event.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from jobtrail.ingest import ingest
from jobtrail.model import JobFilter
from jobtrail.store.base import Record, Store

__all__ = ["MAX_SCAN", "Stalled", "lost_since", "mark_stalled", "stalled"]

MAX_SCAN = 10_000
"""Running jobs read per sweep, per state; the next sweep of the same store goes on from there."""
_PAGE = 500
_resume: weakref.WeakKeyDictionary[Store, dict[str, tuple[float, str] | None]] = (
    weakref.WeakKeyDictionary())
"""Per store, where the last sweep stopped reading each state (absent: start at the newest)."""
# A job flagged for killing shows as kill_requested while it runs; it can stall just the same.
_RUNNING = ("started", "kill_requested")


@dataclass(frozen=True, slots=True)
class Stalled:
    job_id: str
    name: str | None
    last_seen: float
    lost_at: float


def _last_sign(record: Record) -> float | None:
    signs = [t for t in (record.get("started_at"), record.get("heartbeat_at")) if t is not None]
    return max(signs) if signs else None


def stalled(store: Store, timeout: float, now: float) -> Iterator[Stalled]:
    """Running jobs with no sign of life for more than `timeout` seconds, not yet marked lost.

    One state at a time, so each read is a range of the (state, created_at) index: the few running
    jobs, never a scan of the whole table. With more than MAX_SCAN of them a sweep reads MAX_SCAN
    and the next one goes on after them (then starts over at the newest), so the oldest, the
    likeliest to have stalled, are reached too."""
    resume = _resume.setdefault(store, {})
    for state in _RUNNING:
        flt = JobFilter(states=(state,))
        after = resume.pop(state, None)
        seen = 0
        while True:
            if seen >= MAX_SCAN:
                resume[state] = after
                break
            rows = store.find(flt, _PAGE, after)
            for record in rows:
                last = _last_sign(record)
                if last is None or now - last <= timeout:
                    continue
                lost = record.get("lost_at")
                if lost is not None and lost > last:
                    continue  # already marked (a kill-requested job keeps showing kill_requested)
                yield Stalled(record["id"], record.get("name"), last, last + timeout)
            seen += len(rows)
            if len(rows) < _PAGE:
                break
            after = (rows[-1]["created_at"], rows[-1]["id"])


def mark_stalled(store: Store, timeout: float, now: float) -> list[Stalled]:
    """Mark every stalled job `lost` (at the instant it became lost); returns what was marked."""
    found = list(stalled(store, timeout, now))
    events: list[dict[str, Any]] = [
        {"job_id": s.job_id, "type": "lost", "at": s.lost_at} for s in found
    ]
    for start in range(0, len(events), _PAGE):
        ingest(store, events[start:start + _PAGE], now=now)
    return found


def lost_since(store: Store, since: float, now: float) -> dict[str, int]:
    """Jobs that became lost in [since, now] and are still lost, per job name (roll-ups: no scan)."""
    out: dict[str, int] = {}
    for _t, name, _queue, _metric, n in store.rollup_counts(
        since, now + 60, metrics=("entered:lost",), step=60
    ):
        if n:
            out[name] = out.get(name, 0) + n
    return {k: v for k, v in out.items() if v > 0}
