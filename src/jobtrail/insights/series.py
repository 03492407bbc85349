"""Time series for charts, read from the roll-ups: counts, percentiles and load per time bucket.

Every chart on the dashboard is one `Series`: a fixed step, named columns, and one point per bucket
with empty buckets filled (zeros for counts, None where a ratio or percentile is undefined), so a
chart never has to guess where data is missing.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jobtrail.sketch import quantiles
from jobtrail.store.base import Store

__all__ = [
    "MINUTE_ROLLUPS_KEPT",
    "STEPS",
    "Levels",
    "Series",
    "choose_step",
    "count_series",
    "grid",
    "level_at",
    "load",
    "percentile_series",
    "ratio_series",
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
                max_points: int = MAX_POINTS) -> int:
    """The smallest step giving at most `max_points` buckets over [since, until) (so 1 h → 1 min,
    24 h → 5 min, 14 d → 2 h); at least an hour when the window is older than the per-minute
    roll-ups are kept."""
    span = max(0.0, until - since)
    old = now is not None and since < now - MINUTE_ROLLUPS_KEPT
    for step in STEPS:
        if old and step < 3600:
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
    sums: dict[tuple[int, str], int] = defaultdict(int)
    if starts:
        for t, _, _, metric, n in store.rollup_counts(starts[0], until, names, queues, metrics,
                                                      step):
            sums[(t, metric)] += n
    return Series(
        step=step,
        names=tuple(columns or metrics),
        points=[(float(t), [float(sums.get((t, m), 0)) for m in metrics]) for t in starts],
    )


def ratio_series(counts: Series, part: str, name: str = "failure_rate") -> Series:
    """part ÷ the sum of all columns per bucket (e.g. failed ÷ (succeeded + failed)); None where
    the sum is zero."""
    i = counts.names.index(part)
    points: list[tuple[float, list[Value]]] = []
    for t, values in counts.points:
        total = sum(v or 0.0 for v in values)
        points.append((t, [(values[i] or 0.0) / total if total else None]))
    return Series(step=counts.step, names=(name,), points=points)


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
    """Percentiles of `kind` ("run" or "wait") per bucket from the roll-up histograms (within the
    sketch's 1 %), None in buckets with no observation; columns are named "p50", "p95"…"""
    starts = grid(since, until, step)
    hist: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    if starts:
        for t, _, _, bucket, n in store.rollup_histograms(kind, starts[0], until, names, queues,
                                                          step):
            hist[t][bucket] += n
    points: list[tuple[float, list[Value]]] = []
    for t in starts:
        if t in hist:
            q = quantiles(hist[t], qs)
            points.append((float(t), [q[x] for x in qs]))
        else:
            points.append((float(t), [None for _ in qs]))
    return Series(step=step, names=tuple(f"p{round(q * 100)}" for q in qs), points=points)


class Levels:
    """Load levels at several instants for the price of one sum over all history: the level at
    `origin` (rounded down to the hour), then only the deltas after it for each later instant."""

    def __init__(self, store: Store, origin: float, names: Sequence[str] = (),
                 queues: Sequence[str] = ()) -> None:
        self.store, self.names, self.queues = store, names, queues
        self.origin = origin // 3600 * 3600
        self.base = self._sum(None, self.origin)

    def _sum(self, since: float | None, until: float) -> tuple[int, int]:
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
    if not starts:
        return Series(step=step, names=("queued", "running"), points=[])
    levels = levels or Levels(store, starts[0], names, queues)
    queued, running = levels.raw(starts[0])
    deltas: dict[tuple[int, str], int] = defaultdict(int)
    for t, _, _, metric, n in store.rollup_counts(starts[0], until, names, queues, LOAD, step):
        deltas[(t, metric)] += n
    points: list[tuple[float, list[Value]]] = []
    for t in starts:
        queued += deltas.get((t, "load:queued"), 0)
        running += deltas.get((t, "load:running"), 0)
        points.append((float(t), [float(max(0, queued)), float(max(0, running))]))
    return Series(step=step, names=("queued", "running"), points=points)
