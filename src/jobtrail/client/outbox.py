"""Worker heartbeats and periodic declarations waiting to be sent.

Both are registers (the newest value per key wins), so the outbox keeps only the latest value per key
and a value that cannot be delivered now is simply sent again later, unless a newer one replaced it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

__all__ = ["Outbox"]

Deliver = Callable[[str, list[dict[str, Any]]], None]


class Outbox:
    def __init__(self, deliver: Deliver, on_error: Callable[[str, Exception], None]) -> None:
        self._deliver = deliver
        self._on_error = on_error
        self._lock = threading.Lock()
        self._sending = threading.Lock()
        self._pending: dict[str, dict[str, dict[str, Any]]] = {}

    def put(self, kind: str, key: str, value: dict[str, Any]) -> None:
        with self._lock:
            self._pending.setdefault(kind, {})[key] = value

    def send(self, timeout: float = -1) -> bool:
        """Deliver what is pending; True when nothing is left over. A delivery in progress on
        another thread (the writer's) is waited for first, up to `timeout` seconds (-1: no
        limit; False if it is still running): so True means that everything put before this call
        has been delivered, not merely taken by that thread."""
        if not self._sending.acquire(timeout=timeout):
            return False
        try:
            with self._lock:
                batch, self._pending = self._pending, {}
            ok = True
            for kind, items in batch.items():
                try:
                    self._deliver(kind, list(items.values()))
                except Exception as exc:  # noqa: BLE001 - never raises into the job; retried later
                    ok = False
                    self._on_error(kind, exc)
                    with self._lock:
                        newer = self._pending.setdefault(kind, {})
                        for key, value in items.items():
                            newer.setdefault(key, value)
            return ok
        finally:
            self._sending.release()

    def __len__(self) -> int:
        with self._lock:
            return sum(len(v) for v in self._pending.values())
