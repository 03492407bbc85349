"""Worker heartbeats and periodic declarations waiting to be sent.

Both are registers (the newest value per key wins), so the outbox keeps only the latest value per key
and a value that cannot be delivered now is simply sent again later, unless a newer one replaced it.
After `fork()` the child starts with an empty outbox and new locks, on its first use there (a lock
the parent's writer thread held while sending would otherwise stay held in the child for good);
what the parent had put is the parent's to send.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from jobtrail.forks import process_flag, reinit_lock

__all__ = ["Outbox"]

Deliver = Callable[[str, list[dict[str, Any]]], None]


class Outbox:
    def __init__(self, deliver: Deliver, on_error: Callable[[str, Exception], None]) -> None:
        self._deliver = deliver
        self._on_error = on_error
        self._init_state()

    def _init_state(self) -> None:
        self._here = process_flag()  # emptied in a forked child: `_forked()` starts over there
        self._lock = threading.Lock()
        self._sending = threading.Lock()
        self._pending: dict[str, dict[str, dict[str, Any]]] = {}

    def _forked(self) -> None:
        with reinit_lock():
            if not self._here:
                self._init_state()

    def put(self, kind: str, key: str, value: dict[str, Any]) -> None:
        if not self._here:
            self._forked()
        with self._lock:
            self._pending.setdefault(kind, {})[key] = value

    def send(self, timeout: float) -> bool:
        """Deliver what is pending; True when nothing is left over. A delivery in progress on
        another thread (the writer's) is waited for first, up to `timeout` seconds (False if it
        is still running): so True means that everything put before this call has been
        delivered, not merely taken by that thread."""
        if not self._here:
            self._forked()
        if not self._sending.acquire(timeout=max(timeout, 0)):
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
        if not self._here:
            self._forked()
        with self._lock:
            return sum(len(v) for v in self._pending.values())
