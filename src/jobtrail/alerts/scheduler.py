"""The server's background evaluation: a task on the app's event loop that runs the synchronous
`Evaluator.tick` in a worker thread every `interval` seconds, and stops cleanly at shutdown.

Every server process may run one: evaluations take turns in the database and each transition is
stored and delivered once (see `state` and `outbox`), so nothing doubles with more processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from jobtrail.alerts.engine import Evaluator
from jobtrail.alerts.settings import AlertSettings
from jobtrail.store.base import Store

__all__ = ["AlertScheduler", "alerts_running", "start_alerts"]

log = logging.getLogger("jobtrail.alerts")


class AlertScheduler:
    def __init__(self, store: Store, evaluator: Evaluator, interval: float) -> None:
        self.store = store
        self.evaluator = evaluator
        self.interval = interval
        self.ticks = 0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> AlertScheduler:
        """Start on the running event loop (call from the app's lifespan)."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="jobtrail-alerts")
        return self

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await asyncio.to_thread(self.evaluator.tick, self.store)
            except Exception:  # a bad tick (database away) must not end the loop
                log.exception("alert evaluation failed; trying again in %.0f s", self.interval)
            self.ticks += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval)

    async def stop(self) -> None:
        """Stop after the tick in progress (if any) has finished; never leaves a thread writing."""
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None


class _Off:
    async def stop(self) -> None:
        return None


def start_alerts(store: Store, settings: AlertSettings | None = None) -> AlertScheduler | _Off:
    """The scheduler for this store, started, unless alerts are switched off (JOBTRAIL_ALERTS=off)."""
    settings = settings or AlertSettings.from_env()
    if not settings.enabled:
        return _Off()
    evaluator = Evaluator(settings.rules, settings.notifiers(), keep=settings.keep)
    return AlertScheduler(store, evaluator, settings.interval).start()


@contextlib.asynccontextmanager
async def alerts_running(store: Store, settings: AlertSettings | None = None) -> AsyncIterator[None]:
    """Rules evaluated in the background while the block runs (an app's lifespan); stopped after,
    also when the block fails."""
    scheduler = start_alerts(store, settings)
    try:
        yield
    finally:
        await scheduler.stop()
