"""Roll-up reads over long spans, with their whole past hours kept for a few minutes per process.

A 14-day overview reads every hourly row of every job name; refreshing it a minute later reads
them all again, though whole past hours change only when a late event arrives about them. So the
whole hours of a span are read once and kept for `KEEP_TTL` seconds, and each call re-reads only
the partial hours at its edges. A late event about a kept hour shows once the entry expires.
"""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from jobtrail.sketch import clamp_extremes
from jobtrail.store.base import RollupHistogram, Store

__all__ = ["KEEP_TTL", "forget", "histogram", "histograms", "histograms_per_step",
           "step_histograms", "totals"]

KEEP_TTL = 300.0
"""Seconds a process keeps what it read of whole past hours (read at each call: set it to 0 to
read everything afresh every time)."""
HOUR = 3600
_MAX = 32
"""Entries kept at most: a busy name's 14-day histograms per step are ~20,000 small rows."""
_kept: dict[tuple[Any, ...], tuple[float, Any]] = {}
_lock = threading.Lock()
T = TypeVar("T")


def forget() -> None:
    """Drop everything kept (benchmarks time a first page load with it)."""
    with _lock:
        _kept.clear()


def _ttl(ttl: float | None) -> float:
    return KEEP_TTL if ttl is None else ttl


def _keep(key: tuple[Any, ...], read: Callable[[], T], ttl: float) -> T:
    clock = time.monotonic()
    with _lock:
        hit = _kept.get(key)
    if hit is not None and clock - hit[0] <= ttl:
        value: T = hit[1]
        return value
    value = read()
    with _lock:
        for old in [k for k, (made, _) in _kept.items() if clock - made > ttl]:
            del _kept[old]
        _kept[key] = (clock, value)
        for old in sorted(_kept, key=lambda k: _kept[k][0])[: max(0, len(_kept) - _MAX)]:
            del _kept[old]
    return value


def _split(since: float, until: float) -> tuple[int, int] | None:
    """The whole hours [h0, h1) inside [since, until), or None when there are none."""
    h0 = math.ceil(since / HOUR) * HOUR
    h1 = math.floor(until / HOUR) * HOUR
    return (h0, h1) if h0 < h1 else None


def totals(store: Store, since: float, until: float, names: Sequence[str] = (),
           queues: Sequence[str] = (), metrics: Sequence[str] = (),
           ttl: float | None = None) -> list[tuple[str, str, str, int]]:
    """`store.rollup_totals(since, until, …)`, its whole hours kept."""
    hours, ttl = _split(since, until), _ttl(ttl)
    if hours is None or ttl <= 0:
        return store.rollup_totals(since, until, names, queues, metrics)
    h0, h1 = hours
    key = ("totals", store.url, h0, h1, tuple(names), tuple(queues), tuple(metrics))
    middle = _keep(key, lambda: store.rollup_totals(h0, h1, names, queues, metrics), ttl)
    out: dict[tuple[str, str, str], int] = defaultdict(int)
    for part in (store.rollup_totals(since, h0, names, queues, metrics) if since < h0 else [],
                 middle,
                 store.rollup_totals(h1, until, names, queues, metrics) if h1 < until else []):
        for name, queue, metric, n in part:
            out[(name, queue, metric)] += n
    return [(*k, n) for k, n in sorted(out.items()) if n]


def histograms(store: Store, kind: str, since: float, until: float, names: Sequence[str] = (),
               queues: Sequence[str] = (), ttl: float | None = None) -> list[
    tuple[int, str, str, int, int]
]:
    """`store.rollup_histograms(kind, since, until, …)` over the whole span (step None), its
    whole hours kept."""
    hours, ttl = _split(since, until), _ttl(ttl)
    if hours is None or ttl <= 0:
        return store.rollup_histograms(kind, since, until, names, queues)
    h0, h1 = hours
    key = ("hist", store.url, kind, h0, h1, tuple(names), tuple(queues))
    middle = _keep(key, lambda: store.rollup_histograms(kind, h0, h1, names, queues), ttl)
    out: dict[tuple[str, str, int], int] = defaultdict(int)
    for part in (store.rollup_histograms(kind, since, h0, names, queues) if since < h0 else [],
                 middle,
                 store.rollup_histograms(kind, h1, until, names, queues) if h1 < until else []):
        for _, name, queue, bucket, n in part:
            out[(name, queue, bucket)] += n
    start = math.floor(since)
    return [(start, *k, n) for k, n in sorted(out.items()) if n > 0]


