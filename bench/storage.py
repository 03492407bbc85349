"""How many bytes does a job cost on disk, roll-ups included, before and after compaction?

Works on a copy of the bench/dataset.py database. Measures the whole database (SQLite: file + WAL
after a checkpoint; PostgreSQL: `pg_database_size`) as built, after `store.compact(now - 7 days)`
(minute roll-ups older than a week dropped, as in steady state), and after that plus VACUUM (SQLite)
or VACUUM FULL (PostgreSQL), which hands the freed pages back. The same-run baseline is the size of
the very same events written as compact JSON lines, i.e. a plain event log.

    .venv/bin/python bench/storage.py --jobs 100000 --backend sqlite
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

from _common import (
    DATA,
    context,
    met,
    parser,
    pg_drop,
    pg_recreate,
    progress,
    sqlite_bytes,
    sqlite_remove,
    sqlite_url,
    table,
)
from dataset import DAYS, SEED, Dataset, ensure, pg_name
from jobtrail.demo import generate_events
from jobtrail.store.sql.store import SqlStore

GOAL = 500  # bytes per job
WEEK = 7 * 86400.0
COPY = "jobtrail_bench_storage"
Part = tuple[str, int | None, int]  # (its table, rows if it is a table, bytes)


class Sized:
    """Sizes of one database: the whole, and each table and index."""

    def __init__(self, backend: str, url: str) -> None:
        self.backend = backend
        self.url = url

    def total(self) -> int:
        if self.backend == "sqlite":
            return sqlite_bytes(self._path())
        return int(self._pg("SELECT pg_database_size(current_database())")[0][0])

    def parts(self) -> dict[str, Part]:
        """Every table and index by name."""
        if self.backend == "sqlite":
            with sqlite3.connect(self._path()) as conn:
                owner = dict(conn.execute("SELECT name, tbl_name FROM sqlite_master"))
                sized = conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall()
                return {
                    name: (owner[name], _count(conn, name) if owner[name] == name else None, n)
                    for name, n in sized if name in owner
                }
        out: dict[str, Part] = {}
        for name, table_name, kind, n in self._pg(
            "SELECT c.relname, coalesce(t.relname, c.relname), c.relkind,"
            " CASE c.relkind WHEN 'i' THEN pg_relation_size(c.oid) ELSE pg_table_size(c.oid) END"
            " FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace"
            " LEFT JOIN pg_index i ON i.indexrelid = c.oid LEFT JOIN pg_class t ON t.oid = i.indrelid"
            " WHERE s.nspname = 'public' AND c.relkind IN ('r', 'i')"
        ):
            rows = int(self._pg(f'SELECT count(*) FROM "{name}"')[0][0]) if kind == "r" else None
            out[name] = (table_name, rows, int(n))
        return out

    def vacuum(self) -> None:
        if self.backend == "sqlite":
            with sqlite3.connect(self._path(), isolation_level=None) as conn:
                conn.execute("VACUUM")
        else:
            self._pg("VACUUM FULL", fetch=False)

    def _path(self) -> Path:
        return Path(self.url.removeprefix("sqlite:///"))

    def _pg(self, sql: str, fetch: bool = True) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            cur = conn.execute(sql)  # type: ignore[arg-type]
            return cur.fetchall() if fetch else []


def _count(conn: sqlite3.Connection, table_name: str) -> int:
    return int(conn.execute(f'SELECT count(*) FROM "{table_name}"').fetchone()[0])


def event_log_bytes(ds: Dataset) -> int:
    """The same events (same seed and now) as compact JSON lines."""
    return sum(len(json.dumps(e, separators=(",", ":"))) + 1
               for batch in generate_events(ds.jobs, DAYS, ds.now, SEED) for e in batch)


def empty_bytes(backend: str) -> int:
    """Size of a database with jobtrail's schema and no jobs: the fixed cost in every total."""
    if backend == "sqlite":
        path = DATA / "storage-empty.db"
        sqlite_remove(path)
        url = sqlite_url(path)
    else:
        url = pg_recreate(COPY + "_empty")
    SqlStore(url).close()
    size = Sized(backend, url).total()
    if backend == "sqlite":
        sqlite_remove(path)
    else:
        pg_drop(COPY + "_empty")
    return size


def main() -> None:
    args = parser(__doc__.split("\n\n")[0]).parse_args()
    ds, _ = ensure(args.backend, args.jobs)
    context(jobs=ds.jobs, backend=ds.backend, dataset=ds.built_at)
    if ds.backend == "sqlite":
        path = DATA / "storage-copy.db"
        sqlite_remove(path)
        shutil.copyfile(ds.url.removeprefix("sqlite:///"), path)
        url = sqlite_url(path)
    else:
        url = pg_recreate(COPY, template=pg_name(ds.jobs))
    db = Sized(ds.backend, url)
    empty = empty_bytes(ds.backend)

    stages: list[tuple[str, int]] = [("as built", db.total())]
    before = db.parts()
    progress("compacting minute roll-ups older than 7 days")
    store = SqlStore(url, migrate=False)
    removed = store.compact(ds.now - WEEK)
    store.close()
    stages.append((f"after compact(now − 7 d): {removed:,} roll-up rows removed", db.total()))
    after = db.parts()
    progress("VACUUM")
    db.vacuum()
    full = " FULL" if ds.backend == "postgres" else ""
    stages.append((f"after compact + VACUUM{full}", db.total()))
    vacuumed = db.parts()
    progress("sizing the same events as JSON lines")
    log_bytes = event_log_bytes(ds)

    table(
        f"Bytes per job on disk, {ds.jobs:,} jobs ({ds.backend}), roll-ups included",
        ["database", "bytes", "bytes/job", "net B/job", "ratio to baseline", "goal", "met"],
        [[what, n, n / ds.jobs, (n - empty) / ds.jobs, n / log_bytes, f"≤ {GOAL} B/job",
          met(n / ds.jobs <= GOAL)] for what, n in stages]
        + [["baseline: the same events as compact JSON lines", log_bytes, log_bytes / ds.jobs,
            log_bytes / ds.jobs, 1.0, "", ""]],
        note=f"net: minus the {empty:,} bytes of an empty database with jobtrail's schema.",
    )
    none: Part = ("", None, 0)
    order = sorted(before, key=lambda k: (before[k][0], before[k][1] is None, k))
    table(
        "Per table and index (PostgreSQL tables include TOAST; indexes are indented under their table)",
        ["table / index", "rows", "bytes", "B/job", "rows after compact",
         f"bytes after compact + VACUUM{full}", "B/job after"],
        [[name if before[name][1] is not None else f"  {name}", before[name][1], before[name][2],
          before[name][2] / ds.jobs, after.get(name, none)[1], vacuumed.get(name, none)[2],
          vacuumed.get(name, none)[2] / ds.jobs] for name in order],
    )
    if ds.backend == "sqlite":
        sqlite_remove(path)
    else:
        pg_drop(COPY)


if __name__ == "__main__":
    main()
