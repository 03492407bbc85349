"""Job states and the order-free merge of events into a job record.

`merge(record, event)` is a join: every field combines by a commutative, idempotent rule, so any
permutation of a job's events, with duplicates, yields the same record.

- timestamps of entering a state: the earliest; `heartbeat_at` and `lost_at`: the latest;
- an attempt ends once: among its end events (retrying, succeeded, failed, killed, cancelled) the
  earliest wins, ties broken by a fixed rank; a late heartbeat never reopens it;
- scalar fields (name, queue, args, worker, progress, ...) are last-writer-wins registers ordered by
  (event time, hash of value), `clock` holding each one's time; labels per key; resources a set union;
- `state` is derived from those facts, never stored as a transition, so it cannot depend on order.

Records are plain JSON-able dicts because the store persists them as-is; `model.Job` is the typed
view that readers get.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

__all__ = [
    "ACTIVE",
    "END_STATES",
    "EVENT_TYPES",
    "STATES",
    "TERMINAL",
    "apply",
    "copy_record",
    "derive",
    "merge",
    "new_record",
]

STATES = (
    "scheduled",
    "queued",
    "started",
    "retrying",
    "succeeded",
    "failed",
    "killed",
    "cancelled",
    "lost",
    "kill_requested",
)
TERMINAL = frozenset({"succeeded", "failed", "killed", "cancelled"})
"""States a job never leaves."""
END_STATES = TERMINAL | {"retrying"}
"""States that end one attempt (retrying: another attempt will follow)."""
ACTIVE = frozenset({"scheduled", "queued", "started", "retrying", "lost", "kill_requested"})
EVENT_TYPES = frozenset(
    {
        "scheduled",
        "queued",
        "started",
        "heartbeat",
        "progress",
        "retrying",
        "succeeded",
        "failed",
        "killed",
        "cancelled",
        "kill_requested",
        "lost",
    }
)
# When two end events of one attempt carry the same time, the lower rank wins.
_END_RANK = {"killed": 0, "failed": 1, "succeeded": 2, "cancelled": 3, "retrying": 4}
_REGISTERS = frozenset({"name", "queue", "batch", "args", "worker", "result", "keep", "progress"})
_ACTIVITY = frozenset({"started", "heartbeat", "progress"})


def new_record(job_id: str) -> dict[str, Any]:
    """The empty record a job's first event is merged into."""
    return {
        "id": job_id,
        "name": None,
        "queue": None,
        "batch": None,
        "args": None,
        "worker": None,
        "result": None,
        "keep": None,
        "progress": None,
        "labels": {},
        "resources": [],
        "created_at": None,
        "updated_at": None,
        "scheduled_at": None,
        "heartbeat_at": None,
        "kill_requested_at": None,
        "lost_at": None,
        "attempts": {},
        "clock": {},
    }


def merge(record: dict[str, Any] | None, event: dict[str, Any]) -> dict[str, Any]:
    """The record after `event`; pure: neither argument is changed. Events are validated dicts."""
    base = new_record(event["job_id"]) if record is None else copy_record(record)
    apply(base, event)
    return derive(base)


def copy_record(record: dict[str, Any]) -> dict[str, Any]:
    """A copy deep enough that applying events to it leaves `record` unchanged."""
    out = dict(record)
    out["labels"] = dict(record["labels"])
    out["resources"] = list(record["resources"])
    out["attempts"] = {k: dict(v) for k, v in record["attempts"].items()}
    out["clock"] = dict(record["clock"])
    return out


def value_hash(value: Any) -> int:
    """A stable hash of a field's value: the tie-break between two writes at the same instant."""
    if isinstance(value, str):
        return zlib.crc32(value.encode())
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return zlib.crc32(text.encode())


def _newer(at: float, value: Any, stored_at: float | None, stored: Any) -> bool:
    """Last writer wins: the later write, or at the same instant the larger value hash."""
    if stored_at is None or at > stored_at:
        return True
    return at == stored_at and value != stored and value_hash(value) > value_hash(stored)


def _min(a: float | None, b: float) -> float:
    return b if a is None or b < a else a


def _max(a: float | None, b: float) -> float:
    return b if a is None or b > a else a


