"""What one evaluation reads, read once: roll-up counts per window, histograms, queues, workers.

Every number comes from the store's maintained roll-ups and small tables, never from scanning jobs,
so an evaluation costs the same at a thousand jobs or a million. Rules share reads: one per-minute
`rollup_counts` read serves every count-based rule, and all names' run-time histograms come in one
grouped read. The 7-day run-time baseline of each name changes slowly: it covers whole UTC days
(day roll-ups, a few rows per name), and a `BaselineCache` keeps it for the day.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from jobtrail.alerts.histograms import histograms_by_name
from jobtrail.sketch import quantiles
from jobtrail.store.base import RollupHistogram, Store

__all__ = ["COUNTED", "BaselineCache", "Context", "Percentiles"]

COUNTED = (
    "entered:succeeded",
    "entered:failed",
    "entered:killed",
    "entered:retrying",
    "entered:lost",
    "load:queued",
    "items:done",
    "items:failed",
)
"""The counters any rule reads; fetched together per window."""
ENDED = ("entered:succeeded", "entered:failed", "entered:killed", "entered:retrying")
"""An attempt that ended one of these ways has a run duration (recorded at its end)."""
DAY = 86400

Percentiles = tuple[int, float | None, float | None]
"""(runs, p50, p95) of run seconds."""


def _percentiles(hist: RollupHistogram) -> Percentiles:
    buckets, n, _total, lo, hi = hist
    if not n:
        return 0, None, None
    q = quantiles(buckets, (0.5, 0.95), lo, hi)
    return n, q[0.5], q[0.95]


class BaselineCache:
    """Per name, the run-time percentiles of the `span` seconds before the start of the UTC day
    holding `end`; read for all names at once, at most once a day (and for names not seen yet).
    Thread-safe, bounded (older days are dropped)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[tuple[str, int, float], Percentiles] = {}

    def get(self, store: Store, names: Sequence[str], end: float, span: float) -> dict[
        str, Percentiles
    ]:
        day = int(end // DAY * DAY)
        with self._lock:
            known = {n: self._values[(n, day, span)] for n in names if (n, day, span) in self._values}
        missing = [n for n in names if n not in known]
        if missing:
            read = histograms_by_name(store, "run", day - span, day, missing)
            fresh = {n: _percentiles(read[n]) if n in read else (0, None, None) for n in missing}
            with self._lock:
                for old in [k for k in self._values if k[1] < day]:
                    del self._values[old]
                self._values.update({(n, day, span): v for n, v in fresh.items()})
            known.update(fresh)
        return known


class Context:
    """The reads of one evaluation at instant `now`, each done at most once. Counters are read
    per minute once, over the longest window `span` any rule needs, and summed per window here."""

    def __init__(self, store: Store, now: float, baselines: BaselineCache | None = None,
                 span: float = 0.0) -> None:
        self.store = store
        self.now = now
        self.baselines = baselines or BaselineCache()
        self.span = span
        self._minutes: list[tuple[int, str, str, str, int]] | None = None
        self._read_span = 0.0
        self._counts: dict[float, dict[tuple[str, str], Counter[str]]] = {}
        self._grouped: dict[tuple[float, int], dict[str, Counter[str]]] = {}
        self._recent: dict[float, dict[str, Percentiles]] = {}
        self._queues: list[dict[str, Any]] | None = None
        self._workers: list[dict[str, Any]] | None = None
        self._periodics: list[dict[str, Any]] | None = None
        self._last_success: dict[str, float] | None = None

    def _rows(self, window: float) -> list[tuple[int, str, str, str, int]]:
        if self._minutes is None or window > self._read_span:
            self._read_span = max(window, self.span)
            self._minutes = self.store.rollup_counts(
                self.now - self._read_span, self.now, metrics=COUNTED, step=60)
        return self._minutes

    def counts(self, window: float) -> dict[tuple[str, str], Counter[str]]:
        """Counter totals per (name, queue) over the last `window` seconds (whole minutes, as
        `rollup_counts(now - window, now, step=60)` counts them)."""
        if window not in self._counts:
            first = (self.now - window) // 60 * 60
            totals: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
            for t, name, queue, metric, n in self._rows(window):
                if t >= first:
                    totals[(name, queue)][metric] += n
            self._counts[window] = dict(totals)
        return self._counts[window]

    def _group(self, window: float, part: int) -> dict[str, Counter[str]]:
        key = (window, part)
        if key not in self._grouped:
            out: dict[str, Counter[str]] = defaultdict(Counter)
            for pair, counter in self.counts(window).items():
                out[pair[part]].update(counter)
            self._grouped[key] = dict(out)
        return self._grouped[key]

    def by_name(self, window: float) -> dict[str, Counter[str]]:
        return self._group(window, 0)

    def by_queue(self, window: float) -> dict[str, Counter[str]]:
        return self._group(window, 1)

    def names_with_runs(self, window: float) -> list[str]:
        return sorted(
            name for name, c in self.by_name(window).items() if any(c[m] > 0 for m in ENDED)
        )

    def recent_runs(self, window: float) -> dict[str, Percentiles]:
        """Run-time percentiles over the last `window` seconds of each name that ran in it."""
        if window not in self._recent:
            names = self.names_with_runs(window)
            read = histograms_by_name(self.store, "run", self.now - window, self.now, names)
            self._recent[window] = {n: _percentiles(h) for n, h in read.items()}
        return self._recent[window]

    def baseline_runs(self, window: float, span: float) -> dict[str, Percentiles]:
        """Run-time percentiles of each recently run name over `span` seconds before the recent
        window, up to the start of that day."""
        names = self.names_with_runs(window)
        return self.baselines.get(self.store, names, self.now - window, span)

    def queue_levels(self) -> list[dict[str, Any]]:
        if self._queues is None:
            self._queues = list(self.store.queue_levels())
        return self._queues

    def workers(self) -> list[dict[str, Any]]:
        if self._workers is None:
            self._workers = list(self.store.workers())
        return self._workers

    def periodics(self) -> list[dict[str, Any]]:
        if self._periodics is None:
            self._periodics = list(self.store.periodics())
        return self._periodics

    def last_success(self) -> dict[str, float]:
        """The last success of every declared periodic job."""
        if self._last_success is None:
            names = [p["name"] for p in self.periodics()]
            self._last_success = dict(self.store.last_success(names)) if names else {}
        return self._last_success
