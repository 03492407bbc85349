"""Time series for charts, read from the roll-ups: counts, percentiles and load per time bucket.

Every chart on the dashboard is one `Series`: a fixed step, named columns, and one point per bucket
with empty buckets filled (zeros for counts, None where a ratio or percentile is undefined), so a
chart never has to guess where data is missing.
"""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jobtrail.insights import kept
from jobtrail.sketch import quantiles
from jobtrail.store.base import Store

__all__ = [
    "BASE_TTL",
    "MINUTE_ROLLUPS_KEPT",
    "STEPS",
    "Levels",
    "Series",
    "choose_step",
    "count_series",
    "counts_and_load",
    "forget_levels",
    "grid",
    "level_at",
    "load",
    "percentile_series",
    "percentiles_of",
    "ratio_series",
    "step_histograms",
]

STEPS = (60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800)
"""Bucket steps in seconds: each divides an hour or is whole hours, as the roll-up reads need."""
MAX_POINTS = 300
MINUTE_ROLLUPS_KEPT = 7 * 86400.0
"""Seconds of per-minute roll-ups a store keeps by default (`Settings.minute_rollup_days`); older
windows are read by the hour, the finest data left there."""
LOAD = ("load:queued", "load:running")

Value = float | None


@dataclass(frozen=True, slots=True)
class Series:
    """`points` are (bucket start, [one value per name]) every `step` seconds, oldest first."""

    step: int
    names: tuple[str, ...]
    points: list[tuple[float, list[Value]]]

    def column(self, name: str) -> list[tuple[float, Value]]:
        """(t, value) pairs of one named column, as a chart's series wants them."""
        i = self.names.index(name)
        return [(t, values[i]) for t, values in self.points]

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "names": list(self.names),
            "points": [[t, list(values)] for t, values in self.points],
        }


def choose_step(since: float, until: float, now: float | None = None,
                max_points: int = MAX_POINTS, days_from: float | None = None) -> int:
    """The smallest step giving at most `max_points` buckets over [since, until) (so 1 h → 1 min,
    24 h → 5 min, 14 d → 2 h); at least an hour when the window is older than the per-minute
    roll-ups are kept; whole days when the window spans `days_from` seconds or more (read from
    the daily roll-ups: a 30-day chart then costs 30 rows per series and duration bucket, not
    720)."""
    span = max(0.0, until - since)
    old = now is not None and since < now - MINUTE_ROLLUPS_KEPT
    days = days_from is not None and span >= days_from
    for step in STEPS:
        if (old and step < 3600) or (days and step % 86400):
            continue
        if span / step <= max_points:
            return step
    return math.ceil(span / max_points / STEPS[-1]) * STEPS[-1]


