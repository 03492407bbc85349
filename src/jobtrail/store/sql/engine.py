"""Engines for SQLite and PostgreSQL, set up for many concurrent writers.

SQLite: WAL (readers never block the writer), a long busy timeout, and `BEGIN IMMEDIATE` for write
transactions so two writers queue for the lock instead of failing half-way with "database is locked".
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from jobtrail.errors import ConfigError

__all__ = ["create_engine", "normalize_url"]

WRITE = {"jobtrail_write": True}
"""Execution options that mark a connection's transaction as a write transaction."""


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
        engine = sa.create_engine(url, connect_args={"timeout": 60})
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (see _sqlite_begin)
    cursor = dbapi_connection.cursor()
    # The busy timeout first: switching a new file to WAL takes a lock that a concurrent opener
    # may hold for a moment.
    cursor.execute("PRAGMA busy_timeout=60000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=OFF")
    cursor.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    immediate = conn.get_execution_options().get("jobtrail_write")
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
