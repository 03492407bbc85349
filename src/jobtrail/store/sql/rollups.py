"""Writing roll-up deltas at three resolutions and reading them back over a time span.

Roll-ups refer to a (name, queue) pair by its `series` id and to counters by small integer codes
(`rollup.METRIC_CODES`, `rollup.KIND_CODES`), so a row is a few integers. Writes go through the
driver's executemany with prepared SQL, since this is the ingest hot path.
"""

from __future__ import annotations

import functools
import math
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa

from jobtrail.rollup import KIND_CODES, KINDS, METRIC_CODES, METRICS, Delta
from jobtrail.sketch import ZERO_BUCKET, clamp_extremes
from jobtrail.store.base import RollupTotals
from jobtrail.store.sql.schema import (
    meta,
    rollup_counts,
    rollup_hist,
    rollup_summary,
    series,
    state_counts,
)

__all__ = [
    "ALL",
    "RESOLUTIONS",
    "Rows",
    "SeriesCache",
    "minute_horizon",
    "pairs",
    "read_counts",
    "read_histogram",
    "read_histograms",
    "read_series_totals",
    "read_states",
    "read_totals",
    "rows",
    "series_ids",
    "spans",
    "write_rows",
    "write_states",
]

MINUTE, HOUR, DAY = 60, 3600, 86400
ALL = 0
"""The all-time resolution: one bucket (t = 0) per series, for unbounded reads such as metrics."""
RESOLUTIONS = (MINUTE, HOUR, DAY, ALL)
"""Every delta lands at each resolution (UTC-aligned buckets); a long span reads whole days, its
edges hours, and its finest edges minutes while those are kept, so a read touches few rows."""


Pair = tuple[str, str]

_TABLES = {
    # which: (INSERT target, its columns with their PostgreSQL types, the conflict clause)
    "counts": ("rollup_counts", (("res", "int"), ("sid", "int"), ("t", "bigint"),
                                 ("metric", "smallint"), ("n", "bigint")),
               "ON CONFLICT (res, sid, t, metric) DO UPDATE SET n = rollup_counts.n + excluded.n"),
    "hist": ("rollup_hist", (("res", "int"), ("kind", "smallint"), ("sid", "int"), ("t", "bigint"),
                             ("bucket", "int"), ("n", "bigint")),
             "ON CONFLICT (res, kind, sid, t, bucket) DO UPDATE SET n = rollup_hist.n + excluded.n"),
    "summary": ("rollup_summary AS s", (("res", "int"), ("kind", "smallint"), ("sid", "int"),
                                        ("t", "bigint"), ("n", "bigint"), ("total", "float8"),
                                        ("lo", "float8"), ("hi", "float8")),
                "ON CONFLICT (res, kind, sid, t) DO UPDATE SET n = s.n + excluded.n, "
                "total = s.total + excluded.total, "
                "lo = CASE WHEN excluded.lo IS NULL THEN s.lo WHEN s.lo IS NULL OR excluded.lo < s.lo "
                "THEN excluded.lo ELSE s.lo END, "
                "hi = CASE WHEN excluded.hi IS NULL THEN s.hi WHEN s.hi IS NULL OR excluded.hi > s.hi "
                "THEN excluded.hi ELSE s.hi END"),
    "states": ("state_counts", (("sid", "int"), ("state", "text"), ("n", "bigint")),
               "ON CONFLICT (sid, state) DO UPDATE SET n = state_counts.n + excluded.n"),
}


@functools.cache
def sql(dialect: str, which: str) -> str:
    """The upsert adding rows to a roll-up table. SQLite: one row of `?` per executemany row.
    PostgreSQL: every row at once as one array per column (`unnest`), because there each row of an
    executemany is a statement of its own, which made roll-up writes 60 % of ingest time."""
    table, columns, conflict = _TABLES[which]
    names = ", ".join(c for c, _ in columns)
    if dialect == "postgresql":
        arrays = ", ".join(f"%s::{kind}[]" for _, kind in columns)
        return f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays}) {conflict}"
    return f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))}) {conflict}"


