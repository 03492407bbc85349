"""Worker heartbeats and periodic declarations waiting to be sent.

Both are registers (the newest value per key wins), so the outbox keeps only the latest value per key
and a value that cannot be delivered now is simply sent again later, unless a newer one replaced it.
Only the writer thread delivers (in its turn), so a caller's thread never waits on a request: a
flush marks what was put so far and waits, bounded, for a turn that delivered it (`delivered`).
After `fork()` the child starts with an empty outbox and a new lock, on its first use there (a lock
the parent's writer thread held at fork would otherwise stay held in the child for good); what the
parent had put is the parent's to send.
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
        self._pending: dict[str, dict[str, dict[str, Any]]] = {}
        self._puts = 0  # values put so far
        self._through = 0  # every value put before this count was delivered
        self._sending = 0  # values a delivery in progress took

    def _forked(self) -> None:
        with reinit_lock():
            if not self._here:
                self._init_state()

    def put(self, kind: str, key: str, value: dict[str, Any]) -> None:
        if not self._here:
            self._forked()
        with self._lock:
            self._pending.setdefault(kind, {})[key] = value
            self._puts += 1

    def mark(self) -> int:
        """A mark for everything put so far, for `delivered`."""
        if not self._here:
            self._forked()
        with self._lock:
            return self._puts

    def delivered(self, mark: int) -> bool:
        """True once every value put before `mark` was delivered (or replaced by a newer one
        that was), not merely taken by a delivery still in progress."""
        if not self._here:
            self._forked()
        return self._through >= mark

    def send(self) -> bool:
        """Deliver what is pending (on the writer thread only); True when nothing is left over."""
        if not self._here:
            self._forked()
        with self._lock:
            batch, self._pending = self._pending, {}
            self._sending = sum(len(v) for v in batch.values())
            puts = self._puts
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
        with self._lock:
            self._sending = 0
            if ok:
                self._through = max(self._through, puts)
        return ok

    @property
    def unsent(self) -> int:
        """Values not delivered yet: pending, or taken by a delivery still in progress."""
        if not self._here:
            self._forked()
        with self._lock:
            return sum(len(v) for v in self._pending.values()) + self._sending

    def __len__(self) -> int:
        if not self._here:
            self._forked()
        with self._lock:
            return sum(len(v) for v in self._pending.values())