def grid(since: float, until: float, step: int) -> list[int]:
    """Bucket starts covering [since, until): multiples of `step`, as the roll-up reads align them."""
    t = int(since // step * step)
    out = []
    while t < until:
        out.append(t)
        t += step
    return out


def _sums(store: Store, starts: list[int], until: float, step: int, metrics: Sequence[str],
          names: Sequence[str], queues: Sequence[str]) -> dict[tuple[int, str], int]:
    sums: dict[tuple[int, str], int] = defaultdict(int)
    if starts:
        for t, _, _, metric, n in store.rollup_counts(starts[0], until, names, queues, metrics,
                                                      step):
            sums[(t, metric)] += n
    return sums


def _counts(starts: list[int], step: int, sums: dict[tuple[int, str], int],
            metrics: Sequence[str], columns: Sequence[str]) -> Series:
    return Series(
        step=step,
        names=tuple(columns or metrics),
        points=[(float(t), [float(sums.get((t, m), 0)) for m in metrics]) for t in starts],
    )


def count_series(
    store: Store,
    since: float,
    until: float,
    step: int,
    metrics: Sequence[str],
    names: Sequence[str] = (),
    queues: Sequence[str] = (),
    columns: Sequence[str] = (),
) -> Series:
    """Counters (e.g. "entered:failed") summed over the matching series per bucket, zero-filled;
    `columns` names them (default: the metric names)."""
    starts = grid(since, until, step)
    return _counts(starts, step, _sums(store, starts, until, step, metrics, names, queues),
                   metrics, columns)


def counts_and_load(
    store: Store,
    since: float,
    until: float,
    step: int,
    metrics: Sequence[str],
    names: Sequence[str] = (),
    queues: Sequence[str] = (),
    columns: Sequence[str] = (),
) -> tuple[Series, Series]:
    """`count_series` and `load` over the same window from one read of the roll-ups (per-minute
    rows are many at a million jobs; reading them once halves a page's cost)."""
    starts = grid(since, until, step)
    sums = _sums(store, starts, until, step, (*metrics, *LOAD), names, queues)
    return (_counts(starts, step, sums, metrics, columns),
            _load(store, starts, step, sums, names, queues, None))


def ratio_series(counts: Series, part: str, name: str = "failure_rate") -> Series:
    """part ÷ the sum of all columns per bucket (e.g. failed ÷ (succeeded + failed)); None where
    the sum is zero."""
    i = counts.names.index(part)
    points: list[tuple[float, list[Value]]] = []
    for t, values in counts.points:
        total = sum(v or 0.0 for v in values)
        points.append((t, [(values[i] or 0.0) / total if total else None]))
    return Series(step=counts.step, names=(name,), points=points)


Histograms = dict[int, dict[int, int]]
"""Duration histograms (sketch bucket → count) per bucket start."""


def step_histograms(store: Store, kind: str, since: float, until: float, step: int,
                    names: Sequence[str] = (), queues: Sequence[str] = (),
                    merge: int = 1) -> Histograms:
    """The roll-up histograms of `kind` per bucket, merged over the matching series: one read
    that percentile charts and heatmaps can share (`merge` as in `Store.rollup_histograms`);
    buckets that ended before the current one are kept a few minutes (`insights.kept`), already
    merged. Treat the result as read-only: it shares those kept buckets."""
    starts = grid(since, until, step)
    if not starts:
        return {}
    past, live = kept.step_histograms(store, kind, starts[0], until, step, names, queues, merge)
    hist: Histograms = dict(past)
    for t, bucket, n in live:
        if t not in hist or hist[t] is past.get(t):
            hist[t] = dict(hist.get(t, {}))
        hist[t][bucket] = hist[t].get(bucket, 0) + n
    return hist


def percentiles_of(hist: Histograms, since: float, until: float, step: int,
                   qs: Sequence[float] = (0.5, 0.95)) -> Series:
    """Percentiles per bucket of `step_histograms`' result (within the sketch's 1 %), None in
    buckets with no observation; columns are named "p50", "p95"…"""
    points: list[tuple[float, list[Value]]] = []
    for t in grid(since, until, step):
        if t in hist:
            q = quantiles(hist[t], qs)
            points.append((float(t), [q[x] for x in qs]))
        else:
            points.append((float(t), [None for _ in qs]))
    return Series(step=step, names=tuple(f"p{round(q * 100)}" for q in qs), points=points)


def percentile_series(
    store: Store,
    kind: str,
    since: float,
    until: float,
    step: int,
    names: Sequence[str] = (),
    queues: Sequence[str] = (),
    qs: Sequence[float] = (0.5, 0.95),
) -> Series:
    """Percentiles of `kind` ("run" or "wait") per bucket from the roll-up histograms."""
    hist = step_histograms(store, kind, since, until, step, names, queues)
    return percentiles_of(hist, since, until, step, qs)


BASE_TTL = 300.0
"""Seconds a process reuses an all-history load sum (see `Levels`; read at each call: set it to
0 to sum afresh every time)."""
Level = tuple[int, int]
_BASES: dict[tuple[str, tuple[str, ...], tuple[str, ...]], dict[int, tuple[float, Level]]] = {}
_BASES_LOCK = threading.Lock()


def forget_levels() -> None:
    """Drop the kept all-history load sums and whole hours (benchmarks time a first page load
    with it)."""
    kept.forget()
    with _BASES_LOCK:
        _BASES.clear()


class Levels:
    """Load levels at several instants for the price of one sum over all history: the level at
    `origin` (rounded down to the hour), then only the deltas after it for each later instant.

    That sum reads every hourly load row before the origin (the slowest read of a page at a
    million jobs), so a process keeps it for `ttl` seconds and later windows add only the hours
    since: a late event about a time before a kept origin shows once the sum is redone.
    `ttl=0` always sums afresh.
    """

    def __init__(self, store: Store, origin: float, names: Sequence[str] = (),
                 queues: Sequence[str] = (), ttl: float | None = None) -> None:
        self.store, self.names, self.queues = store, names, queues
        self.origin = int(origin // 3600 * 3600)
        ttl = BASE_TTL if ttl is None else ttl
        self.base = self._base(ttl) if ttl > 0 else self._sum(None, self.origin)

    def _base(self, ttl: float) -> Level:
        key = (self.store.url, tuple(self.names), tuple(self.queues))
        clock = time.monotonic()
        with _BASES_LOCK:
            kept = _BASES.setdefault(key, {})
            for hour in [h for h, (made, _) in kept.items() if clock - made > ttl]:
                del kept[hour]
            usable = [h for h in kept if h <= self.origin]
            best = max(usable) if usable else None
            base = kept[best][1] if best is not None else None
        if best is None or base is None:
            level = self._sum(None, self.origin)
        else:
            more = self._sum(best, self.origin) if best < self.origin else (0, 0)
            level = (base[0] + more[0], base[1] + more[1])
        with _BASES_LOCK:
            kept = _BASES.setdefault(key, {})
            if best is None:
                kept[self.origin] = (clock, level)
                while len(kept) > 64:
                    del kept[min(kept, key=lambda h: kept[h][0])]
        return level

    def _sum(self, since: float | None, until: float) -> Level:
        level = {m: 0 for m in LOAD}
        for _, _, metric, n in self.store.rollup_totals(since, until, self.names, self.queues,
                                                        LOAD):
            level[metric] += n
        return level["load:queued"], level["load:running"]

    def raw(self, at: float) -> tuple[int, int]:
        """The running sums (which a late event can leave briefly negative) before `at`'s minute."""
        at = at // 60 * 60
        if at < self.origin:
            return self._sum(None, at)
        queued, running = self._sum(self.origin, at) if at > self.origin else (0, 0)
        return self.base[0] + queued, self.base[1] + running

    def at(self, at: float) -> tuple[int, int]:
        """(queued, running) at the start of the minute holding `at` (of the hour, once per-minute
        roll-ups are compacted)."""
        queued, running = self.raw(at)
        return max(0, queued), max(0, running)


def level_at(store: Store, at: float, names: Sequence[str] = (),
             queues: Sequence[str] = ()) -> tuple[int, int]:
    """(queued, running) at the start of the minute holding `at`: every load delta before it."""
    return Levels(store, at, names, queues).at(at)


def load(store: Store, since: float, until: float, step: int, names: Sequence[str] = (),
         queues: Sequence[str] = (), levels: Levels | None = None) -> Series:
    """Queued and running jobs at the end of each bucket (like `query.load_series`), the level
    before the window summed in the database rather than read row by row; pass `levels` (for the
    same names and queues) to share that sum between several windows."""
    starts = grid(since, until, step)
    return _load(store, starts, step, _sums(store, starts, until, step, LOAD, names, queues),
                 names, queues, levels)


def _load(store: Store, starts: list[int], step: int, deltas: dict[tuple[int, str], int],
          names: Sequence[str], queues: Sequence[str], levels: Levels | None) -> Series:
    if not starts:
        return Series(step=step, names=("queued", "running"), points=[])
    levels = levels or Levels(store, starts[0], names, queues)
    queued, running = levels.raw(starts[0])
    points: list[tuple[float, list[Value]]] = []
    for t in starts:
        queued += deltas.get((t, "load:queued"), 0)
        running += deltas.get((t, "load:running"), 0)
        points.append((float(t), [float(max(0, queued)), float(max(0, running))]))
    return Series(step=step, names=("queued", "running"), points=points)
