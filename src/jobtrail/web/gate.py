"""One ingest at a time in this process, where the store gains nothing from more (SQLite)."""

from __future__ import annotations

import asyncio
import weakref
from types import TracebackType

__all__ = ["IngestGate"]


class IngestGate:
    """An asyncio lock per event loop: requests wait on the loop, keeping the threadpool's threads
    free for other routes. Per loop, because an asyncio lock belongs to the first loop that waits
    on it, and one app may be served by several loops in turn (test clients, a user's own app).
    With `parallel` True (PostgreSQL: `Store.parallel_writes`) it admits everyone."""

    def __init__(self, parallel: bool) -> None:
        self.parallel = parallel
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary())

    def _lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        return lock

    async def __aenter__(self) -> None:
        if not self.parallel:
            await self._lock().acquire()

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if not self.parallel:
            self._lock().release()
