"""`SqlStore`: the Store protocol on SQLite (embedded default) and PostgreSQL (many writers)."""

from __future__ import annotations

import functools
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, OperationalError

from jobtrail.errors import InvalidInput, StoreError
from jobtrail.forks import process_flag, reinit_lock
from jobtrail.model import JobFilter, RetentionRule
from jobtrail.rollup import current as current_key
from jobtrail.states import STATES
from jobtrail.store.base import Change, Record, RollupHistogram, RollupTotals
from jobtrail.store.sql import fleet, rollups, writes
from jobtrail.store.sql.checkpoints import Checkpointer
from jobtrail.store.sql.codec import from_row
from jobtrail.store.sql.engine import WRITE, create_engine
from jobtrail.store.sql.schema import (
    COLUMNS,
    job_labels,
    job_resources,
    jobs,
    meta,
    rollup_counts,
    rollup_hist,
    rollup_summary,
)
from jobtrail.store.sql.turns import Turns

__all__ = ["SqlStore"]

_CHUNK = 500  # ids per IN (...) list: below SQLite's and PostgreSQL's parameter limits
_RETRIES = 8
_T = TypeVar("_T")


@functools.cache
def _select_jobs_sql(dialect: str, n: int) -> str:
    mark = "%s" if dialect == "postgresql" else "?"
    return (f"SELECT {', '.join(c.name for c in jobs.columns)} FROM jobs"
            f" WHERE id IN ({', '.join([mark] * n)})")