def upsert(conn: sa.Connection, which: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """Add `rows` (each key at most once) in their order, which on PostgreSQL is the order the
    rows are locked in."""
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.exec_driver_sql(sql(dialect, which), tuple(map(list, zip(*rows, strict=True))))
    else:
        conn.exec_driver_sql(sql(dialect, which), list(rows))


class SeriesCache:
    """(name, queue) ⇄ series id. Ids never change, so a process caches them for good; ids made
    inside a transaction are only cached once it commits (`commit`).

    A store's threads share one cache, each running its own transaction, so the ids still pending
    are kept per thread: another thread's commit must not publish them. An id from a transaction
    that then rolls back does not exist, and SQLite hands the same number to the next new series,
    which would then receive this one's roll-ups.
    """

    def __init__(self) -> None:
        self.ids: dict[Pair, int] = {}
        self._local = threading.local()

    @property
    def pending(self) -> dict[Pair, int]:
        """The ids this thread's open transaction made."""
        try:
            pending: dict[Pair, int] = self._local.pending
        except AttributeError:
            pending = self._local.pending = {}
        return pending

    def commit(self) -> None:
        pending = self.pending
        self.ids.update(pending)
        pending.clear()

    def rollback(self) -> None:
        self.pending.clear()

    def known(self, pairs: Iterable[Pair]) -> dict[Pair, int] | None:
        """The committed ids of `pairs`, or None when one has none yet (`resolve` makes it)."""
        ids = self.ids
        try:
            return {pair: ids[pair] for pair in pairs}
        except KeyError:
            return None

    def resolve(self, conn: sa.Connection, pairs: Iterable[Pair]) -> dict[Pair, int]:
        out: dict[Pair, int] = {}
        missing = []
        for pair in pairs:
            sid = self.ids.get(pair)
            if sid is None:
                missing.append(pair)
            else:
                out[pair] = sid
        if missing:
            conn.execute(
                _insert_ignoring_conflicts(conn.dialect.name),
                [{"name": n, "queue": q} for n, q in sorted(set(missing))],
            )
            for sid, name, queue in conn.execute(
                sa.select(series.c.id, series.c.name, series.c.queue).where(
                    series.c.name.in_({n for n, _ in missing})
                )
            ):
                if (name, queue) in missing or (name, queue) not in self.ids:
                    self.pending[(name, queue)] = sid
                    out.setdefault((name, queue), sid)
        return out


def _insert_ignoring_conflicts(dialect: str) -> sa.Executable:
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(series).on_conflict_do_nothing(index_elements=["name", "queue"])
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(series).on_conflict_do_nothing(index_elements=["name", "queue"])


class Rows(NamedTuple):
    """A delta as the rows it adds to each roll-up table, keys sorted (see `write_rows`)."""

    states: list[tuple[Any, ...]]
    counts: list[tuple[Any, ...]]
    hist: list[tuple[Any, ...]]
    summary: list[tuple[Any, ...]]


def pairs(delta: Delta) -> set[Pair]:
    """Every (name, queue) that `delta` touches."""
    out = {(k[2], k[3]) for k in delta.counts}
    out.update((k[2], k[3]) for k, _ in delta.observed)
    out.update((k[2], k[3]) for k, _ in delta.retracted)
    out.update((name, queue) for name, queue, _ in delta.states)
    return out


def rows(delta: Delta, sids: Mapping[Pair, int]) -> Rows:
    """The rows adding `delta` at every resolution, `sids` naming the series of its pairs.

    A delta's count keys are unique per minute, so its minute rows are the keys themselves; each
    coarser resolution folds the one below it, which holds fewer keys than the delta."""
    counts: dict[tuple[int, int, int], int] = {}
    hist: dict[tuple[int, int, int, int], int] = {}
    metric_codes, kind_codes = METRIC_CODES, KIND_CODES
    for key, n in delta.counts.items():
        sid = sids[(key[2], key[3])]
        if key[0] == "c":
            counts[(sid, key[1], metric_codes[key[4]])] = n
        else:
            hist[(kind_codes[key[4]], sid, key[1], key[5])] = n
    summary: dict[tuple[int, int, int], list[Any]] = {}
    for sign, items in ((1, delta.observed), (-1, delta.retracted)):
        for key, value in items:
            k = (kind_codes[key[4]], sids[(key[2], key[3])], key[1])
            s = summary.get(k)
            if s is None:
                s = summary[k] = [0, 0.0, None, None]
            s[0] += sign
            s[1] += sign * value
            if sign > 0:
                if s[2] is None or value < s[2]:
                    s[2] = value
                if s[3] is None or value > s[3]:
                    s[3] = value
    return Rows(
        states=_state_rows(delta.states, sids),
        counts=_every_resolution(counts, _fold_counts),
        hist=_every_resolution(hist, _fold_hist),
        summary=_summary_rows(summary),
    )


_Fold = Callable[[Mapping[Any, int], int], dict[Any, int]]


def _fold_counts(finer: Mapping[tuple[int, int, int], int], step: int) -> dict[Any, int]:
    """(sid, t, metric) counts in buckets of `step` seconds (0: one bucket for all time)."""
    out: dict[tuple[int, int, int], int] = defaultdict(int)
    for (sid, t, code), n in finer.items():
        out[(sid, t - t % step if step else 0, code)] += n
    return out


def _fold_hist(finer: Mapping[tuple[int, int, int, int], int], step: int) -> dict[Any, int]:
    """(kind, sid, t, bucket) counts in buckets of `step` seconds (0: one for all time)."""
    out: dict[tuple[int, int, int, int], int] = defaultdict(int)
    for (kind, sid, t, bucket), n in finer.items():
        out[(kind, sid, t - t % step if step else 0, bucket)] += n
    return out


def _every_resolution(minute: Mapping[Any, int], fold: _Fold) -> list[tuple[Any, ...]]:
    """Rows (res, *key, n) of per-minute counts at every resolution, in key order, zeros left out."""
    hour = fold(minute, HOUR)
    day = fold(hour, DAY)
    out: list[tuple[Any, ...]] = []
    for res, table in ((ALL, fold(day, ALL)), (MINUTE, minute), (HOUR, hour), (DAY, day)):
        # Sorting the keys alone: sorting (key, n) pairs compares pairs, a third as fast.
        out += [(res, *k, table[k]) for k in sorted(table) if table[k]]
    return out


def _summary_rows(minute: dict[tuple[int, int, int], list[Any]]) -> list[tuple[Any, ...]]:
    """Rows (res, kind, sid, t, n, total, lo, hi) of per-minute summaries at every resolution, in
    key order."""
    levels = {MINUTE: minute}
    finer = minute
    for res in (HOUR, DAY, ALL):
        coarse: dict[tuple[int, int, int], list[Any]] = {}
        for (kind, sid, t), (n, total, lo, hi) in finer.items():
            k = (kind, sid, t - t % res if res else 0)
            s = coarse.get(k)
            if s is None:
                coarse[k] = [n, total, lo, hi]
                continue
            s[0] += n
            s[1] += total
            if lo is not None and (s[2] is None or lo < s[2]):
                s[2] = lo
            if hi is not None and (s[3] is None or hi > s[3]):
                s[3] = hi
        levels[res] = finer = coarse
    return [(res, *k, *levels[res][k]) for res in sorted(levels) for k in sorted(levels[res])]


def write_rows(conn: sa.Connection, r: Rows) -> None:
    """Add `r` to the tables. On PostgreSQL rows go in key order, so concurrent writers lock them
    in one order and never deadlock."""
    upsert(conn, "states", r.states)
    upsert(conn, "counts", r.counts)
    upsert(conn, "hist", r.hist)
    upsert(conn, "summary", r.summary)


def write_states(
    conn: sa.Connection, changes: Mapping[tuple[str, str, str], int], cache: SeriesCache
) -> None:
    """Add `changes` to the current-state counters ((name, queue, state) → ±jobs)."""
    if changes:
        sids = cache.resolve(conn, {(n, q) for n, q, _ in changes})
        upsert(conn, "states", _state_rows(changes, sids))


def _state_rows(
    changes: Mapping[tuple[str, str, str], int], sids: Mapping[Pair, int]
) -> list[tuple[Any, ...]]:
    return sorted((sids[(name, queue)], state, n) for (name, queue, state), n in changes.items() if n)


def read_states(
    conn: sa.Connection, names: Sequence[str], queues: Sequence[str], states: Sequence[str]
) -> list[tuple[str, str, str, int]]:
    """(name, queue, state, jobs) from the current-state counters, zero rows left out."""
    c, s = state_counts.c, series.c
    stmt = sa.select(s.name, s.queue, c.state, c.n).join_from(
        state_counts, series, s.id == c.sid).where(c.n != 0)
    if names:
        stmt = stmt.where(s.name.in_(list(names)))
    if queues:
        stmt = stmt.where(s.queue.in_(list(queues)))
    if states:
        stmt = stmt.where(c.state.in_(list(states)))
    return [(name, queue, state, int(n)) for name, queue, state, n in conn.execute(stmt)]


def series_ids(
    conn: sa.Connection, names: Sequence[str], queues: Sequence[str]
) -> dict[int, Pair]:
    """The series matching the filter (all of them when it is empty)."""
    stmt = sa.select(series.c.id, series.c.name, series.c.queue)
    if names:
        stmt = stmt.where(series.c.name.in_(list(names)))
    if queues:
        stmt = stmt.where(series.c.queue.in_(list(queues)))
    return {sid: (name, queue) for sid, name, queue in conn.execute(stmt)}


def minute_horizon(conn: sa.Connection) -> float:
    """Per-minute roll-ups before this instant have been compacted away."""
    # Plain SQL: every span read asks, and building the Core statement cost more than this.
    row = conn.exec_driver_sql(
        f"SELECT value FROM {meta.name} WHERE key = 'minute_horizon'").first()
    return float(row[0]) if row is not None else -math.inf


def spans(since: float | None, until: float | None, horizon: float) -> list[tuple[int, Any, Any]]:
    """(resolution, lo, hi) pieces covering [since, until): whole days, then hours, then minutes at
    the edges.

    Edges older than the minute horizon widen to whole hours (either side), the finest data left.
    """
    lo = None if since is None else since // MINUTE * MINUTE
    hi = until
    if lo is not None and lo < horizon:
        lo = lo // HOUR * HOUR
    if hi is not None and math.floor(hi / HOUR) * HOUR < horizon:
        hi = math.ceil(hi / HOUR) * HOUR  # its partial last hour has no per-minute rows left
    if lo is None and hi is None:
        return [(ALL, None, None)]
    return _pieces(lo, hi, (DAY, HOUR, MINUTE))


def _pieces(lo: Any, hi: Any, steps: tuple[int, ...]) -> list[tuple[int, Any, Any]]:
    step, finer = steps[0], steps[1:]
    if not finer:
        return [(step, lo, hi)]
    first = None if lo is None else math.ceil(lo / step) * step
    last = None if hi is None else math.floor(hi / step) * step
    if first is not None and last is not None and first >= last:
        return _pieces(lo, hi, finer)
    out: list[tuple[int, Any, Any]] = [(step, first, last)]
    if lo is not None and first is not None and lo < first:
        out += _pieces(lo, first, finer)
    if hi is not None and last is not None and last < hi:
        out += _pieces(last, hi, finer)
    return out


def _span(table: sa.Table, res: int, lo: Any, hi: Any, sids: Iterable[int]) -> list[Any]:
    cond = [table.c.res == res, table.c.sid.in_(sorted(sids))]
    # Bound as integers: `t` is BIGINT, and PostgreSQL cannot use the index for a float bound.
    # For whole t, t >= x is t >= ceil(x) and t < x is t < ceil(x).
    if lo is not None:
        cond.append(table.c.t >= math.ceil(lo))
    if hi is not None:
        cond.append(table.c.t < math.ceil(hi))
    return cond


def read_histogram(
    conn: sa.Connection,
    kind: str,
    since: float | None,
    until: float | None,
    names: Sequence[str],
    queues: Sequence[str],
) -> tuple[dict[int, int], int, float, float | None, float | None]:
    pieces = spans(since, until, minute_horizon(conn))
    hist_sql, summary_sql = _histogram_sql(
        conn.dialect.name, tuple((a is not None, b is not None) for _, a, b in pieces),
        len(names), len(queues))
    params: list[Any] = []
    for res, a, b in pieces:
        params += [res, KIND_CODES[kind], *names, *queues]
        params += [math.ceil(x) for x in (a, b) if x is not None]  # `t` is whole seconds
    rows = conn.exec_driver_sql(hist_sql, tuple(params)).fetchall()
    filled = {int(bucket): int(count) for bucket, count in rows if count > 0}
    n, total, lo, hi = 0, 0.0, None, None
    for count, sum_, low, high in conn.exec_driver_sql(summary_sql, tuple(params)).fetchall():
        if count:
            n += int(count)
            total += float(sum_)
            lo = low if lo is None or (low is not None and low < lo) else lo
            hi = high if hi is None or (high is not None and high > hi) else hi
    if kind != "success":  # success instants have no histogram
        lo, hi = clamp_extremes(filled, lo, hi)
    return filled, n, total, lo, hi


@functools.lru_cache(maxsize=64)
def _histogram_sql(dialect: str, shape: tuple[tuple[bool, bool], ...], names: int,
                   queues: int) -> tuple[str, str]:
    """The merged histogram and the per-piece summaries of a span as two statements of
    primary-key ranges (UNION ALL, series chosen by a subquery): two round trips per read, and
    the SQL is built once per shape rather than per call (building it cost more than SQLite
    took to run it). Parameters per piece: res, kind, the names, the queues, then the lower and
    upper `t` bounds that the piece has."""
    mark = "%s" if dialect == "postgresql" else "?"
    chosen = " AND ".join(f"{column} IN ({', '.join([mark] * count)})"
                          for column, count in (("name", names), ("queue", queues)) if count)
    sids = f"SELECT id FROM {series.name}" + (f" WHERE {chosen}" if chosen else "")
    # PostgreSQL evaluates ARRAY(subquery) once and seeks the primary key by each id; as a
    # plain IN it may plan a join that scans every series' rows of the resolution instead.
    chosen_sids = f"= ANY(ARRAY({sids}))" if dialect == "postgresql" else f"IN ({sids})"
    where = []
    for has_lo, has_hi in shape:
        cond = f"res = {mark} AND kind = {mark} AND sid {chosen_sids}"
        cond += f" AND t >= {mark}" if has_lo else ""
        cond += f" AND t < {mark}" if has_hi else ""
        where.append(cond)
    hist = " UNION ALL ".join(
        f"SELECT bucket, sum(n) AS c FROM {rollup_hist.name} WHERE {w} GROUP BY bucket"
        for w in where)
    summary = " UNION ALL ".join(
        f"SELECT sum(n), sum(total), min(lo), max(hi) FROM {rollup_summary.name} WHERE {w}"
        for w in where)
    return f"SELECT bucket, sum(c) FROM ({hist}) AS pieces GROUP BY bucket", summary


def read_counts(
    conn: sa.Connection,
    since: float | None,
    until: float | None,
    names: Sequence[str],
    queues: Sequence[str],
    metrics: Sequence[str],
    step: int,
) -> list[tuple[int, str, str, str, int]]:
    sids = series_ids(conn, names, queues)
    if not sids:
        return []
    res = DAY if step % DAY == 0 else MINUTE if step < HOUR else HOUR  # per-bucket: never ALL
    c = rollup_counts
    cond = _span(c, res, None if since is None else since // res * res, until, sids)
    if metrics:
        cond.append(c.c.metric.in_([METRIC_CODES[m] for m in metrics]))
    bucket = c.c.t if step == res else (c.c.t // step) * step
    rows = conn.execute(
        sa.select(bucket.label("b"), c.c.sid, c.c.metric, sa.func.sum(c.c.n))
        .where(*cond)
        .group_by("b", c.c.sid, c.c.metric)
        .order_by("b")
    )
    return [
        (int(b), *sids[sid], METRICS[metric - 1], int(n)) for b, sid, metric, n in rows
    ]


def read_totals(
    conn: sa.Connection,
    since: float | None,
    until: float | None,
    names: Sequence[str],
    queues: Sequence[str],
    metrics: Sequence[str],
) -> list[tuple[str, str, str, int]]:
    sids = series_ids(conn, names, queues)
    if not sids:
        return []
    c = rollup_counts
    out: dict[tuple[str, str, str], int] = defaultdict(int)
    for res, a, b in spans(since, until, minute_horizon(conn)):
        cond = _span(c, res, a, b, sids)
        if metrics:
            cond.append(c.c.metric.in_([METRIC_CODES[m] for m in metrics]))
        rows = conn.execute(
            sa.select(c.c.sid, c.c.metric, sa.func.sum(c.c.n))
            .where(*cond)
            .group_by(c.c.sid, c.c.metric)
        )
        for sid, metric, n in rows:
            out[(*sids[sid], METRICS[metric - 1])] += int(n)
    return [(*key, n) for key, n in sorted(out.items()) if n]


_SHIFT = 1000
"""Added to duration buckets before merging them, so every real one is positive (buckets start
near -460, at 0.1 ms) and integer division floors the same way on every backend."""


def _merged_bucket(column: Any, merge: int) -> Any:
    if merge == 1:
        return column
    middle = (column + _SHIFT) // merge * merge - _SHIFT + merge // 2
    return sa.case((column == ZERO_BUCKET, ZERO_BUCKET), else_=middle)


def read_histograms(
    conn: sa.Connection,
    kind: str,
    since: float | None,
    until: float | None,
    names: Sequence[str],
    queues: Sequence[str],
    step: int | None,
    merge: int = 1,
) -> list[tuple[int, str, str, int, int]]:
    if merge < 1:
        raise ValueError("merge must be at least 1")
    sids = series_ids(conn, names, queues)
    if not sids:
        return []
    h = rollup_hist
    code = KIND_CODES[kind]
    bucket = _merged_bucket(h.c.bucket, merge).label("db")
    if step is None:
        start = 0 if since is None else math.floor(since)
        whole: dict[tuple[int, int], int] = defaultdict(int)
        for res, a, b in spans(since, until, minute_horizon(conn)):
            rows = conn.execute(
                sa.select(h.c.sid, bucket, sa.func.sum(h.c.n))
                .where(h.c.kind == code, *_span(h, res, a, b, sids))
                .group_by(h.c.sid, "db")
            )
            for sid, db, n in rows:
                whole[(sid, int(db))] += int(n)
        return [
            (start, *sids[sid], db, n) for (sid, db), n in sorted(whole.items()) if n > 0
        ]
    res = DAY if step % DAY == 0 else MINUTE if step < HOUR else HOUR  # as read_counts
    cond = _span(h, res, None if since is None else since // res * res, until, sids)
    t = h.c.t if step == res else (h.c.t // step) * step
    per_step = conn.execute(
        sa.select(t.label("b"), h.c.sid, bucket, sa.func.sum(h.c.n))
        .where(h.c.kind == code, *cond)
        .group_by("b", h.c.sid, "db")
        .order_by("b", h.c.sid, "db")
    ).fetchall()  # at once: a month of a busy name is thousands of rows, and fetchone per row
    # cost more than the query. `b` and `db` are integer expressions on both backends.
    return [(b, *sids[sid], db, int(n)) for b, sid, db, n in per_step if n > 0]


@functools.lru_cache(maxsize=8)
def _edge_sums_sqlite(edges: tuple[int, ...], kinds: tuple[int, ...]) -> Any:
    """All-time histogram rows summed per (series, kind) between consecutive edges, as one
    UNION ALL of primary-key range scans. SQLite has no hash aggregate: grouping by a CASE sorts
    every row (twice as slow at 1,000,000 jobs), while these ranges come in index order. On
    PostgreSQL the CASE with a hash aggregate is the faster one, so it keeps that. Built once per
    set of edges: a statement is immutable, and building this one costs more than running it."""
    h = rollup_hist
    every = (h.c.res == ALL, h.c.kind.in_(kinds), h.c.sid.in_(sa.select(series.c.id)), h.c.t == 0)
    parts = []
    below: int | None = None
    for edge in edges:
        rng = [h.c.bucket <= edge] if below is None else [h.c.bucket > below, h.c.bucket <= edge]
        parts.append(sa.select(h.c.sid, h.c.kind, sa.literal_column(str(edge)).label("b"),
                               sa.func.sum(h.c.n)).where(*every, *rng).group_by(h.c.kind, h.c.sid))
        below = edge
    parts.append(sa.select(h.c.sid, h.c.kind, h.c.bucket.label("b"), sa.func.sum(h.c.n))
                 .where(*every, h.c.bucket > below).group_by(h.c.kind, h.c.sid, h.c.bucket))
    return sa.union_all(*parts)


def read_series_totals(
    conn: sa.Connection, since: float | None, until: float | None, edges: Sequence[int] = ()
) -> RollupTotals:
    """Per-series sums: the all-time rows when unbounded (one per series and counter or bucket),
    else the hourly rows starting in [since, until) (bounds floored to the hour). Naming every
    series id lets each table seek (res, [kind,] sid, t) instead of scanning; rows come sorted by
    series id, so every mapping lists series in first-seen order."""
    sids = dict(sorted(series_ids(conn, (), ()).items()))
    out = RollupTotals(list(sids.values()), {}, {}, {})
    if not sids:
        return out
    res = ALL if since is None and until is None else HOUR
    lo = None if since is None else since // HOUR * HOUR
    hi = None if until is None else until // HOUR * HOUR
    durations = [KIND_CODES["run"], KIND_CODES["wait"]]
    c, h, s = rollup_counts, rollup_hist, rollup_summary
    # A series created after `sids` was read (a concurrent first job) waits for the next read.
    for sid, metric, n in conn.execute(
        sa.select(c.c.sid, c.c.metric, sa.func.sum(c.c.n))
        .where(*_span(c, res, lo, hi, sids))
        .group_by(c.c.sid, c.c.metric)
        .order_by(c.c.sid, c.c.metric)
    ).all():
        if sid in sids:
            out.counts[(*sids[sid], METRICS[metric - 1])] = int(n)
    if edges and res == ALL and conn.dialect.name == "sqlite":
        stmt = _edge_sums_sqlite(tuple(sorted(int(e) for e in edges)), tuple(durations))
    else:
        bucket: Any = h.c.bucket
        if edges:  # integers written into the SQL, so GROUP BY repeats the very same expression
            bucket = sa.case(*((h.c.bucket <= sa.literal_column(str(int(e))),
                                sa.literal_column(str(int(e)))) for e in sorted(edges)),
                             else_=h.c.bucket)
        stmt = (sa.select(h.c.sid, h.c.kind, bucket, sa.func.sum(h.c.n))
                .where(h.c.kind.in_(durations), *_span(h, res, lo, hi, sids))
                .group_by(h.c.sid, h.c.kind, bucket))
    # Sorted here, not in SQL: ordering by the CASE makes PostgreSQL sort every row before
    # grouping, where hashing them and sorting the few groups is about twice as fast.
    for sid, kind, b, n in sorted(tuple(row) for row in conn.execute(stmt)):
        if sid in sids:
            key = (*sids[sid], KINDS[kind - 1])
            hist = out.buckets.get(key)
            if hist is None:
                hist = out.buckets[key] = {}
            hist[int(b)] = int(n)
    for sid, kind, n, total in conn.execute(
        sa.select(s.c.sid, s.c.kind, sa.func.sum(s.c.n), sa.func.sum(s.c.total))
        .where(s.c.kind.in_(durations), *_span(s, res, lo, hi, sids))
        .group_by(s.c.sid, s.c.kind)
        .order_by(s.c.sid, s.c.kind)
    ).all():
        if sid in sids:
            out.summaries[(*sids[sid], KINDS[kind - 1])] = (int(n), float(total))
    return out
