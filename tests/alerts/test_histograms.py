"""The grouped read of every name's run-time histogram answers exactly what the store's own
`rollup_histogram` answers for each name alone, over spans of minutes, hours and days."""

from __future__ import annotations

import pytest

from alerts.support import Feed, T
from jobtrail.alerts.histograms import histograms_by_name
from jobtrail.store.base import Store

HOUR, DAY = 3600.0, 86400.0


@pytest.mark.parametrize(
    ("since", "until"),
    [(T - 600, T), (T - 7 * DAY, T - HOUR), (T - 2.5 * HOUR + 17, T - 13), (T - 3 * DAY - 7, T + 1)],
)
def test_grouped_histograms_equal_one_read_per_name(
    store: Store, feed: Feed, since: float, until: float
) -> None:
    events = []
    for i in range(120):
        end = T - 3 * DAY + i * 2160.0 + (i % 7) * 11
        events += feed.run_events("a.job", end, seconds=1 + i % 13, queue="q1")
        events += feed.run_events("a.job", end + 5, seconds=200 + i, queue="q2")  # two series
        if i % 3 == 0:
            events += feed.run_events("b.job", end, seconds=0.05 * (i + 1))
    feed.ingest(events)
    feed.runs("b.job", [T - 300, T - 200], seconds=40)
    names = ["a.job", "b.job", "never.ran"]
    grouped = histograms_by_name(store, "run", since, until, names)
    for name in names:
        one = store.rollup_histogram("run", since, until, names=[name])
        if one[1] == 0:
            assert name not in grouped or grouped[name][1] == 0
            continue
        assert grouped[name] == one, name
