"""SQLite writers change their jobs outside the write lock; a commit in between is never lost.

`SqlStore.update` reads the jobs and calls `change` before it takes SQLite's write lock, so several
processes merge in parallel. These tests commit another writer's events at exactly that moment (from
inside `change`) and expect the result of applying both, in the records and in the roll-ups.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jobtrail.ingest import ingest
from jobtrail.rollup import Delta
from jobtrail.store.base import Record
from jobtrail.store.sql.store import SqlStore
from store.conftest import rollup_snapshot

T0 = 1_700_000_000.0
NOW = T0 + 3600
QUEUED = {"job_id": "a", "type": "queued", "at": T0, "name": "n"}
STARTED = {"job_id": "a", "type": "started", "at": T0 + 5}
SUCCEEDED = {"job_id": "a", "type": "succeeded", "at": T0 + 65}


class Interrupted:
    """Wraps a store so the first `change` of an update first lets another store commit `events`."""

    def __init__(self, store: SqlStore, other: SqlStore, events: list[dict[str, Any]]) -> None:
        self.store, self.other, self.events = store, other, events
        self.calls = 0

    def update(self, job_ids: Any, change: Any) -> Mapping[str, Record]:
        def interrupted(current: Mapping[str, Record]) -> tuple[Mapping[str, Record], Delta]:
            self.calls += 1
            if self.events:
                ingest(self.other, self.events, now=NOW)
                self.events = []
            result: tuple[Mapping[str, Record], Delta] = change(current)
            return result

        return self.store.update(job_ids, interrupted)


def _stores(tmp_path: Path, name: str) -> tuple[SqlStore, SqlStore]:
    url = f"sqlite:///{tmp_path / name}"
    return SqlStore(url), SqlStore(url)


def test_a_job_committed_by_another_writer_meanwhile_is_merged_not_overwritten(tmp_path: Path) -> None:
    # Given job a queued, and a writer about to add its success
    mine, other = _stores(tmp_path, "race.db")
    ingest(mine, [QUEUED], now=NOW)
    racing = Interrupted(mine, other, [STARTED])
    # When another writer commits its start while the success is being merged
    ingest(racing, [SUCCEEDED], now=NOW)  # type: ignore[arg-type]
    # Expect the change made again from the committed row: queued, started and succeeded all kept
    record = mine.get("a")
    assert record is not None
    assert (record["state"], record["wait"], record["run"]) == ("succeeded", 5.0, 60.0)
    assert racing.calls == 2
    # And the roll-ups equal those of the same events written one after the other
    calm, _ = _stores(tmp_path, "calm.db")
    for event in (QUEUED, STARTED, SUCCEEDED):
        ingest(calm, [event], now=NOW)
    assert rollup_snapshot(mine) == rollup_snapshot(calm)
    for store in (mine, other, calm):
        store.close()


def test_a_commit_to_other_jobs_meanwhile_keeps_the_change_already_made(tmp_path: Path) -> None:
    # Given job a queued
    mine, other = _stores(tmp_path, "other.db")
    ingest(mine, [QUEUED], now=NOW)
    racing = Interrupted(mine, other, [{"job_id": "b", "type": "queued", "at": T0, "name": "n"}])
    # When another writer commits a different job while a's start is being merged
    ingest(racing, [STARTED], now=NOW)  # type: ignore[arg-type]
    # Expect a's rows unchanged since they were read: the first change is written as it is
    assert racing.calls == 1
    a, b = mine.get("a"), mine.get("b")
    assert a is not None and b is not None
    assert (a["state"], b["state"]) == ("started", "queued")
    assert rollup_snapshot(mine)["counts/60"][(int(T0 // 60 * 60), "n", "default", "entered:queued")] == 2
    mine.close()
    other.close()
