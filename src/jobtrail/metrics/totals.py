"""All-time roll-up totals without summing all history at every scrape.

Hours that closed a while ago rarely change, so their sum is kept in memory: when the clock enters
a new hour only the hour that just left the recent window is added, and the whole past is re-read
every `FULL_EVERY` seconds. The recent hours are read at every scrape. So a scrape reads a few
hours of roll-ups, whatever the history's length. A late event landing in an older hour shows up at
the next full re-read (at once in a process that starts later): counters lag for it, never drop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from jobtrail.store.base import RollupTotals, Store

__all__ = ["FULL_EVERY", "RECENT_HOURS", "TotalsCache", "merge"]

HOUR = 3600
RECENT_HOURS = 2
"""Hours read at every scrape (the current one and the one before): late events within them are
counted at once."""
FULL_EVERY = 6 * HOUR
"""Seconds between full re-reads of the past, which pick up late events for older hours."""


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
        self._split = 0.0
        self._full_at = 0.0
        self._past: RollupTotals | None = None

    def read(self) -> RollupTotals:
        now = self._clock()
        split = (now // HOUR - (RECENT_HOURS - 1)) * HOUR
        with self._lock:  # one scrape at a time updates the past; the others wait for it
            if self._past is None or split < self._split or now - self._full_at >= FULL_EVERY:
                self._past = self._store.rollup_totals(None, split)
                self._full_at = now
            elif split > self._split:
                self._past = merge(self._past, self._store.rollup_totals(self._split, split))
            self._split = split
            past = self._past
        return merge(past, self._store.rollup_totals(split, None))
