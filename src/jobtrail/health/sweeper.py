"""The server's own stall sweep: every few seconds it marks stalled jobs `lost`, so nobody has to
ask for a health report first. Several server processes may sweep at once: the marks are
deterministic events, so the second one changes nothing."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator

from jobtrail.health.settings import HealthSettings
from jobtrail.health.stalled import mark_stalled
from jobtrail.store.base import Store

__all__ = ["stall_sweeper", "sweep_forever"]

log = logging.getLogger("jobtrail.health")


async def sweep_forever(store: Store, settings: HealthSettings,
                        stop: asyncio.Event | None = None) -> None:
    """Mark stalled jobs every `stall_sweep_interval` (± 10 % jitter, so processes spread out)
    until `stop` is set. Failures are logged once per kind and retried on the next turn."""
    interval = settings.stall_sweep_interval
    stop = stop or asyncio.Event()
    last_error = ""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval * random.uniform(0.9, 1.1))
            return
        try:
            marked = await asyncio.to_thread(mark_stalled, store, settings.stall_timeout,
                                             time.time())
        except Exception as exc:  # noqa: BLE001 - a sweep that fails must not stop the server
            if type(exc).__name__ != last_error:
                log.warning("jobtrail: marking stalled jobs failed: %s", exc)
            last_error = type(exc).__name__
            continue
        last_error = ""
        if marked:
            log.info("jobtrail: marked %d stalled job(s) lost", len(marked))


@contextlib.asynccontextmanager
async def stall_sweeper(store: Store, settings: HealthSettings | None = None) -> AsyncIterator[None]:
    """Run `sweep_forever` while the context is open (the ASGI lifespan); an interval of 0 turns
    it off."""
    settings = settings or HealthSettings.from_env()
    if settings.stall_sweep_interval <= 0:
        yield
        return
    stop = asyncio.Event()
    task = asyncio.create_task(sweep_forever(store, settings, stop), name="jobtrail-stall-sweeper")
    try:
        yield
    finally:
        # Stop after the sweep in progress, as the alert scheduler does: cancelling would leave its
        # thread writing with a pooled connection after the store is closed.
        stop.set()
        await task
