"""The series-id cache a store's threads share: an id is published only by the commit of the
transaction that made it (a real SQLite file; SQLite reuses the number of a rolled-back row)."""

from __future__ import annotations

import threading
from pathlib import Path

import sqlalchemy as sa

from jobtrail.store.sql.rollups import SeriesCache
from jobtrail.store.sql.store import SqlStore

NEW = ("imports.run", "default")
OTHER = ("exports.run", "default")


def test_another_threads_commit_does_not_publish_an_id_still_in_a_transaction(tmp_path: Path) -> None:
    # Given a store's engine, one cache, and a thread that made a new series id and has not
    # committed yet
    engine = SqlStore(f"sqlite:///{tmp_path / 'series.db'}").engine
    cache = SeriesCache()
    made, go_on = threading.Event(), threading.Event()
    seen: dict[str, int] = {}

    def writer_that_rolls_back() -> None:
        with engine.connect() as conn:
            transaction = conn.begin()
            seen["id"] = cache.resolve(conn, [NEW])[NEW]
            made.set()
            go_on.wait(10)
            transaction.rollback()
        cache.rollback()

    thread = threading.Thread(target=writer_that_rolls_back)
    thread.start()
    assert made.wait(10)
    # When another thread commits its own transaction meanwhile, then the first one rolls back
    cache.commit()
    go_on.set()
    thread.join(10)
    # Expect the rolled-back id never cached; the next new series may get that very number
    assert cache.known([NEW]) is None
    with engine.begin() as conn:
        other = cache.resolve(conn, [OTHER])[OTHER]
    cache.commit()
    assert other == seen["id"]  # SQLite reused it: caching it for NEW would have mixed the two
    with engine.begin() as conn:
        again = cache.resolve(conn, [NEW])[NEW]
        stored = dict(conn.execute(sa.text("SELECT name, id FROM series")).all())
    cache.commit()
    assert again != other
    assert cache.known([NEW, OTHER]) == {NEW: stored[NEW[0]], OTHER: stored[OTHER[0]]}


def test_a_threads_own_commit_publishes_its_ids(tmp_path: Path) -> None:
    # Given a new series id made in a transaction that commits
    engine = SqlStore(f"sqlite:///{tmp_path / 'series.db'}").engine
    cache = SeriesCache()
    with engine.begin() as conn:
        sid = cache.resolve(conn, [NEW])[NEW]
        # Expect it unknown to other lookups until the commit
        assert cache.known([NEW]) is None
    # When the cache is told of the commit
    cache.commit()
    # Expect it known from then on
    assert cache.known([NEW]) == {NEW: sid}
