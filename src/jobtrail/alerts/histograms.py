"""Run-time histograms of every job name at once, for rules that look at each name.

`Store.rollup_histogram` merges the series it is given into one histogram, so N names cost N reads
(a few queries each). On the SQL store this reads the same roll-up rows, over the same spans
(`rollups.spans`: whole hours, minutes at the edges), in one grouped query per span, seeking the
primary key by series id. Other stores fall back to one `rollup_histogram` call per name.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from jobtrail.rollup import KIND_CODES
from jobtrail.sketch import clamp_extremes
from jobtrail.store.base import RollupHistogram, Store
from jobtrail.store.sql import rollups
from jobtrail.store.sql.schema import rollup_hist, rollup_summary

__all__ = ["histograms_by_name"]


def histograms_by_name(
    store: Store, kind: str, since: float, until: float, names: Sequence[str]
) -> dict[str, RollupHistogram]:
    """The `kind` histogram of each of `names` over [since, until), as `rollup_histogram` gives it
    for that one name."""
    if not names:
        return {}
    engine = getattr(store, "engine", None)
    if not isinstance(engine, sa.Engine):
        return {n: store.rollup_histogram(kind, since, until, names=[n]) for n in names}
    with engine.connect() as conn:
        return _grouped(conn, kind, since, until, names)


def _bounds(table: sa.Table, res: int, lo: Any, hi: Any, sids: list[int]) -> list[Any]:
    cond = [table.c.res == res, table.c.sid.in_(sids)]
    if lo is not None:
        cond.append(table.c.t >= math.ceil(lo))  # `t` is whole seconds: bind integers
    if hi is not None:
        cond.append(table.c.t < math.ceil(hi))
    return cond


def _grouped(
    conn: sa.Connection, kind: str, since: float, until: float, names: Sequence[str]
) -> dict[str, RollupHistogram]:
    series = rollups.series_ids(conn, names, ())
    if not series:
        return {}
    sids = sorted(series)
    code = KIND_CODES[kind]
    buckets: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    summary: dict[str, list[Any]] = {}
    h, s = rollup_hist, rollup_summary
    for res, a, b in rollups.spans(since, until, rollups.minute_horizon(conn)):
        for sid, bucket, count in conn.execute(
            sa.select(h.c.sid, h.c.bucket, sa.func.sum(h.c.n))
            .where(h.c.kind == code, *_bounds(h, res, a, b, sids))
            .group_by(h.c.sid, h.c.bucket)
        ):
            buckets[series[sid][0]][bucket] += int(count)
        for sid, n, total, lo, hi in conn.execute(
            sa.select(s.c.sid, sa.func.sum(s.c.n), sa.func.sum(s.c.total), sa.func.min(s.c.lo),
                      sa.func.max(s.c.hi))
            .where(s.c.kind == code, *_bounds(s, res, a, b, sids))
            .group_by(s.c.sid)
        ):
            if not n:
                continue
            acc = summary.setdefault(series[sid][0], [0, 0.0, None, None])
            acc[0] += int(n)
            acc[1] += float(total)
            acc[2] = lo if acc[2] is None or (lo is not None and lo < acc[2]) else acc[2]
            acc[3] = hi if acc[3] is None or (hi is not None and hi > acc[3]) else acc[3]
    out: dict[str, RollupHistogram] = {}
    for name in set(buckets) | set(summary):
        filled = {b: c for b, c in buckets.get(name, {}).items() if c > 0}
        n, total, lo, hi = summary.get(name, [0, 0.0, None, None])
        lo, hi = clamp_extremes(filled, lo, hi)
        out[name] = (filled, n, total, lo, hi)
    return out
