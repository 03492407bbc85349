"""All-time roll-up totals without summing all history at every scrape.

Hours that closed a while ago rarely change, so their sum is read once and kept until the clock
enters a new hour; the recent hours are read at every scrape. A late event landing in an older hour
shows up at the next hour's re-read (or in any process that starts later), so counters never go
down across restarts or between processes for that reason.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from jobtrail.store.base import RollupTotals, Store

__all__ = ["RECENT_HOURS", "TotalsCache", "merge"]

HOUR = 3600
RECENT_HOURS = 2
"""Hours read at every scrape (the current one and the one before): late events within them are
counted at once."""


def merge(past: RollupTotals, recent: RollupTotals) -> RollupTotals:
    """The sum of two spans' totals; the series list of the newer read (it knows every series)."""
    out = RollupTotals(list(recent.series), dict(past.counts), dict(past.buckets),
                       dict(past.summaries))
    for key, n in recent.counts.items():
        out.counts[key] = out.counts.get(key, 0) + n
    for bkey, n in recent.buckets.items():
        out.buckets[bkey] = out.buckets.get(bkey, 0) + n
    for key, (n, total) in recent.summaries.items():
        n0, total0 = out.summaries.get(key, (0, 0.0))
        out.summaries[key] = (n0 + n, total0 + total)
    return out


class TotalsCache:
    """`read()`: the all-time totals, from a cached past and a fresh read of the recent hours."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock
        self._lock = threading.Lock()
        self._split: float | None = None
        self._past: RollupTotals | None = None

    def read(self) -> RollupTotals:
        split = (self._clock() // HOUR - (RECENT_HOURS - 1)) * HOUR
        with self._lock:  # one process re-reads the past once, however many scrapes wait
            if self._past is None or self._split != split:
                self._past = self._store.rollup_totals(None, split)
                self._split = split
            past = self._past
        return merge(past, self._store.rollup_totals(split, None))