def histograms_per_step(store: Store, kind: str, since: int, until: float, step: int,
                        names: Sequence[str] = (), queues: Sequence[str] = (), merge: int = 1,
                        ttl: float | None = None) -> list[tuple[int, str, str, int, int]]:
    """`store.rollup_histograms(kind, since, until, …, step, merge)` from a step-aligned `since`,
    the buckets that ended before the current one kept."""
    full, ttl = math.floor(until / step) * step, _ttl(ttl)
    if full <= since or ttl <= 0:
        return store.rollup_histograms(kind, since, until, names, queues, step, merge)
    key = ("steps", store.url, kind, since, full, tuple(names), tuple(queues), step, merge)
    past = _keep(key, lambda: store.rollup_histograms(kind, since, full, names, queues, step,
                                                      merge), ttl)
    live = store.rollup_histograms(kind, full, until, names, queues, step, merge) if (
        full < until) else []
    return [*past, *live]


def histogram(store: Store, kind: str, since: float, until: float, names: Sequence[str] = (),
              queues: Sequence[str] = (), ttl: float | None = None) -> RollupHistogram:
    """`store.rollup_histogram(kind, since, until, …)`, its whole hours kept (the edges add the
    minutes either side: two small reads instead of every day of the span)."""
    hours, ttl = _split(since, until), _ttl(ttl)
    if hours is None or ttl <= 0:
        return store.rollup_histogram(kind, since, until, names, queues)
    h0, h1 = hours
    key = ("histogram", store.url, kind, h0, h1, tuple(names), tuple(queues))
    parts = [_keep(key, lambda: store.rollup_histogram(kind, h0, h1, names, queues), ttl)]
    if since < h0:
        parts.append(store.rollup_histogram(kind, since, h0, names, queues))
    if h1 < until:
        parts.append(store.rollup_histogram(kind, h1, until, names, queues))
    buckets: dict[int, int] = defaultdict(int)
    n, total, lo, hi = 0, 0.0, None, None
    for part_buckets, part_n, part_total, part_lo, part_hi in parts:
        for bucket, count in part_buckets.items():
            buckets[bucket] += count
        n += part_n
        total += part_total
        lo = part_lo if lo is None or (part_lo is not None and part_lo < lo) else lo
        hi = part_hi if hi is None or (part_hi is not None and part_hi > hi) else hi
    filled = {b: c for b, c in buckets.items() if c > 0}
    if kind != "success":  # as the store does: success instants have no histogram
        lo, hi = clamp_extremes(filled, lo, hi)
    return filled, n, total, lo, hi


def step_histograms(store: Store, kind: str, since: int, until: float, step: int,
                    names: Sequence[str] = (), queues: Sequence[str] = (), merge: int = 1,
                    ttl: float | None = None) -> tuple[dict[int, dict[int, int]],
                                                       list[tuple[int, int, int]]]:
    """`histograms_per_step` merged over the series: the kept buckets that ended before the
    current one as {bucket start: {duration bucket: n}} (shared: read-only), and the live
    rows (bucket start, duration bucket, n) after them. Keeping them merged spares a page
    re-merging some 20,000 kept rows on every load."""
    full, ttl = math.floor(until / step) * step, _ttl(ttl)

    def merged(rows: list[tuple[int, str, str, int, int]]) -> dict[int, dict[int, int]]:
        out: dict[int, dict[int, int]] = {}
        for t, _, _, bucket, n in rows:
            per = out.get(t)
            if per is None:
                per = out[t] = {}
            per[bucket] = per.get(bucket, 0) + n
        return out

    if full <= since or ttl <= 0:
        past: dict[int, dict[int, int]] = {}
        live_from: float = since
    else:
        key = ("merged steps", store.url, kind, since, full, tuple(names), tuple(queues), step,
               merge)
        past = _keep(key, lambda: merged(store.rollup_histograms(
            kind, since, full, names, queues, step, merge)), ttl)
        live_from = full
    live = [(t, bucket, n) for t, _, _, bucket, n in store.rollup_histograms(
        kind, live_from, until, names, queues, step, merge)] if live_from < until else []
    return past, live
