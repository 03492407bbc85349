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


def test_day_rollups_are_built_from_the_hourly_ones_on_upgrade(store_url: str, engine: sa.Engine) -> None:
    from jobtrail.ingest import ingest
    from jobtrail.store import open_store

    t0 = 1_790_000_000.0
    store = open_store(store_url)
    try:
        events = []
        for i in range(300):  # five days of jobs, two names
            at = t0 + i * 1500
            events += [{"job_id": f"j{i}", "type": "started", "at": at, "name": f"n{i % 2}"},
                       {"job_id": f"j{i}", "type": "failed" if i % 7 else "succeeded",
                        "at": at + 10 + i}]
        assert ingest(store, events).rejected == []

        def days() -> tuple[Any, ...]:
            return (sorted(store.rollup_counts(None, None, step=86400)),
                    store.rollup_histogram("run", t0 + 86400, t0 + 4 * 86400),
                    store.rollup_histogram("success", None, None, names=["n0"]))

        written_at_ingest = days()
        hours_only = sorted(store.rollup_counts(None, None, step=3600))
        migrate.downgrade(engine, "0002")  # drops the day rows
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM rollup_counts WHERE res = 86400")).scalar() == 0
        migrate.upgrade(engine)
        assert days() == written_at_ingest
        assert sorted(store.rollup_counts(None, None, step=3600)) == hours_only
        assert written_at_ingest[1][1] > 0  # the histogram over whole days is not empty
    finally:
        store.close()


def test_state_counters_are_built_from_the_rows_on_upgrade(store_url: str, engine: sa.Engine) -> None:
    from jobtrail.ingest import ingest
    from jobtrail.model import JobFilter
    from jobtrail.store import open_store

    store = open_store(store_url)
    try:
        events = [{"job_id": f"j{i}", "type": ("queued", "started", "succeeded")[i % 3],
                   "at": 1_790_000_000 + i, "name": f"n{i % 4}", "queue": f"q{i % 2}"}
                  for i in range(60)]
        events.append({"job_id": "beat-only", "type": "heartbeat", "at": 1_790_000_100})
        assert ingest(store, events).rejected == []
        before = {by: store.counts(JobFilter(), by) for by in ("state", "name", "queue")}
        migrate.downgrade(engine, "0004")
        with engine.connect() as conn, conn.begin():  # a series the old ingest never made
            conn.execute(sa.text("DELETE FROM series WHERE name = ''"))
        migrate.upgrade(engine)
        assert {by: store.counts(JobFilter(), by) for by in ("state", "name", "queue")} == before
        assert before["name"][""] == 1 and sum(before["state"].values()) == 61
    finally:
        store.close()
