"""Queues and workers now: sizes, oldest queued age, and which workers are busy, idle or silent."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from jobtrail.store.base import Store

__all__ = ["QueueRow", "WorkerRow", "queue_rows", "queues", "workers"]

SILENT_AFTER = 120.0
"""Seconds without a heartbeat after which a worker that has not said it stopped is silent."""


@dataclass(frozen=True, slots=True)
class QueueRow:
    """Jobs queued and running in one queue now; `oldest_queued_age` is how long (seconds) its
    longest-waiting job has been queued, None when nothing is queued."""

    queue: str
    queued: int
    running: int
    oldest_queued_age: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class WorkerRow:
    """One worker's latest heartbeat; `age` is seconds since it, `silent` is True when that is
    past `SILENT_AFTER` and the worker did not say it stopped."""

    id: str
    host: str | None
    pid: int | None
    queues: list[str]
    state: str
    running: int
    last_seen: float
    age: float
    started_at: float | None = None
    silent: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def queue_rows(levels: Iterable[Mapping[str, Any]], now: float) -> list[QueueRow]:
    """Per-(queue, name) levels folded into one row per queue, by queue name."""
    acc: dict[str, list[Any]] = {}
    for level in levels:
        row = acc.setdefault(level["queue"], [0, 0, None])
        row[0] += level["queued"]
        row[1] += level["running"]
        oldest = level["oldest_queued_at"]
        if oldest is not None and (row[2] is None or oldest < row[2]):
            row[2] = oldest
    return [
        QueueRow(queue=q, queued=a, running=b, oldest_queued_age=None if o is None else now - o)
        for q, (a, b, o) in sorted(acc.items())
    ]


def queues(store: Store, now: float | None = None) -> list[QueueRow]:
    """Every queue with jobs queued or running now (from the unfinished rows)."""
    now = time.time() if now is None else now
    return queue_rows(store.queue_levels(), now)


def workers(store: Store, now: float | None = None,
            silent_after: float = SILENT_AFTER) -> list[WorkerRow]:
    """Every worker that has sent a heartbeat, busy ones first, then by id."""
    now = time.time() if now is None else now
    rows = []
    for w in store.workers():
        age = max(0.0, now - w["last_seen"])
        rows.append(WorkerRow(
            id=w["id"],
            host=w.get("host"),
            pid=w.get("pid"),
            queues=list(w.get("queues") or ()),
            state=w["state"],
            running=int(w.get("running") or 0),
            last_seen=w["last_seen"],
            age=age,
            started_at=w.get("started_at"),
            silent=age > silent_after and w["state"] != "stopped",
        ))
    order = {"busy": 0, "idle": 1, "stopped": 2}
    rows.sort(key=lambda r: (r.silent, order.get(r.state, 3), r.id))
    return rows
