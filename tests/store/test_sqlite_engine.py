"""The SQLite connection settings that ingest's speed and concurrent writers rely on."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from jobtrail.ingest import ingest
from jobtrail.store.sql.engine import WAL_AUTOCHECKPOINT_PAGES, WAL_SIZE_LIMIT
from jobtrail.store.sql.store import SqlStore


def test_every_connection_uses_wal_with_a_long_checkpoint_interval(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'jt.db'}")
    try:
        with store.engine.connect() as conn:
            pragma = {name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                      for name in ("journal_mode", "wal_autocheckpoint", "journal_size_limit",
                                   "synchronous", "busy_timeout")}
    finally:
        store.close()
    assert pragma == {
        "journal_mode": "wal",
        "wal_autocheckpoint": WAL_AUTOCHECKPOINT_PAGES,
        "journal_size_limit": WAL_SIZE_LIMIT,
        "synchronous": 1,  # NORMAL: no fsync per commit in WAL mode, only at checkpoints
        "busy_timeout": 60000,
    }


def test_a_closed_store_leaves_its_data_in_the_database_file(tmp_path: Path) -> None:
    """With a 40 MB WAL, the last close still checkpoints: the data outlives the WAL file."""
    path = tmp_path / "jt.db"
    store = SqlStore(f"sqlite:///{path}")
    ingest(store, [{"job_id": f"j{i}", "type": "queued", "at": 1_700_000_000.0 + i, "name": "n"}
                   for i in range(2000)], now=1_700_010_000.0)
    store.close()
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0
    with sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True) as conn:
        assert conn.execute("SELECT count(*) FROM jobs").fetchone()[0] == 2000


def _wait(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _in_database_file(path: Path) -> int:
    """Jobs in the main database file alone (`immutable` reads no WAL)."""
    with sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True) as conn:
        try:
            return int(conn.execute("SELECT count(*) FROM jobs").fetchone()[0])
        except sqlite3.OperationalError:  # the tables themselves are still only in the WAL
            return 0


def _queued(n: int, prefix: str = "j") -> list[dict[str, object]]:
    return [{"job_id": f"{prefix}{i}", "type": "queued", "at": 1_700_000_000.0 + i, "name": "n"}
            for i in range(n)]


def test_the_wal_is_checkpointed_soon_after_a_write_by_a_thread_not_the_writer(
    tmp_path: Path,
) -> None:
    """Far below the writers' own threshold, the rows still reach the database file while the
    store stays open: the store's checkpoint thread copied them."""
    path = tmp_path / "jt.db"
    store = SqlStore(f"sqlite:///{path}")
    try:
        ingest(store, _queued(300), now=1_700_010_000.0)
        assert _wait(lambda: _in_database_file(path) == 300)
        assert "jobtrail-wal-checkpoint" in {t.name for t in threading.enumerate()}
        ingest(store, _queued(200, "k"), now=1_700_010_000.0)
        assert _wait(lambda: _in_database_file(path) == 500)
    finally:
        store.close()
    assert "jobtrail-wal-checkpoint" not in {t.name for t in threading.enumerate()}


def test_a_store_that_only_reads_starts_no_checkpoint_thread(tmp_path: Path) -> None:
    path = tmp_path / "jt.db"
    SqlStore(f"sqlite:///{path}").close()
    store = SqlStore(f"sqlite:///{path}")
    try:
        assert store.get("nope") is None
        assert "jobtrail-wal-checkpoint" not in {t.name for t in threading.enumerate()}
    finally:
        store.close()


def test_a_forked_child_checkpoints_its_own_writes(tmp_path: Path) -> None:
    path = tmp_path / "jt.db"
    store = SqlStore(f"sqlite:///{path}")
    try:
        ingest(store, _queued(10), now=1_700_010_000.0)  # the parent's thread is running
        pid = os.fork()
        if pid == 0:  # the child: its writes must reach the file through a thread of its own
            code = 1
            try:
                ingest(store, _queued(40, "child"), now=1_700_010_000.0)
                code = 0 if _wait(lambda: _in_database_file(path) == 50) else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        store.close()


def test_checkpoints_follow_the_database_opened_by_a_relative_path_after_a_chdir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "here").mkdir()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    store = SqlStore("sqlite:///jt.db")
    try:
        monkeypatch.chdir(tmp_path / "elsewhere")
        ingest(store, _queued(30), now=1_700_010_000.0)  # the thread starts only now
        assert _wait(lambda: _in_database_file(tmp_path / "here" / "jt.db") == 30)
        assert list((tmp_path / "elsewhere").iterdir()) == []
    finally:
        store.close()
