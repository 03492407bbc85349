"""Writing roll-up deltas at two resolutions and reading them back over a time span."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from jobtrail.rollup import Delta
from jobtrail.store.sql.schema import meta, rollup_counts, rollup_hist, rollup_summary

__all__ = ["RESOLUTIONS", "minute_horizon", "read_counts", "read_histogram", "spans", "write"]

MINUTE, HOUR = 60, 3600
RESOLUTIONS = (MINUTE, HOUR)


def _upsert(dialect: str, table: sa.Table, keys: Sequence[str]) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(table)
    ex = stmt.excluded
    if table is rollup_summary:
        c = table.c
        updates = {
            "n": c.n + ex.n,
            "total": c.total + ex.total,
            "lo": sa.case((ex.lo.is_(None), c.lo), (c.lo.is_(None), ex.lo),
                          (ex.lo < c.lo, ex.lo), else_=c.lo),
            "hi": sa.case((ex.hi.is_(None), c.hi), (c.hi.is_(None), ex.hi),
                          (ex.hi > c.hi, ex.hi), else_=c.hi),
        }
    else:
        updates = {"n": table.c.n + ex.n}
    return stmt.on_conflict_do_update(index_elements=list(keys), set_=updates)


_statements: dict[tuple[str, str], Any] = {}


def _statement(dialect: str, table: sa.Table) -> Any:
    key = (dialect, table.name)
    if key not in _statements:
        _statements[key] = _upsert(dialect, table, [c.name for c in table.primary_key.columns])
    return _statements[key]


def write(conn: sa.Connection, delta: Delta) -> None:
    """Add `delta` to both resolutions; upserts in a fixed key order so writers never deadlock."""
    dialect = conn.dialect.name
    counts: dict[tuple[Any, ...], int] = defaultdict(int)
    hist: dict[tuple[Any, ...], int] = defaultdict(int)
    for key, n in delta.counts.items():
        for res in RESOLUTIONS:
            t = key[1] // res * res
            if key[0] == "c":
                counts[(res, key[2], t, key[3], key[4])] += n
            else:
                hist[(res, key[4], key[2], t, key[3], key[5])] += n
    summary: dict[tuple[Any, ...], list[Any]] = {}
    for sign, items in ((1, delta.observed), (-1, delta.retracted)):
        for key, value in items:
            for res in RESOLUTIONS:
                k = (res, key[4], key[2], key[1] // res * res, key[3])
                s = summary.setdefault(k, [0, 0.0, None, None])
                s[0] += sign
                s[1] += sign * value
                if sign > 0:
                    s[2] = value if s[2] is None else min(s[2], value)
                    s[3] = value if s[3] is None else max(s[3], value)
    if counts:
        rows = [
            {"res": k[0], "name": k[1], "t": k[2], "queue": k[3], "metric": k[4], "n": n}
            for k, n in sorted(counts.items()) if n
        ]
        if rows:
            conn.execute(_statement(dialect, rollup_counts), rows)
    if hist:
        rows = [
            {"res": k[0], "kind": k[1], "name": k[2], "t": k[3], "queue": k[4], "bucket": k[5],
             "n": n}
            for k, n in sorted(hist.items()) if n
        ]
        if rows:
            conn.execute(_statement(dialect, rollup_hist), rows)
    if summary:
        rows = [
            {"res": k[0], "kind": k[1], "name": k[2], "t": k[3], "queue": k[4], "n": s[0],
             "total": s[1], "lo": s[2], "hi": s[3]}
            for k, s in sorted(summary.items())
        ]
        conn.execute(_statement(dialect, rollup_summary), rows)


def minute_horizon(conn: sa.Connection) -> float:
    """Per-minute roll-ups before this instant have been compacted away."""
    value = conn.execute(
        sa.select(meta.c.value).where(meta.c.key == "minute_horizon")
    ).scalar_one_or_none()
    return float(value) if value is not None else -math.inf


def spans(since: float | None, until: float | None, horizon: float) -> list[tuple[int, Any, Any]]:
    """(resolution, lo, hi) pieces covering [since, until): whole hours, minutes at the edges.

    Edges older than the minute horizon widen to whole hours, the finest data left for them.
    """
    lo = None if since is None else since // MINUTE * MINUTE
    hi = until
    if lo is not None and lo < horizon:
        lo = lo // HOUR * HOUR
    first_hour = None if lo is None else math.ceil(lo / HOUR) * HOUR
    last_hour = None if hi is None else math.floor(hi / HOUR) * HOUR
    if first_hour is not None and last_hour is not None and first_hour >= last_hour:
        return [(MINUTE, lo, hi)]
    out: list[tuple[int, Any, Any]] = [(HOUR, first_hour, last_hour)]
    if lo is not None and first_hour is not None and lo < first_hour:
        out.append((MINUTE, lo, first_hour))
    if hi is not None and last_hour is not None and last_hour < hi:
        out.append((MINUTE, last_hour, hi))
    return out


def _span_filter(table: sa.Table, res: int, lo: Any, hi: Any, names: Sequence[str],
                 queues: Sequence[str]) -> list[Any]:
    cond = [table.c.res == res]
    if lo is not None:
        cond.append(table.c.t >= lo)
    if hi is not None:
        cond.append(table.c.t < hi)
    if names:
        cond.append(table.c.name.in_(list(names)))
    if queues:
        cond.append(table.c.queue.in_(list(queues)))
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
    for res, a, b in spans(since, until, minute_horizon(conn)):
        h = rollup_hist
        rows = conn.execute(
            sa.select(h.c.bucket, sa.func.sum(h.c.n))
            .where(h.c.kind == kind, *_span_filter(h, res, a, b, names, queues))
            .group_by(h.c.bucket)
        )
        for bucket, count in rows:
            buckets[bucket] += int(count)
        s = rollup_summary
        row = conn.execute(
            sa.select(sa.func.sum(s.c.n), sa.func.sum(s.c.total), sa.func.min(s.c.lo),
                      sa.func.max(s.c.hi))
            .where(s.c.kind == kind, *_span_filter(s, res, a, b, names, queues))
        ).one()
        if row[0]:
            n += int(row[0])
            total += float(row[1])
            lo = row[2] if lo is None or (row[2] is not None and row[2] < lo) else lo
            hi = row[3] if hi is None or (row[3] is not None and row[3] > hi) else hi
    return {b: c for b, c in buckets.items() if c > 0}, n, total, lo, hi


def read_counts(
    conn: sa.Connection,
    since: float | None,
    until: float | None,
    names: Sequence[str],
    queues: Sequence[str],
    metrics: Sequence[str],
    step: int,
) -> list[tuple[int, str, str, str, int]]:
    res = MINUTE if step < HOUR else HOUR
    c = rollup_counts
    cond = _span_filter(c, res, None if since is None else since // res * res, until, names,
                        queues)
    if metrics:
        cond.append(c.c.metric.in_(list(metrics)))
    bucket = c.c.t if step == res else (c.c.t // step) * step
    rows = conn.execute(
        sa.select(bucket.label("b"), c.c.name, c.c.queue, c.c.metric, sa.func.sum(c.c.n))
        .where(*cond)
        .group_by("b", c.c.name, c.c.queue, c.c.metric)
        .order_by("b")
    )
    return [(int(b), name, queue, metric, int(n)) for b, name, queue, metric, n in rows]
