"""Fixtures over real services: a SQLite file per test, a fresh PostgreSQL schema per test.

A service that is not running skips its tests on a laptop; under CI=true it fails them instead,
so a green CI always means the real backends were exercised.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from jt_support import need

PG_ADMIN_URL = os.environ.get("JOBTRAIL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _pg_connect() -> object:
    try:
        import psycopg
    except ImportError as exc:
        need("PostgreSQL", f"psycopg is not installed ({exc})")
    try:
        return psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        need("PostgreSQL", str(exc).strip())
    raise AssertionError("unreachable")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'jobs.db'}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A URL whose search_path is a brand-new schema, dropped afterwards."""
    conn = _pg_connect()
    schema = "jt_" + uuid.uuid4().hex[:12]
    conn.execute(f"CREATE SCHEMA {schema}")  # type: ignore[attr-defined]
    base = PG_ADMIN_URL
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")  # type: ignore[attr-defined]
        conn.close()  # type: ignore[attr-defined]


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest) -> str:
    """Each test using this runs once per backend."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(store_url: str) -> Iterator[object]:
    from jobtrail.store import open_store

    s = open_store(store_url)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def trail(store_url: str) -> Iterator[object]:
    from jobtrail import Settings, Trail

    t = Trail(store_url, settings=Settings(flush_interval=0.05))
    try:
        yield t
    finally:
        t.close()
