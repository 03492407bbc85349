"""The server's stall sweep: it marks stalled jobs on its own schedule, survives a database that
stops answering (logging once, not every turn), and stops with the app."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Coroutine
from typing import Any

import pytest

from jobtrail.health import HealthSettings
from jobtrail.health.sweeper import stall_sweeper
from jobtrail.ingest import ingest
from jobtrail.store import open_store
from jobtrail.store.base import Store


def _run(coroutine: Coroutine[Any, Any, None]) -> None:
    """`asyncio.run` on a thread of its own: in one pytest process the browser tests' Playwright
    keeps an event loop running on the main thread, where `asyncio.run` refuses to start."""
    failure: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(coroutine)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            failure.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


def test_the_sweep_marks_a_stalled_job_without_anyone_asking(store: Store) -> None:
    ingest(store, [{"job_id": "j", "type": "started", "at": time.time() - 10, "name": "n"}])

    async def serve_a_while() -> None:
        async with stall_sweeper(store, HealthSettings(stall_timeout=1, stall_sweep_interval=0.05)):
            for _ in range(100):
                await asyncio.sleep(0.05)
                if store.get("j")["state"] == "lost":  # type: ignore[index]
                    return

    _run(serve_a_while())
    assert store.get("j")["state"] == "lost"  # type: ignore[index]


def test_a_failing_sweep_is_logged_once_and_the_loop_goes_on(caplog: pytest.LogCaptureFixture
                                                             ) -> None:
    broken = open_store("postgresql://postgres@127.0.0.1:1/nowhere?connect_timeout=1",
                        migrate=False)

    async def serve_a_while() -> None:
        async with stall_sweeper(broken, HealthSettings(stall_sweep_interval=0.02)):
            await asyncio.sleep(0.5)

    try:
        with caplog.at_level(logging.WARNING, logger="jobtrail.health"):
            _run(serve_a_while())
    finally:
        broken.close()
    warnings = [r for r in caplog.records if "marking stalled jobs failed" in r.getMessage()]
    assert len(warnings) == 1


def test_an_interval_of_zero_turns_the_sweep_off(store: Store) -> None:
    ingest(store, [{"job_id": "j", "type": "started", "at": time.time() - 10, "name": "n"}])

    async def serve_a_while() -> None:
        async with stall_sweeper(store, HealthSettings(stall_timeout=1, stall_sweep_interval=0)):
            await asyncio.sleep(0.3)

    _run(serve_a_while())
    assert store.get("j")["state"] == "started"  # type: ignore[index]


def test_leaving_waits_for_the_sweep_in_progress(store: Store, monkeypatch: pytest.MonkeyPatch
                                                 ) -> None:
    """A sweep's thread holds a pooled connection: the store must not be closed under it."""
    from jobtrail.health import sweeper

    started, finished = threading.Event(), threading.Event()

    def slow_sweep(*args: Any) -> list[Any]:
        started.set()
        time.sleep(0.3)
        finished.set()
        return []

    monkeypatch.setattr(sweeper, "mark_stalled", slow_sweep)

    async def leave_mid_sweep() -> None:
        async with stall_sweeper(store, HealthSettings(stall_sweep_interval=0.01)):
            while not started.is_set():
                await asyncio.sleep(0.005)
        assert finished.is_set(), "the context closed while a sweep was still running"

    _run(leave_mid_sweep())