class SqlStore:
    """SQLAlchemy Core over SQLite or PostgreSQL; see `jobtrail.store.base.Store` for the contract."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self._engine = create_engine(url)
        self._here = process_flag()  # emptied in a forked child: see `engine`
        self.dialect = self._engine.dialect.name
        self.parallel_writes = self.dialect != "sqlite"
        self._upsert_jobs = writes.job_upsert_sql(self.dialect)
        self._series = rollups.SeriesCache()
        # SQLite writers queue here for the file's write lock (see turns.py); PostgreSQL has no
        # database-wide lock to queue for.
        self._turns = Turns(self._engine.url.database) if self.dialect == "sqlite" else None
        self._checkpoints = Checkpointer(self._engine.url.database if self._turns else None)
        try:
            if migrate:
                from jobtrail.store.sql.migrate import ensure_current

                ensure_current(self.engine)
        except OperationalError as exc:
            raise StoreError(f"cannot open {self.engine.url!r}: {exc.orig}") from None

    @property
    def engine(self) -> sa.Engine:
        """This process's pool. A forked child must not use the parent's pooled connections (the
        same sockets): on its first use there it lets them go, leaving them to the parent
        (`dispose(close=False)`, as SQLAlchemy recommends), and opens its own. Checked here, not
        in an at-fork hook, so a child that never uses the store (an RQ horse) runs none of it."""
        if not self._here:
            with reinit_lock():
                if not self._here:
                    self._engine.dispose(close=False)
                    self._here = process_flag()
        return self._engine

    def close(self) -> None:
        self.engine.dispose()
        self._checkpoints.close()
        if self._turns is not None:
            self._turns.close()

    @contextmanager
    def _turn(self) -> Iterator[None]:
        """Hold this writer's turn (SQLite) for the block; after it commits, checkpoint soon."""
        if self._turns is None:
            yield
            return
        with self._turns.turn():
            yield
        self._checkpoints.wrote()

    # ---- writing -------------------------------------------------------------------------

    def update(self, job_ids: Sequence[str], change: Change) -> Mapping[str, Record]:
        ids = sorted(set(job_ids))
        if self.dialect == "sqlite":
            return self._retrying(lambda conn: self._update_optimistic(conn, ids, change))
        return self._retrying(lambda conn: self._update_locked(conn, ids, change))

    def _retrying(self, work: Callable[[sa.Connection], _T]) -> _T:
        """`work` in a connection of its own, again after a transient failure (a deadlock, a lock
        or serialization timeout, a dropped connection), with jittered backoff."""
        delay = 0.01
        for attempt in range(_RETRIES):
            try:
                with self.engine.connect() as conn:
                    out = work(conn)
                self._series.commit()
                return out
            except (OperationalError, DBAPIError) as exc:
                self._series.rollback()  # series ids made in a rolled-back transaction do not exist
                if attempt == _RETRIES - 1 or not _transient(exc):
                    raise StoreError(f"could not write to the store: {exc.orig}") from exc
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 1.0)
            except BaseException:
                self._series.rollback()
                raise
        raise AssertionError("unreachable")

    def _update_locked(self, conn: sa.Connection, ids: list[str], change: Change) -> Mapping[str, Record]:
        """PostgreSQL: lock the jobs, then read, change and write them in one transaction. Only
        these jobs' locks are held meanwhile; roll-up rows are locked from their upsert to the
        commit, after the Python work, so writers of other jobs proceed in parallel."""
        with conn.execution_options(**WRITE).begin():
            self._lock(conn, ids)
            p = self._plan(self._rows(conn, ids), change)
            writes.apply(conn, self._upsert_jobs, p, self._series)
        return p.new

    def _update_optimistic(
        self, conn: sa.Connection, ids: list[str], change: Change
    ) -> Mapping[str, Record]:
        """SQLite: read and change the jobs outside the database-wide write lock, then take it and
        write. If another connection committed in between (`PRAGMA data_version` moved) and the
        jobs' rows differ from those read, change them again from the rows under the lock. So the
        lock is held for the SQL alone, and writers in several processes merge in parallel."""
        with conn.begin():  # a read snapshot, no lock
            version = _data_version(conn)
            seen = self._rows(conn, ids)
        p = self._plan(seen, change)
        with self._turn(), conn.execution_options(**WRITE).begin():  # BEGIN IMMEDIATE
            if _data_version(conn) != version:
                now = self._rows(conn, ids)
                if now != seen:
                    p = self._plan(now, change)
            writes.apply(conn, self._upsert_jobs, p, self._series)
        return p.new

    def _plan(self, rows: Mapping[str, Any], change: Change) -> writes.Plan:
        current = {job_id: from_row(row) for job_id, row in rows.items()}
        new, delta = change(current)
        return writes.plan(current, new, delta, self._series)

    def _lock(self, conn: sa.Connection, ids: list[str]) -> None:
        """Per-job transaction locks, taken in one global order so writers cannot deadlock."""
        conn.execute(
            sa.text(
                "SELECT pg_advisory_xact_lock(h) FROM ("
                " SELECT DISTINCT hashtextextended(i, 0) AS h FROM unnest(CAST(:ids AS text[])) AS i"
                " ORDER BY h) AS s"
            ),
            {"ids": ids},
        )

    def _rows(self, conn: sa.Connection, ids: list[str]) -> dict[str, Any]:
        """The stored rows of those `ids` that exist, by id; rows compare equal when unchanged."""
        out: dict[str, Any] = {}
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            # Prepared SQL: Core's expanding IN cost more than the lookup of a batch of new jobs.
            for row in conn.exec_driver_sql(_select_jobs_sql(self.dialect, len(chunk)), tuple(chunk)):
                out[row.id] = row
        return out

    def delete(self, job_ids: Sequence[str]) -> int:
        ids = sorted(set(job_ids))
        return self._retrying(lambda conn: self._delete(conn, ids))

    def _delete(self, conn: sa.Connection, ids: list[str]) -> int:
        """Lower the counters by the rows this transaction deleted (RETURNING), not by rows read
        before: a concurrent delete or update of the same job may have changed them. PostgreSQL
        first takes the jobs' locks, in `update`'s order, so neither can deadlock the other."""
        with self._turn(), conn.execution_options(**WRITE).begin():
            if self.dialect != "sqlite":
                self._lock(conn, ids)
            gone: list[Record] = []
            for i in range(0, len(ids), _CHUNK):
                stmt = jobs.delete().where(jobs.c.id.in_(ids[i : i + _CHUNK])).returning(*jobs.c)
                gone += (from_row(row) for row in conn.execute(stmt))
            states = Counter(current_key(r) for r in gone)
            rollups.write_states(conn, {k: -n for k, n in states.items()}, self._series)
            writes.unindex(conn, gone)
        return len(gone)

    def compact(self, before: float) -> int:
        cutoff = int(before // 3600 * 3600)
        return self._retrying(lambda conn: self._compact(conn, cutoff))

    def _compact(self, conn: sa.Connection, cutoff: int) -> int:
        """Drop minute roll-ups before `cutoff` and raise the horizon to it in one upsert that
        keeps the later value, so an overlapping compaction neither conflicts nor moves it back."""
        removed = 0
        with self._turn(), conn.execution_options(**WRITE).begin():
            for table in (rollup_counts, rollup_hist, rollup_summary):  # minute rows only
                result = conn.execute(
                    table.delete().where(table.c.res == rollups.MINUTE, table.c.t < cutoff)
                )
                removed += result.rowcount
            conn.execute(_raise_horizon(self.dialect, float(cutoff)))
        return removed

    # ---- reading -------------------------------------------------------------------------

    @contextmanager
    def _read(self) -> Iterator[sa.Connection]:
        """A connection for reading; driver failures surface as `StoreError`."""
        try:
            with self.engine.connect() as conn:
                yield conn
        except (OperationalError, DBAPIError) as exc:
            raise StoreError(f"could not read the store: {exc.orig}") from exc

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        """A write transaction (BEGIN IMMEDIATE on SQLite); failures surface as `StoreError`."""
        try:
            with (self._turn(), self.engine.connect().execution_options(**WRITE) as conn,
                  conn.begin()):
                yield conn
        except (OperationalError, DBAPIError) as exc:
            raise StoreError(f"could not write to the store: {exc.orig}") from exc

    def get(self, job_id: str) -> Record | None:
        with self._read() as conn:
            row = conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).first()
        return None if row is None else from_row(row)

    def find(self, flt: JobFilter, limit: int, after: tuple[float, str] | None) -> list[Record]:
        stmt = sa.select(jobs).where(*_where(flt, after)).order_by(
            jobs.c.created_at.desc(), jobs.c.id.desc()
        ).limit(limit)
        with self._read() as conn:
            return [from_row(row) for row in conn.execute(stmt)]

    def find_values(
        self, flt: JobFilter, fields: Sequence[str], limit: int, after: tuple[float, str] | None
    ) -> list[tuple[Any, ...]]:
        unknown = [f for f in fields if f not in COLUMNS]
        if unknown:
            raise InvalidInput(f"cannot read field {unknown[0]!r}; fields are {', '.join(COLUMNS)}")
        stmt = sa.select(*(jobs.c[f] for f in fields)).where(*_where(flt, after)).order_by(
            jobs.c.created_at.desc(), jobs.c.id.desc()
        ).limit(limit)
        with self._read() as conn:
            return [tuple(row) for row in conn.execute(stmt)]

    def ids(self, flt: JobFilter, limit: int, after: tuple[float, str] | None) -> list[
        tuple[float, str]
    ]:
        stmt = sa.select(jobs.c.created_at, jobs.c.id).where(*_where(flt, after)).order_by(
            jobs.c.created_at.desc(), jobs.c.id.desc()
        ).limit(limit)
        with self._read() as conn:
            return [(float(c), i) for c, i in conn.execute(stmt)]

    def count(self, flt: JobFilter) -> int:
        if _counted(flt):
            return sum(self._current(flt, "state").values())
        stmt = sa.select(sa.func.count()).select_from(jobs).where(*_where(flt, None))
        with self._read() as conn:
            return int(conn.execute(stmt).scalar_one())

    def counts(self, flt: JobFilter, by: str) -> dict[str, int]:
        if _counted(flt):
            return self._current(flt, by)
        if by == "state" and _only_time_and_states(flt):
            return self._counts_per_state(flt)
        column = {"state": jobs.c.state, "name": jobs.c.name, "queue": jobs.c.queue}[by]
        stmt = (
            sa.select(column, sa.func.count())
            .where(*_where(flt, None))
            .group_by(column)
        )
        with self._read() as conn:
            return {str(k): int(n) for k, n in conn.execute(stmt)}

    def _current(self, flt: JobFilter, by: str) -> dict[str, int]:
        """Counts from the current-state counters: a few rows per series, however many jobs."""
        position = {"name": 0, "queue": 1, "state": 2}[by]
        with self._read() as conn:
            rows = rollups.read_states(conn, flt.names, flt.queues, flt.states)
        out: Counter[str] = Counter()
        for name, queue, state, n in rows:
            out[(name, queue, state)[position]] += n
        return {k: n for k, n in out.items() if n}

    def _counts_per_state(self, flt: JobFilter) -> dict[str, int]:
        """One (state, created_at) index range per state, glued with UNION ALL: a GROUP BY over a
        time span would read the whole state index (every job ever), this only the span's jobs."""
        parts = [
            sa.select(sa.func.count())
            .where(jobs.c.state == state, *_where(replace(flt, states=()), None))
            .scalar_subquery()
            for state in (flt.states or STATES)
        ]
        with self._read() as conn:
            row = conn.execute(sa.select(*parts)).one()
        return {state: int(n) for state, n in zip(flt.states or STATES, row, strict=True) if n}

    def durations(self, flt: JobFilter, kind: str) -> list[float]:
        column = {"run": jobs.c.run, "wait": jobs.c.wait}[kind]
        stmt = sa.select(column).where(column.is_not(None), *_where(flt, None)).order_by(column)
        with self._read() as conn:
            return [float(v) for v in conn.execute(stmt).scalars()]

    def rollup_histogram(
        self,
        kind: str,
        since: float | None,
        until: float | None,
        names: Sequence[str] = (),
        queues: Sequence[str] = (),
    ) -> RollupHistogram:
        with self._read() as conn:
            return rollups.read_histogram(conn, kind, since, until, names, queues)

    def rollup_counts(
        self,
        since: float | None,
        until: float | None,
        names: Sequence[str] = (),
        queues: Sequence[str] = (),
        metrics: Sequence[str] = (),
        step: int = 3600,
    ) -> list[tuple[int, str, str, str, int]]:
        with self._read() as conn:
            return rollups.read_counts(conn, since, until, names, queues, metrics, step)

    def rollup_totals(
        self,
        since: float | None,
        until: float | None,
        names: Sequence[str] = (),
        queues: Sequence[str] = (),
        metrics: Sequence[str] = (),
    ) -> list[tuple[str, str, str, int]]:
        with self._read() as conn:
            return rollups.read_totals(conn, since, until, names, queues, metrics)

    def rollup_histograms(
        self,
        kind: str,
        since: float | None,
        until: float | None,
        names: Sequence[str] = (),
        queues: Sequence[str] = (),
        step: int | None = None,
        merge: int = 1,
    ) -> list[tuple[int, str, str, int, int]]:
        with self._read() as conn:
            return rollups.read_histograms(conn, kind, since, until, names, queues, step, merge)

    def series_totals(
        self, since: float | None = None, until: float | None = None, edges: Sequence[int] = ()
    ) -> RollupTotals:
        with self._read() as conn:
            return rollups.read_series_totals(conn, since, until, edges)

    def expired(self, rules: Sequence[RetentionRule], now: float, limit: int) -> list[str]:
        keep = _keep_expression(rules)
        ended = sa.func.coalesce(jobs.c.finished_at, jobs.c.updated_at)
        stmt = (
            sa.select(jobs.c.id)
            .where(keep >= 0, ended + keep < now)
            .order_by(jobs.c.created_at)
            .limit(limit)
        )
        shortest = min((r.keep for r in rules if r.keep is not None), default=None)
        if shortest is not None:
            # No job created after now - shortest can have expired: lets the index bound the scan.
            stmt = stmt.where(sa.or_(jobs.c.created_at < now - shortest, jobs.c.keep.is_not(None)))
        with self._read() as conn:
            return list(conn.execute(stmt).scalars())

    # ---- workers, periodic jobs, queue levels ------------------------------------------------

    def beat_worker(self, worker: Mapping[str, Any]) -> None:
        with self._write() as conn:
            fleet.beat_worker(conn, worker)

    def workers(self) -> list[dict[str, Any]]:
        with self._read() as conn:
            return fleet.list_workers(conn)

    def declare_periodic(self, spec: Mapping[str, Any]) -> None:
        with self._write() as conn:
            fleet.declare_periodic(conn, spec)

    def periodics(self) -> list[dict[str, Any]]:
        with self._read() as conn:
            return fleet.list_periodic(conn)

    def last_success(self, names: Sequence[str] = ()) -> dict[str, float]:
        with self._read() as conn:
            return fleet.last_success(conn, names)

    def queue_levels(self) -> list[dict[str, Any]]:
        with self._read() as conn:
            return fleet.queue_levels(conn)

    def batch_rows(self, batch: str) -> Iterator[Record]:
        with self._read() as conn:
            for row in conn.execute(
                sa.select(jobs).where(jobs.c.batch == batch).order_by(jobs.c.created_at)
            ):
                yield from_row(row)