def apply(record: dict[str, Any], event: dict[str, Any]) -> None:
    """Merge `event` into `record` in place (the store's hot path); call `derive` afterwards."""
    at: float = event["at"]
    kind: str = event["type"]
    record["created_at"] = _min(record["created_at"], at)
    record["updated_at"] = _max(record["updated_at"], at)
    clock = record["clock"]
    for field in _REGISTERS.intersection(event):
        value = event[field]
        if value is not None and _newer(at, value, clock.get(field), record[field]):
            clock[field] = at
            record[field] = value
    labels = event.get("labels")
    if labels:
        current = record["labels"]
        for key, value in labels.items():
            ckey = "labels." + key
            if _newer(at, value, clock.get(ckey), current.get(key)):
                clock[ckey] = at
                current[key] = value
    resources = event.get("resources")
    if resources:
        record["resources"] = sorted(set(record["resources"]).union(resources))

    if kind in _ACTIVITY:
        record["heartbeat_at"] = _max(record["heartbeat_at"], at)
    if kind == "kill_requested":
        record["kill_requested_at"] = _min(record["kill_requested_at"], at)
        return
    if kind == "lost":
        record["lost_at"] = _max(record["lost_at"], at)
        return
    if kind == "scheduled":
        record["scheduled_at"] = _min(record["scheduled_at"], at)
        return
    if kind in ("heartbeat", "progress"):
        return
    key = str(event.get("attempt") or 1)
    attempt = record["attempts"].get(key)
    if attempt is None:
        attempt = record["attempts"][key] = {}
    if kind == "queued":
        attempt["queued_at"] = _min(attempt.get("queued_at"), at)
    elif kind == "started":
        # The earliest start wins; among starts at that same instant, the smallest worker name.
        started, worker = attempt.get("started_at"), event.get("worker")
        if started is None or at < started:
            attempt["started_at"] = at
            attempt.pop("worker", None)
            started = at
        current_worker = attempt.get("worker")
        if at == started and worker is not None and (current_worker is None or worker < current_worker):
            attempt["worker"] = worker
    else:  # an end state
        # The earliest end wins; at the same instant the first in _END_RANK, then the smaller
        # error hash (hashed only for that last tie, since it encodes the error as JSON).
        error = event.get("error")
        current = attempt.get("ended_at")
        if current is None or (at, _END_RANK[kind]) < (current, _END_RANK[attempt["end"]]) or (
            at == current and kind == attempt["end"]
            and value_hash(error) < value_hash(attempt.get("error"))
        ):
            attempt["ended_at"] = at
            attempt["end"] = kind
            if error is not None:
                attempt["error"] = error
            else:
                attempt.pop("error", None)


def derive(record: dict[str, Any]) -> dict[str, Any]:
    """Fill the derived fields (state, attempt, per-state times, wait, run, error); returns record."""
    attempts = record["attempts"]
    numbers = [1] if len(attempts) == 1 and "1" in attempts else sorted(int(k) for k in attempts)
    n = numbers[-1] if numbers else 1
    current = attempts.get(str(n), {})
    queued = [a["queued_at"] for a in attempts.values() if a.get("queued_at") is not None]
    record["attempt"] = n
    record["queue"] = record["queue"] or "default"
    record["queued_at"] = min(queued) if queued else None
    record["started_at"] = current.get("started_at")
    end = current.get("end")
    record["finished_at"] = current["ended_at"] if end in TERMINAL else None
    error = None
    for k in reversed(numbers):
        if attempts[str(k)].get("error") is not None:
            error = attempts[str(k)]["error"]
            break
    record["error"] = error

    if end is not None:
        state = end
    elif current.get("started_at") is not None or (
        record["heartbeat_at"] is not None and not queued and record["scheduled_at"] is None
    ):
        state = "started"
        last_sign = max(
            t for t in (current.get("started_at"), record["heartbeat_at"]) if t is not None
        )
        if record["lost_at"] is not None and record["lost_at"] > last_sign:
            state = "lost"
    elif current.get("queued_at") is not None or queued:
        state = "queued"
    elif record["scheduled_at"] is not None:
        state = "scheduled"
    else:
        state = "queued"
    if record["kill_requested_at"] is not None and state not in TERMINAL:
        state = "kill_requested"
    record["state"] = state
    record["wait"], record["run"] = _durations(attempts, numbers)
    return record


def _durations(
    attempts: dict[str, dict[str, Any]], numbers: list[int]
) -> tuple[float | None, float | None]:
    """Wait of the latest attempt that started; run of the latest attempt that ended after starting."""
    wait = run = None
    for k in reversed(numbers):
        a = attempts[str(k)]
        started = a.get("started_at")
        if started is None:
            continue
        if wait is None:
            queued = attempt_queued_at(attempts, k)
            if queued is not None:
                wait = max(0.0, started - queued)
        if run is None and a.get("ended_at") is not None:
            run = max(0.0, a["ended_at"] - started)
        if wait is not None and run is not None:
            break
    return wait, run


def attempt_queued_at(attempts: dict[str, dict[str, Any]], n: int) -> float | None:
    """When attempt n became ready to run: its own queued time, else the end of the attempt before."""
    a = attempts.get(str(n), {})
    if a.get("queued_at") is not None:
        return float(a["queued_at"])
    previous = attempts.get(str(n - 1))
    if previous is not None and previous.get("end") == "retrying":
        return float(previous["ended_at"])
    return None
