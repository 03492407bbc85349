"""Engines for SQLite and PostgreSQL, set up for many concurrent writers.

SQLite: WAL (readers never block the writer), a long busy timeout, and `BEGIN IMMEDIATE` for write
transactions so two writers queue for the lock instead of failing half-way with "database is locked".
A store's own thread checkpoints the WAL after writes (`checkpoints.py`); the writers' automatic
checkpoint is only the fallback, at `WAL_AUTOCHECKPOINT_PAGES` rather than SQLite's 1,000: the
committing writer pays for each one, and ingest rewrites the same roll-up and index pages batch
after batch, so a longer WAL copies each of them back less often (about +20 % events/s,
`bench/RESULTS.md`). `journal_size_limit` gives the disk back when the WAL was reset.
"""

from __future__ import annotations

import os
import random
import sqlite3
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from jobtrail.errors import ConfigError

__all__ = ["create_engine", "normalize_url"]

WRITE = {"jobtrail_write": True}
"""Execution options that mark a connection's transaction as a write transaction."""
WAL_AUTOCHECKPOINT_PAGES = 20_000
"""About 80 MB of WAL at SQLite's 4 KB pages: reached only when the checkpoint thread falls behind."""
WAL_SIZE_LIMIT = 64 * 1024 * 1024


def normalize_url(url: str) -> str:
    """Map the URLs users write onto the drivers we ship (psycopg 3 for PostgreSQL)."""
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith(("sqlite://", "postgresql+psycopg://")):
        return url
    raise ConfigError(f"unsupported database URL {url!r}: use sqlite:///path.db or postgresql://...")


def create_engine(url: str) -> sa.Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = sa.create_engine(_absolute(url), connect_args={"timeout": 60})
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def _absolute(url: str) -> str:
    """A SQLite URL with its file's path made absolute, so a later `chdir` of the process cannot
    point new pooled connections (and the `-writers` queue file) at another, empty database."""
    parsed = sa.engine.make_url(url)
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return url
    return parsed.set(database=os.path.abspath(database)).render_as_string(hide_password=False)


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (see _sqlite_begin)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=60000")
    _use_wal(cursor)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
    cursor.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
    cursor.execute("PRAGMA foreign_keys=OFF")
    cursor.close()


def _use_wal(cursor: Any) -> None:
    """Switch the file to WAL (it stays so). Switching a new file needs an exclusive lock, and
    SQLite answers "database is locked" at once, without its busy handler, while a concurrent
    opener holds one: retry for as long as the busy timeout would have waited."""
    deadline = time.monotonic() + 60
    delay = 0.001
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")  # an in-memory database stays "memory"
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(delay * (1 + random.random()))
        delay = min(delay * 2, 0.1)


def _sqlite_begin(conn: sa.Connection) -> None:
    immediate = conn.get_execution_options().get("jobtrail_write")
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
