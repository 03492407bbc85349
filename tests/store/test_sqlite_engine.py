"""The SQLite connection settings that ingest's speed and concurrent writers rely on."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from jobtrail.ingest import ingest
from jobtrail.store.sql.engine import WAL_CHECKPOINT_PAGES, WAL_SIZE_LIMIT
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
        "wal_autocheckpoint": WAL_CHECKPOINT_PAGES,
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