def _raise_horizon(dialect: str, horizon: float) -> sa.Executable:
    """Set the minute horizon to `horizon` unless it is already later."""
    from sqlalchemy.dialects import postgresql, sqlite

    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(meta)
    stmt = insert.values(key="minute_horizon", value=repr(horizon))
    return stmt.on_conflict_do_update(
        index_elements=[meta.c.key],
        set_={"value": stmt.excluded.value},
        where=sa.cast(meta.c.value, sa.Double) < sa.cast(stmt.excluded.value, sa.Double),
    )


def _counted(flt: JobFilter) -> bool:
    """Whether the current-state counters answer this filter: only names, queues and states."""
    return flt == JobFilter(states=flt.states, names=flt.names, queues=flt.queues)


def _only_time_and_states(flt: JobFilter) -> bool:
    return (flt.since is not None or flt.until is not None) and flt == JobFilter(
        states=flt.states, since=flt.since, until=flt.until)


def _transient(exc: DBAPIError) -> bool:
    text = str(exc.orig).lower()
    return any(
        s in text for s in ("locked", "deadlock", "could not serialize", "busy", "connection")
    )


def _data_version(conn: sa.Connection) -> int:
    """Changes whenever another connection commits to the database (SQLite)."""
    return int(conn.exec_driver_sql("PRAGMA data_version").scalar_one())


