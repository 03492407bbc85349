"""Storage backends behind one protocol (`base.Store`)."""

from __future__ import annotations

from jobtrail.store.base import Record, Store

__all__ = ["Record", "Store", "open_store"]


def open_store(url: str, *, migrate: bool = True) -> Store:
    """The store for a database URL (sqlite:///path.db, postgresql://...)."""
    from jobtrail.store.sql.store import SqlStore

    return SqlStore(url, migrate=migrate)
