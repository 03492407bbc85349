"""Migrations on SQLite and PostgreSQL: up from empty, down to nothing, up again; the schema they
build is the one the code declares."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from jobtrail.store.sql import migrate
from jobtrail.store.sql.engine import create_engine
from jobtrail.store.sql.schema import metadata

TABLES = {t.name for t in metadata.sorted_tables}


@pytest.fixture
def engine(store_url: str) -> Iterator[sa.Engine]:
    engine = create_engine(store_url)
    try:
        yield engine
    finally:
        engine.dispose()


def tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}


def test_an_empty_database_is_at_no_revision(engine: sa.Engine) -> None:
    assert tables(engine) == set()
    assert migrate.current_revision(engine) is None


def test_upgrade_from_empty_creates_every_table_at_the_head_revision(engine: sa.Engine) -> None:
    migrate.upgrade(engine)
    assert tables(engine) == TABLES
    assert "jobs" in TABLES
    assert migrate.current_revision(engine) == migrate.head_revision()


def test_downgrade_to_base_removes_every_table(engine: sa.Engine) -> None:
    migrate.upgrade(engine)
    migrate.downgrade(engine, "base")
    assert tables(engine) == set()
    assert migrate.current_revision(engine) is None


def test_upgrade_after_downgrade_works_again(engine: sa.Engine) -> None:
    migrate.upgrade(engine)
    migrate.downgrade(engine)
    migrate.upgrade(engine)
    assert tables(engine) == TABLES
    assert migrate.current_revision(engine) == migrate.head_revision()


def test_upgrade_twice_is_a_no_op(engine: sa.Engine) -> None:
    migrate.upgrade(engine)
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()


def test_the_migrated_schema_matches_the_declared_tables(engine: sa.Engine) -> None:
    # Given a database built only by the migrations
    migrate.upgrade(engine)
    # Expect no difference from schema.py (tables, columns, types, indexes)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences: list[Any] = compare_metadata(context, metadata)
    assert differences == []


def test_ensure_current_builds_an_empty_database(engine: sa.Engine) -> None:
    migrate.ensure_current(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
    migrate.ensure_current(engine)  # and leaves a current one alone
    assert tables(engine) == TABLES


def test_a_store_opened_on_an_upgraded_database_works(store_url: str, engine: sa.Engine) -> None:
    from jobtrail.ingest import ingest
    from jobtrail.store import open_store

    migrate.upgrade(engine)
    store = open_store(store_url, migrate=False)
    try:
        assert ingest(store, [{"job_id": "a", "type": "queued", "at": 1_700_000_000}]).accepted == 1
        record = store.get("a")
        assert record is not None
        assert record["state"] == "queued"
    finally:
        store.close()
