"""Writing roll-up deltas at three resolutions and reading them back over a time span.

Roll-ups refer to a (name, queue) pair by its `series` id and to counters by small integer codes
(`rollup.METRIC_CODES`, `rollup.KIND_CODES`), so a row is a few integers. Writes go through the
driver's executemany with prepared SQL, since this is the ingest hot path.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from jobtrail.rollup import KIND_CODES, METRIC_CODES, METRICS, Delta
from jobtrail.sketch import clamp_extremes
from jobtrail.store.sql.schema import meta, rollup_counts, rollup_hist, rollup_summary, series

__all__ = [
    "ALL",
    "RESOLUTIONS",
    "SeriesCache",
    "minute_horizon",
    "read_counts",
    "read_histogram",
    "series_ids",
    "spans",
    "write",
]

MINUTE, HOUR, DAY = 60, 3600, 86400
ALL = 0
"""The all-time resolution: one bucket (t = 0) per series, for unbounded reads such as metrics."""
RESOLUTIONS = (MINUTE, HOUR, DAY, ALL)
"""Every delta lands at each resolution (UTC-aligned buckets); a long span reads whole days, its
edges hours, and its finest edges minutes while those are kept, so a read touches few rows."""


def bucket(t: int, res: int) -> int:
    return 0 if res == ALL else t // res * res
Pair = tuple[str, str]

_SQL = {
    "counts": "INSERT INTO rollup_counts (res, sid, t, metric, n) VALUES ({p}) "
    "ON CONFLICT (res, sid, t, metric) DO UPDATE SET n = rollup_counts.n + excluded.n",
    "hist": "INSERT INTO rollup_hist (res, kind, sid, t, bucket, n) VALUES ({p}) "
    "ON CONFLICT (res, kind, sid, t, bucket) DO UPDATE SET n = rollup_hist.n + excluded.n",
    "summary": "INSERT INTO rollup_summary AS s (res, kind, sid, t, n, total, lo, hi) VALUES ({p}) "
    "ON CONFLICT (res, kind, sid, t) DO UPDATE SET n = s.n + excluded.n, "
    "total = s.total + excluded.total, "
    "lo = CASE WHEN excluded.lo IS NULL THEN s.lo WHEN s.lo IS NULL OR excluded.lo < s.lo "
    "THEN excluded.lo ELSE s.lo END, "
    "hi = CASE WHEN excluded.hi IS NULL THEN s.hi WHEN s.hi IS NULL OR excluded.hi > s.hi "
    "THEN excluded.hi ELSE s.hi END",
}
_WIDTH = {"counts": 5, "hist": 6, "summary": 8}


def sql(dialect: str, which: str) -> str:
    mark = "%s" if dialect == "postgresql" else "?"
    return _SQL[which].format(p=", ".join([mark] * _WIDTH[which]))


class SeriesCache:
    """(name, queue) ⇄ series id. Ids never change, so a process caches them for good; ids made
    inside a transaction are only cached once it commits (`commit`)."""

    def __init__(self) -> None:
        self.ids: dict[Pair, int] = {}
        self.pending: dict[Pair, int] = {}

    def commit(self) -> None:
        self.ids.update(self.pending)
        self.pending.clear()

    def rollback(self) -> None:
        self.pending.clear()

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


def write(conn: sa.Connection, delta: Delta, cache: SeriesCache) -> None:
    """Add `delta` at both resolutions; rows sorted by key so concurrent writers never deadlock."""
    pairs = {(k[2], k[3]) for k in delta.counts}
    pairs.update((k[2], k[3]) for k, _ in delta.observed)
    pairs.update((k[2], k[3]) for k, _ in delta.retracted)
    if not pairs:
        return
    sids = cache.resolve(conn, pairs)
    counts: dict[tuple[int, ...], int] = defaultdict(int)
    hist: dict[tuple[int, ...], int] = defaultdict(int)
    for key, n in delta.counts.items():
        sid = sids[(key[2], key[3])]
        t = key[1]
        if key[0] == "c":
            code = METRIC_CODES[key[4]]
            for res in RESOLUTIONS:
                counts[(res, sid, bucket(t, res), code)] += n
        else:
            code = KIND_CODES[key[4]]
            for res in RESOLUTIONS:
                hist[(res, code, sid, bucket(t, res), key[5])] += n
    summary: dict[tuple[int, ...], list[Any]] = {}
    for sign, items in ((1, delta.observed), (-1, delta.retracted)):
        for key, value in items:
            sid = sids[(key[2], key[3])]
            code = KIND_CODES[key[4]]
            for res in RESOLUTIONS:
                s = summary.setdefault((res, code, sid, bucket(key[1], res)), [0, 0.0, None, None])
                s[0] += sign
                s[1] += sign * value
                if sign > 0:
                    s[2] = value if s[2] is None or value < s[2] else s[2]
                    s[3] = value if s[3] is None or value > s[3] else s[3]
    dialect = conn.dialect.name
    rows: list[tuple[Any, ...]] = [(*k, n) for k, n in sorted(counts.items()) if n]
    if rows:
        conn.exec_driver_sql(sql(dialect, "counts"), rows)
    rows = [(*k, n) for k, n in sorted(hist.items()) if n]
    if rows:
        conn.exec_driver_sql(sql(dialect, "hist"), rows)
    rows = [(*k, *s) for k, s in sorted(summary.items())]
    if rows:
        conn.exec_driver_sql(sql(dialect, "summary"), rows)


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
    value = conn.execute(
        sa.select(meta.c.value).where(meta.c.key == "minute_horizon")
    ).scalar_one_or_none()
    return float(value) if value is not None else -math.inf


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
    buckets: dict[int, int] = defaultdict(int)
    n, total, lo, hi = 0, 0.0, None, None
    sids = series_ids(conn, names, queues)
    if not sids:
        return {}, 0, 0.0, None, None
    code = KIND_CODES[kind]
    for res, a, b in spans(since, until, minute_horizon(conn)):
        h = rollup_hist
        rows = conn.execute(
            sa.select(h.c.bucket, sa.func.sum(h.c.n))
            .where(h.c.kind == code, *_span(h, res, a, b, sids))
            .group_by(h.c.bucket)
        )
        for bucket, count in rows:
            buckets[bucket] += int(count)
        s = rollup_summary
        row = conn.execute(
            sa.select(sa.func.sum(s.c.n), sa.func.sum(s.c.total), sa.func.min(s.c.lo),
                      sa.func.max(s.c.hi))
            .where(s.c.kind == code, *_span(s, res, a, b, sids))
        ).one()
        if row[0]:
            n += int(row[0])
            total += float(row[1])
            lo = row[2] if lo is None or (row[2] is not None and row[2] < lo) else lo
            hi = row[3] if hi is None or (row[3] is not None and row[3] > hi) else hi
    filled = {b: c for b, c in buckets.items() if c > 0}
    if kind != "success":  # success instants have no histogram
        lo, hi = clamp_extremes(filled, lo, hi)
    return filled, n, total, lo, hi


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
