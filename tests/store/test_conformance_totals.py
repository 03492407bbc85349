"""The store conformance suite: all-time roll-up totals per series (`series_totals`), which the
Prometheus metrics read at every scrape."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from jobtrail.sketch import bucket_of

T0 = 1_699_999_200.0  # a whole hour (472,222 h)
HOUR = 3600.0


@pytest.fixture
def history(add: Any) -> None:
    """Jobs of three names over two queues, spread over five hours: successes, a failure, a retry,
    a kill, a cancel, one still queued, progress items."""
    add({"type": "queued", "at": T0, "name": "b.first", "queue": "q1"},
        {"type": "started", "at": T0 + 2}, {"type": "succeeded", "at": T0 + 12.5}, job_id="1")
    add({"type": "queued", "at": T0 + HOUR, "name": "a.second", "queue": "q1"},
        {"type": "started", "at": T0 + HOUR + 1},
        {"type": "failed", "at": T0 + HOUR + 31, "progress": {"done": 7, "failed": 2, "skipped": 1}},
        job_id="2")
    add({"type": "queued", "at": T0 + 2 * HOUR, "name": "a.second", "queue": "q2"},
        {"type": "started", "at": T0 + 2 * HOUR + 1},
        {"type": "retrying", "at": T0 + 2 * HOUR + 3},
        {"type": "started", "at": T0 + 2 * HOUR + 10, "attempt": 2},
        {"type": "succeeded", "at": T0 + 2 * HOUR + 70, "attempt": 2}, job_id="3")
    add({"type": "queued", "at": T0 + 3 * HOUR, "name": "c.third", "queue": "q1"},
        {"type": "started", "at": T0 + 3 * HOUR + 5}, {"type": "killed", "at": T0 + 3 * HOUR + 600},
        job_id="4")
    add({"type": "queued", "at": T0 + 4 * HOUR, "name": "c.third", "queue": "q1"},
        {"type": "cancelled", "at": T0 + 4 * HOUR + 9}, job_id="5")
    add({"type": "queued", "at": T0 + 4 * HOUR + 60, "name": "b.first", "queue": "q1"}, job_id="6")


def flat(buckets: dict[Any, dict[int, int]]) -> Counter[Any]:
    return +Counter({(*k, b): n for k, hist in buckets.items() for b, n in hist.items()})


def hourly_counts(store: Any, since: float | None = None, until: float | None = None) -> Counter[Any]:
    out: Counter[Any] = Counter()
    for t, name, queue, metric, n in store.rollup_counts(None, None, step=3600):
        if (since is None or t >= since) and (until is None or t < until):
            out[(name, queue, metric)] += n
    return +out


@pytest.mark.usefixtures("history")
def test_totals_are_the_hourly_rollups_summed_per_series(store: Any) -> None:
    totals = store.series_totals()
    assert {k: v for k, v in totals.counts.items() if v} == dict(hourly_counts(store))
    assert totals.counts[("a.second", "q1", "entered:failed")] == 1
    assert totals.counts[("a.second", "q2", "retry")] == 1
    assert totals.counts[("b.first", "q1", "entered:queued")] == 2
    assert totals.counts[("a.second", "q1", "items:done")] == 7
    # Histograms and summaries per series agree with the per-series histogram read.
    for name, queue in {(n, q) for n, q, _ in totals.counts}:
        for kind in ("run", "wait"):
            buckets, n, total, _, _ = store.rollup_histogram(kind, None, None, [name], [queue])
            mine = {b: c for b, c in totals.buckets.get((name, queue, kind), {}).items() if c}
            assert mine == buckets
            assert totals.summaries.get((name, queue, kind), (0, 0.0))[0] == n
            assert totals.summaries.get((name, queue, kind), (0, 0.0))[1] == pytest.approx(total)
    assert totals.summaries[("a.second", "q2", "run")] == (2, pytest.approx(2 + 60))
    assert totals.buckets[("b.first", "q1", "run")] == {bucket_of(10.5): 1}


@pytest.mark.usefixtures("history")
def test_totals_of_adjacent_spans_add_up_to_the_whole(store: Any) -> None:
    whole = store.series_totals()
    for split in (T0 + 2 * HOUR, T0 + 2 * HOUR + 1234.5):  # bounds round down to the hour
        past, recent = store.series_totals(None, split), store.series_totals(split, None)
        assert +(Counter(past.counts) + Counter(recent.counts)) == +Counter(whole.counts)
        assert flat(past.buckets) + flat(recent.buckets) == flat(whole.buckets)
        assert past.counts.get(("c.third", "q1", "entered:killed"), 0) == 0
        assert recent.counts[("c.third", "q1", "entered:killed")] == 1
        assert past.summaries[("b.first", "q1", "run")][0] == 1
    bounded = store.series_totals(T0 + HOUR, T0 + 2 * HOUR)
    assert {k for k, v in bounded.counts.items() if v} == {
        k for k in hourly_counts(store, T0 + HOUR, T0 + 2 * HOUR)}


@pytest.mark.usefixtures("history")
def test_totals_list_series_in_the_order_they_were_first_seen(store: Any) -> None:
    first_seen = [("b.first", "q1"), ("a.second", "q1"), ("a.second", "q2"), ("c.third", "q1")]
    assert store.series_totals().series == first_seen
    # whatever the span: the series of a span without rows are listed too
    assert store.series_totals(T0 + 4 * HOUR, None).series == first_seen
    assert store.series_totals(T0 + 9 * HOUR, None).counts == {}


@pytest.mark.usefixtures("history")
def test_totals_outlive_deleted_rows(store: Any) -> None:
    before = store.series_totals()
    assert store.delete(["1", "2", "3", "4", "5", "6"]) == 6
    assert store.series_totals() == before


def test_totals_of_an_empty_store_are_empty(store: Any) -> None:
    assert store.series_totals() == ([], {}, {}, {})


@pytest.mark.usefixtures("history")
def test_edges_sum_histogram_buckets_up_to_each_edge(store: Any) -> None:
    fine = store.series_totals()
    edges = [bucket_of(1.0), bucket_of(30.0), bucket_of(100.0)]
    coarse = store.series_totals(edges=edges)
    assert coarse.counts == fine.counts and coarse.summaries == fine.summaries
    for key, hist in fine.buckets.items():
        expected: Counter[int] = Counter()
        for b, n in hist.items():
            expected[next((e for e in edges if b <= e), b)] += n
        assert coarse.buckets[key] == +expected
    # runs of 2 s, 60 s (two attempts), 600 s: under 30 s, under 100 s, and above every edge
    assert coarse.buckets[("a.second", "q2", "run")] == {edges[1]: 1, edges[2]: 1}
    assert coarse.buckets[("c.third", "q1", "run")] == {bucket_of(595.0): 1}
    # a bounded span takes the hourly rows (another query on each backend) and agrees
    assert store.series_totals(T0, T0 + 9 * HOUR, edges=edges).buckets == coarse.buckets