def _where(flt: JobFilter, after: tuple[float, str] | None) -> list[Any]:
    c = jobs.c
    cond: list[Any] = []
    if flt.states:
        cond.append(c.state.in_(flt.states) if len(flt.states) > 1 else c.state == flt.states[0])
    if flt.names:
        cond.append(c.name.in_(flt.names) if len(flt.names) > 1 else c.name == flt.names[0])
    if flt.queues:
        cond.append(c.queue.in_(flt.queues) if len(flt.queues) > 1 else c.queue == flt.queues[0])
    if flt.batch is not None:
        cond.append(c.batch == flt.batch)
    if flt.ids:
        cond.append(c.id.in_(flt.ids))
    if flt.since is not None:
        cond.append(c.created_at >= flt.since)
    if flt.until is not None:
        cond.append(c.created_at < flt.until)
    if flt.resource is not None:
        r = job_resources.c
        cond.append(c.id.in_(sa.select(r.job_id).where(r.resource == flt.resource)))
    for key, value in flt.labels:
        lab = job_labels.c
        cond.append(c.id.in_(sa.select(lab.job_id).where(lab.key == key, lab.value == value)))
    if after is not None:
        cond.append(sa.tuple_(c.created_at, c.id) < sa.tuple_(after[0], after[1]))
    return cond


def _keep_expression(rules: Sequence[RetentionRule]) -> Any:
    """Seconds to keep each row (-1: forever): its own keep, else the most specific rule."""
    c = jobs.c
    whens: list[tuple[Any, Any]] = [(c.keep.is_not(None), c.keep)]
    for rule in sorted(rules, key=lambda r: -r.specificity):
        cond = []
        if rule.name is not None:
            cond.append(c.name == rule.name)
        if rule.state is not None:
            cond.append(c.state == rule.state)
        value = -1.0 if rule.keep is None else float(rule.keep)
        whens.append((sa.and_(*cond) if cond else sa.true(), sa.literal(value, sa.Double)))
    return sa.case(*whens, else_=sa.literal(-1.0, sa.Double))
