"""Alembic migrations run from code: `jobtrail db upgrade`, and automatically on an empty database.

A database that exists at an older revision is only upgraded automatically for SQLite (embedded,
one owner); PostgreSQL shared by many servers is upgraded on purpose with `jobtrail db upgrade`.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from jobtrail.errors import StoreError
from jobtrail.store.sql.engine import WRITE

__all__ = ["current_revision", "downgrade", "ensure_current", "head_revision", "upgrade"]

_LOCK_KEY = 7_466_123_001  # PostgreSQL advisory lock held while migrating


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _run(engine: sa.Engine, action: str, target: str) -> None:
    """Run an Alembic command on one connection, inside one transaction that also holds the
    migration lock (PostgreSQL: a transaction-scoped advisory lock; SQLite: BEGIN IMMEDIATE), so
    concurrent migrators take turns and a failure can never leave the lock held."""
    with engine.connect().execution_options(**WRITE) as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        cfg = _config()
        cfg.attributes["connection"] = conn
        getattr(command, action)(cfg, target)


def upgrade(engine: sa.Engine, target: str = "head") -> None:
    _run(engine, "upgrade", target)


def downgrade(engine: sa.Engine, target: str = "base") -> None:
    _run(engine, "downgrade", target)


def ensure_current(engine: sa.Engine) -> None:
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return
    if current is None or engine.dialect.name == "sqlite":
        upgrade(engine)  # a no-op when a concurrent opener got there first (Alembic re-reads)
        return
    raise StoreError(
        f"the database is at migration {current}, this jobtrail needs {head}: run `jobtrail db upgrade`"
    )
