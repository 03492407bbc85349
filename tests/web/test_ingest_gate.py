"""One ingest at a time per server process on SQLite (`Store.parallel_writes`), where two threads
only pass the GIL back and forth; PostgreSQL keeps writing from several threads at once."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from jobtrail.config import Settings
from jobtrail.model import JobFilter
from jobtrail.store import open_store
from jobtrail.store.base import Store
from jobtrail.web import asgi_app
from jobtrail.web.gate import IngestGate

from .conftest import INGEST, TOKENS, Serve

SENDERS = 4


class WatchedStore:
    """A real store that records how many `update` calls run at once; with `meet`, each of the
    first two calls waits until the other has started (it times out if they run one by one)."""

    def __init__(self, store: Store, meet: bool) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._meeting = threading.Barrier(2, timeout=10) if meet else None
        self.inside = 0
        self.most = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def update(self, *args: Any) -> Any:
        with self._lock:
            self.inside += 1
            self.most = max(self.most, self.inside)
        try:
            if self._meeting is not None and not self._meeting.broken:
                self._meeting.wait()
            time.sleep(0.02)  # long enough for the other senders' requests to arrive meanwhile
            return self._store.update(*args)
        finally:
            with self._lock:
                self.inside -= 1


def _send_at_once(serve: Serve, store: WatchedStore) -> list[int]:
    live = serve(asgi_app(store, Settings(tokens=TOKENS)))  # type: ignore[arg-type]
    client = live.client(INGEST)

    def post(sender: int) -> int:
        events = [{"job_id": f"s{sender}-{i}", "type": "queued", "at": time.time(), "name": "gate"}
                  for i in range(50)]
        response = client.post("/api/v1/events", json={"events": events})
        assert response.status_code == 200, response.text
        return int(response.json()["accepted"])

    with ThreadPoolExecutor(SENDERS) as pool:
        return list(pool.map(post, range(SENDERS)))


def _most_updates_at_once(serve: Serve, url: str, meet: bool) -> tuple[bool, int]:
    """Every sender's batch accepted and stored; the store's `parallel_writes`, and the most
    `update` calls that ran at once."""
    real = open_store(url)
    try:
        watched = WatchedStore(real, meet=meet)
        assert _send_at_once(serve, watched) == [50] * SENDERS
        assert real.count(JobFilter()) == 50 * SENDERS
        return real.parallel_writes, watched.most
    finally:
        real.close()


def test_sqlite_ingests_one_batch_at_a_time_and_stores_them_all(serve: Serve, sqlite_url: str) -> None:
    parallel, most = _most_updates_at_once(serve, sqlite_url, meet=False)
    assert parallel is False
    assert most == 1


def test_postgres_ingests_batches_side_by_side(serve: Serve, pg_url: str) -> None:
    parallel, most = _most_updates_at_once(serve, pg_url, meet=True)
    assert parallel is True
    assert most >= 2  # the first two met inside update


async def _most_at_once(gate: IngestGate, entrants: int = 3) -> int:
    inside = most = 0

    async def one() -> None:
        nonlocal inside, most
        async with gate:
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.01)
            inside -= 1

    await asyncio.gather(*(one() for _ in range(entrants)))
    return most


def test_a_serial_gate_admits_one_at_a_time_in_each_loop_that_serves_the_app_in_turn() -> None:
    """Test clients serve one app from one loop, then another: a single asyncio lock would stay
    bound to the first and fail in the second."""
    gate = IngestGate(parallel=False)
    assert [asyncio.run(_most_at_once(gate)) for _ in range(2)] == [1, 1]


def test_a_parallel_gate_admits_everyone() -> None:
    assert asyncio.run(_most_at_once(IngestGate(parallel=True))) == 3
