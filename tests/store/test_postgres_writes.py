"""PostgreSQL writers at once: the current-state counters stay exact, compactions never fail or
move the minute horizon back.

Each race is staged, not left to timing: a writer is stopped mid-transaction (inside its `change`,
or at a row that an outside transaction holds), the second writer starts, and the first goes on
once the second is seen waiting for a lock (`pg_stat_activity`) or has finished.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest

from jobtrail.ingest import ingest
from jobtrail.model import JobFilter
from jobtrail.rollup import Delta
from jobtrail.store.base import Record
from jobtrail.store.sql import rollups
from jobtrail.store.sql.store import SqlStore

pytestmark = pytest.mark.postgres

T0 = 1_700_000_000.0
NOW = T0 + 3600
DAY = 86400
TIMEOUT = 10.0  # seconds for a staged writer to reach its lock or finish


class Watched:
    """A store on its own schema whose connections carry a name, so their lock waits are seen."""

    def __init__(self, pg_url: str) -> None:
        self.app = f"jt_{uuid.uuid4().hex[:12]}"
        self.url = f"{pg_url}&application_name={self.app}"
        self.store = SqlStore(self.url)
        self.admin = psycopg.connect(self.url, autocommit=True)

    def waiting(self) -> int:
        """How many of the store's connections are waiting for a lock."""
        row = self.admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
            " AND wait_event_type = 'Lock'", (self.app,)).fetchone()
        return 0 if row is None else int(row[0])

    def wait_until(self, done: Callable[[], bool]) -> None:
        deadline = time.monotonic() + TIMEOUT
        while not done():
            assert time.monotonic() < deadline, "a staged writer neither waited nor finished"
            time.sleep(0.01)

    @contextmanager
    def row_held(self, job_id: str) -> Iterator[None]:
        """An outside transaction holds `job_id`'s row until the block ends."""
        with psycopg.connect(self.url) as holder:
            holder.execute("SELECT id FROM jobs WHERE id = %s FOR UPDATE", (job_id,))
            yield
            holder.rollback()

    def counts_match_rows(self) -> None:
        with self.store.engine.connect() as conn:
            rows = {s: int(n) for s, n in conn.exec_driver_sql(
                "SELECT state, count(*) FROM jobs GROUP BY state")}
        assert self.store.counts(JobFilter(), "state") == rows
        assert self.store.count(JobFilter()) == sum(rows.values())


@pytest.fixture
def pg(pg_url: str) -> Iterator[Watched]:
    watched = Watched(pg_url)
    try:
        yield watched
    finally:
        watched.admin.close()
        watched.store.close()


class Paused:
    """Wraps a store so that its next `update` stops inside `change` (the job locked and read)
    until `go` is set."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self.inside, self.go = threading.Event(), threading.Event()

    def update(self, job_ids: Any, change: Any) -> Mapping[str, Record]:
        def paused(current: Mapping[str, Record]) -> tuple[Mapping[str, Record], Delta]:
            self.inside.set()
            assert self.go.wait(TIMEOUT)
            result: tuple[Mapping[str, Record], Delta] = change(current)
            return result

        return self.store.update(job_ids, paused)


def _in_thread(work: Callable[[], Any], out: dict[str, Any], key: str) -> threading.Thread:
    """Start `work`; its result lands in `out[key]` (an exception fails the test via pytest's
    unhandled-thread-exception warning, an error here)."""

    def run() -> None:
        out[key] = work()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_delete_during_an_update_of_the_job_waits_and_deletes_what_it_wrote(pg: Watched) -> None:
    # Given job a queued, and its start being written (stopped with a read, mid-transaction)
    ingest(pg.store, [{"job_id": "a", "type": "queued", "at": T0, "name": "n"}], now=NOW)
    paused, out = Paused(pg.store), {}
    started = [{"job_id": "a", "type": "started", "at": T0 + 5}]
    update = _in_thread(lambda: ingest(paused, started, now=NOW), out, "update")  # type: ignore[arg-type]
    assert paused.inside.wait(TIMEOUT)
    # When the job is deleted meanwhile
    delete = _in_thread(lambda: pg.store.delete(["a"]), out, "delete")
    pg.wait_until(lambda: pg.waiting() > 0 or not delete.is_alive())
    paused.go.set()
    update.join(TIMEOUT)
    delete.join(TIMEOUT)
    # Expect the delete to wait for the update and delete the started job: no counter left over
    assert out["update"].accepted == 1
    assert out["delete"] == 1
    assert pg.store.get("a") is None
    pg.counts_match_rows()


def test_two_deletes_of_one_job_at_once_lower_its_counter_once(pg: Watched) -> None:
    # Given jobs a and b succeeded, and a delete of a stopped at a's row, mid-transaction
    ingest(pg.store, [{"job_id": "a", "type": "succeeded", "at": T0, "name": "n"},
                      {"job_id": "b", "type": "succeeded", "at": T0, "name": "n"}], now=NOW)
    out: dict[str, Any] = {}
    with pg.row_held("a"):
        first = _in_thread(lambda: pg.store.delete(["a"]), out, "first")
        pg.wait_until(lambda: pg.waiting() == 1)
        # When a second sweep deletes the same job meanwhile
        second = _in_thread(lambda: pg.store.delete(["a"]), out, "second")
        pg.wait_until(lambda: pg.waiting() == 2)
    first.join(TIMEOUT)
    second.join(TIMEOUT)
    # Expect one of them to delete it and a's counter lowered once: b is still counted
    assert (out["first"], out["second"]) == (1, 0)
    pg.counts_match_rows()
    assert pg.store.count(JobFilter()) == 1


def _horizon(store: SqlStore) -> float:
    with store.engine.connect() as conn:
        return rollups.minute_horizon(conn)


@pytest.mark.parametrize("first", [True, False], ids=["first-compaction", "later-compaction"])
def test_a_compaction_overlapping_another_keeps_the_later_horizon(pg: Watched, first: bool) -> None:
    # Given another compaction that has written a later horizon and not committed yet
    ingest(pg.store, [{"job_id": "a", "type": "queued", "at": T0, "name": "n"}], now=NOW)
    if not first:
        pg.store.compact(T0 + DAY)
    later = T0 // 3600 * 3600 + 3 * DAY
    out: dict[str, Any] = {}
    with psycopg.connect(pg.url) as other:
        other.execute(
            "INSERT INTO jobtrail_meta (key, value) VALUES ('minute_horizon', %s)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value", (repr(later),))
        # When this one, with an earlier cut-off, runs meanwhile
        compact = _in_thread(lambda: pg.store.compact(T0 + 2 * DAY), out, "compact")
        pg.wait_until(lambda: pg.waiting() > 0 or not compact.is_alive())
        other.commit()
    compact.join(TIMEOUT)
    # Expect it to succeed and the horizon to stay at the other's later one
    assert out["compact"] >= 0
    assert _horizon(pg.store) == later
