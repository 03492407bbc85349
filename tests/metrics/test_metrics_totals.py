"""The totals cache: the closed past is read once per hour, the recent hours at every scrape."""

from __future__ import annotations

import time
from typing import Any

from metrics_support import job

from jobtrail.metrics.totals import FULL_EVERY, TotalsCache

HOUR = 3600.0


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def succeeded(totals: Any, name: str) -> int:
    return int(totals.counts.get((name, "q", "entered:succeeded"), 0))


def test_the_cached_totals_equal_a_fresh_read(trail: Any) -> None:
    now = time.time()
    trail.ingest([e for i in range(30) for e in job(f"j{i}", "n", "q", now - i * 1800, 1, 2)])
    cache = TotalsCache(trail.store, Clock(now))
    assert cache.read() == cache.read()
    fresh = trail.store.rollup_totals()
    cached = cache.read()
    assert cached.series == fresh.series
    assert {k: v for k, v in cached.counts.items() if v} == {k: v for k, v in fresh.counts.items() if v}
    assert {k: v for k, v in cached.buckets.items() if v} == \
        {k: v for k, v in fresh.buckets.items() if v}
    assert cached.summaries.keys() == fresh.summaries.keys()


def test_late_events_count_at_once_in_recent_hours_and_older_ones_at_the_next_full_read(
    trail: Any,
) -> None:
    now = time.time()
    clock = Clock(now)
    trail.ingest(job("a", "n", "q", now - 3 * HOUR, 1, 2))
    cache = TotalsCache(trail.store, clock)
    assert succeeded(cache.read(), "n") == 1
    # a job from ten minutes ago, reported late: counted at the next scrape
    trail.ingest(job("recent", "n", "q", now - 600, 1, 2))
    assert succeeded(cache.read(), "n") == 2
    # a job from a day ago, reported late: counted at the next full read; never counted down
    trail.ingest(job("old", "n", "q", now - 24 * HOUR, 1, 2))
    assert succeeded(cache.read(), "n") == 2  # the cached past
    assert succeeded(TotalsCache(trail.store, clock).read(), "n") == 3  # a new process: at once
    clock.now = now + FULL_EVERY
    assert succeeded(cache.read(), "n") == 3


def test_hours_leaving_the_recent_window_move_into_the_cached_past(trail: Any) -> None:
    now = time.time() - 6 * HOUR  # the clock walks forward to the present, hour by hour
    clock = Clock(now)
    cache = TotalsCache(trail.store, clock)
    trail.ingest(job("a", "n", "q", now - 3 * HOUR, 1, 2))
    assert succeeded(cache.read(), "n") == 1
    # jobs finish during each of the next five hours; each is counted once, whichever hour
    # moved into the past in between
    for hour in range(1, 6):
        clock.now = now + hour * HOUR
        assert trail.ingest(job(f"h{hour}", "n", "q", clock.now - 5, 1, 2)).rejected == []
        assert succeeded(cache.read(), "n") == 1 + hour
    assert cache.read().counts == {k: v for k, v in trail.store.rollup_totals().counts.items()}
