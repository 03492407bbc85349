"""Worker heartbeats: which worker processes exist, what they listen to, and whether they are busy.

A heartbeat is a register per worker id (the newest wins), so the client sends only the latest one
and may drop a beat it cannot deliver: the next one replaces it.
"""

from __future__ import annotations

import math
import os
import socket
import time
from collections.abc import Iterable, Mapping
from typing import Any

from jobtrail.errors import InvalidInput

__all__ = ["STATES", "beat"]

STATES = ("busy", "idle", "stopped")
MAX_TEXT = 200


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT or "\x00" in value:
        raise InvalidInput(f"worker {what} must be a non-empty string of at most {MAX_TEXT} characters")
    return value


def beat(
    worker_id: str | None = None,
    *,
    queues: Iterable[str] = (),
    running: int = 0,
    state: str | None = None,
    host: str | None = None,
    pid: int | None = None,
    at: float | None = None,
) -> dict[str, Any]:
    """A validated heartbeat; the id defaults to `host:pid`, the state to busy when running > 0."""
    host = _text(host if host is not None else socket.gethostname(), "host")
    if pid is None and worker_id is None:
        pid = os.getpid()
    if pid is not None and (isinstance(pid, bool) or not isinstance(pid, int) or pid < 0):
        raise InvalidInput("worker pid must be a non-negative integer")
    if isinstance(running, bool) or not isinstance(running, int) or running < 0:
        raise InvalidInput("worker running must be a non-negative integer")
    state = state if state is not None else ("busy" if running else "idle")
    if state not in STATES:
        raise InvalidInput(f"worker state must be one of {', '.join(STATES)}, got {state!r}")
    if isinstance(queues, str | bytes):
        raise InvalidInput("worker queues must be a list of names")
    queue_list = sorted({_text(q, "queue") for q in queues})
    at = time.time() if at is None else at
    if isinstance(at, bool) or not isinstance(at, int | float) or not math.isfinite(at):
        raise InvalidInput("worker at must be Unix seconds")
    return {
        "id": _text(worker_id if worker_id is not None else f"{host}:{pid}", "id"),
        "host": host,
        "pid": pid,
        "queues": queue_list,
        "state": state,
        "running": running,
        "at": float(at),
    }


def from_json(raw: Mapping[str, Any], now: float) -> dict[str, Any]:
    """A heartbeat sent over the API; `at` defaults to the server's clock, and may not be in the
    future by more than a minute (a worker clock that is off would keep it "seen" forever)."""
    if not isinstance(raw, Mapping):
        raise InvalidInput("a worker heartbeat must be an object")
    unknown = set(raw) - {"id", "host", "pid", "queues", "running", "state", "at"}
    if unknown:
        raise InvalidInput(f"unknown worker fields: {', '.join(sorted(unknown))}")
    if "host" not in raw:
        raise InvalidInput("a worker heartbeat needs a host")
    at = raw.get("at", now)
    if isinstance(at, int | float) and not isinstance(at, bool) and at > now + 60:
        raise InvalidInput("worker at is more than a minute in the future")
    return beat(raw.get("id"), queues=raw.get("queues") or (), running=raw.get("running", 0),
                state=raw.get("state"), host=raw["host"], pid=raw.get("pid"), at=at)
