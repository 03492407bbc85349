"""The rows an ingest writes, worked out before the write transaction and applied inside it.

Planning is pure Python (encoding records, the resource and label index rows, roll-up rows) and
applying is only SQL, so a writer holds SQLite's single write lock for the SQL alone: several
server processes on one file then merge and encode in parallel and take turns only to write.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from jobtrail.rollup import Delta
from jobtrail.store.base import Record
from jobtrail.store.sql import rollups
from jobtrail.store.sql.codec import to_row
from jobtrail.store.sql.schema import COLUMNS, job_labels, job_resources

__all__ = ["Plan", "apply", "delete_keys", "job_upsert_sql", "label_keys", "plan", "resource_keys",
           "unindex"]

_RESOURCE_KEY = ("resource", "created_at", "job_id")
_LABEL_KEY = ("key", "value", "created_at", "job_id")


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything one `update` writes. `rollup_rows` is None when the delta names a (name, queue)
    without a known series id, which only the write transaction may create."""

    new: Mapping[str, Record]
    delta: Delta
    job_rows: list[tuple[Any, ...]]
    drop_resources: list[tuple[Any, ...]]
    add_resources: list[tuple[Any, ...]]
    drop_labels: list[tuple[Any, ...]]
    add_labels: list[tuple[Any, ...]]
    rollup_rows: rollups.Rows | None


def plan(
    current: Mapping[str, Record], new: Mapping[str, Record], delta: Delta,
    series: rollups.SeriesCache,
) -> Plan:
    """The rows that replace `current` by `new` and add `delta` to the roll-ups."""
    drop_res: list[tuple[Any, ...]] = []
    add_res: list[tuple[Any, ...]] = []
    drop_lab: list[tuple[Any, ...]] = []
    add_lab: list[tuple[Any, ...]] = []
    for job_id, rec in new.items():
        old = current.get(job_id)
        # The index rows are keyed by created_at too: rebuild them when it or they changed.
        moved = old is None or old["created_at"] != rec["created_at"]
        if moved or old is None or old["resources"] != rec["resources"]:
            old_res, new_res = resource_keys(old), resource_keys(rec)
            drop_res.extend(old_res - new_res)
            add_res.extend(new_res - old_res)
        if moved or old is None or old["labels"] != rec["labels"]:
            old_lab, new_lab = label_keys(old), label_keys(rec)
            drop_lab.extend(old_lab - new_lab)
            add_lab.extend(new_lab - old_lab)
    sids = series.known(rollups.pairs(delta))
    return Plan(
        new=new,
        delta=delta,
        job_rows=[to_row(r) for _, r in sorted(new.items())],
        drop_resources=drop_res,
        add_resources=sorted(add_res),
        drop_labels=drop_lab,
        add_labels=sorted(add_lab),
        rollup_rows=None if sids is None else rollups.rows(delta, sids),
    )


def apply(conn: sa.Connection, upsert_jobs: str, p: Plan, series: rollups.SeriesCache) -> None:
    """Write `p` in the caller's transaction."""
    if p.job_rows:
        conn.exec_driver_sql(upsert_jobs, p.job_rows)
    delete_keys(conn, job_resources, _RESOURCE_KEY, p.drop_resources)
    delete_keys(conn, job_labels, _LABEL_KEY, p.drop_labels)
    # Prepared SQL with tuples: building Core inserts from dicts cost more than SQLite's insert.
    if p.add_resources:
        conn.exec_driver_sql(_insert_sql(conn.dialect.name, "job_resources", _RESOURCE_KEY),
                             p.add_resources)
    if p.add_labels:
        conn.exec_driver_sql(_insert_sql(conn.dialect.name, "job_labels", _LABEL_KEY), p.add_labels)
    rows = p.rollup_rows
    if rows is None:
        rows = rollups.rows(p.delta, series.resolve(conn, rollups.pairs(p.delta)))
    rollups.write_rows(conn, rows)


@functools.cache
def _insert_sql(dialect: str, table: str, columns: Sequence[str]) -> str:
    mark = "%s" if dialect == "postgresql" else "?"
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"


def unindex(conn: sa.Connection, records: Iterable[Record]) -> None:
    """Delete the resource and label index rows of `records` (jobs being deleted)."""
    records = list(records)
    delete_keys(conn, job_resources, _RESOURCE_KEY, [k for r in records for k in resource_keys(r)])
    delete_keys(conn, job_labels, _LABEL_KEY, [k for r in records for k in label_keys(r)])


def job_upsert_sql(dialect: str) -> str:
    columns = (*COLUMNS, "doc")
    mark = "%s" if dialect == "postgresql" else "?"
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "id")
    return (
        f"INSERT INTO jobs ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))}) "
        f"ON CONFLICT (id) DO UPDATE SET {updates}"
    )


def resource_keys(record: Record | None) -> set[tuple[Any, ...]]:
    if record is None:
        return set()
    return {(r, record["created_at"], record["id"]) for r in record["resources"]}


def label_keys(record: Record | None) -> set[tuple[Any, ...]]:
    if record is None:
        return set()
    return {(k, v, record["created_at"], record["id"]) for k, v in record["labels"].items()}


def delete_keys(
    conn: sa.Connection, table: sa.Table, columns: Sequence[str], keys: list[tuple[Any, ...]]
) -> None:
    if not keys:
        return
    stmt = table.delete().where(*(table.c[c] == sa.bindparam("k_" + c) for c in columns))
    conn.execute(stmt, [{"k_" + c: v for c, v in zip(columns, key, strict=True)} for key in keys])
