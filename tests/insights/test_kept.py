"""Whole past hours kept for a few minutes: the same answers as a direct read, edges live."""

from __future__ import annotations

from typing import Any

import pytest

from jobtrail import insights
from jobtrail.insights import kept, series

from .conftest import T0, H, Spec, history, ingest


@pytest.mark.parametrize(("since", "until"), [(T0 + 1000, T0 + 3 * H - 500), (T0, T0 + 2 * H),
                                              (T0 + 100, T0 + 900)])
def test_kept_reads_answer_like_a_direct_read(trail: Any, since: float, until: float) -> None:
    ingest(trail, history(41))
    store = trail.store
    for _ in range(2):  # the second call serves its whole hours from what was kept
        assert kept.totals(store, since, until, metrics=["entered:failed", "entered:started"]) == (
            store.rollup_totals(since, until, metrics=["entered:failed", "entered:started"]))
        assert kept.histograms(store, "run", since, until) == store.rollup_histograms(
            "run", since, until)


@pytest.mark.parametrize(("since", "until"), [(T0 + 1000, T0 + 3 * H - 500), (T0, T0 + 2 * H),
                                              (T0 + 100, T0 + 900)])
def test_a_kept_merged_histogram_answers_like_a_direct_read(trail: Any, since: float,
                                                            until: float) -> None:
    ingest(trail, history(45))
    store = trail.store
    for kind in ("run", "wait"):
        for _ in range(2):  # the second call serves its whole hours from what was kept
            buckets, n, total, lo, hi = kept.histogram(store, kind, since, until, ["b"])
            direct = store.rollup_histogram(kind, since, until, ["b"])
            assert (buckets, n, lo, hi) == (direct[0], direct[1], direct[3], direct[4])
            assert total == pytest.approx(direct[2], rel=1e-12)  # summed in another order


def test_merged_step_histograms_are_the_per_step_rows_summed_over_the_series(trail: Any) -> None:
    # Given a history in two queues of one name
    ingest(trail, history(46))
    store, step, until = trail.store, 1800, T0 + 3 * H - 500
    rows = store.rollup_histograms("run", T0, until, step=step, merge=3)
    expected: dict[int, dict[int, int]] = {}
    for t, _, _, bucket, n in rows:
        expected.setdefault(t, {})[bucket] = expected.get(t, {}).get(bucket, 0) + n
    for _ in range(2):
        # When the merged steps are read twice (the past ones kept) and put together
        past, live = kept.step_histograms(store, "run", T0, until, step, merge=3)
        together = {t: dict(per) for t, per in past.items()}
        for t, bucket, n in live:
            together.setdefault(t, {})[bucket] = together.get(t, {}).get(bucket, 0) + n
        # Expect every row counted once, and the live step only among the live rows
        assert together == expected
        assert all(t < until // step * step for t in past)
        assert {t for t, _, _ in live} <= {until // step * step}


def test_step_histograms_leave_the_kept_steps_as_they_were(trail: Any) -> None:
    ingest(trail, history(47))
    store, until = trail.store, T0 + 3 * H - 500
    first = series.step_histograms(store, "run", T0, until, 3600, merge=3)
    snapshot = {t: dict(per) for t, per in first.items()}
    second = series.step_histograms(store, "run", T0, until, 3600, merge=3)
    assert second == snapshot and first == snapshot  # the live step was not added in twice


def test_edges_stay_live_and_kept_hours_refresh_after_the_ttl(trail: Any) -> None:
    ingest(trail, history(42))
    store = trail.store
    since, until = T0 + 1000, T0 + 3 * H - 500
    before = dict(((n, q, m), c) for n, q, m, c in kept.totals(store, since, until))
    # A job entering "started" inside a kept hour, and one at the live edge
    ingest(trail, [Spec("mid", "zz", T0 + H + 10, T0 + H + 20, None),
                   Spec("edge", "zz", T0 + 3 * H - 900, T0 + 3 * H - 800, None)])
    after = dict(((n, q, m), c) for n, q, m, c in kept.totals(store, since, until))
    assert after[("zz", "default", "entered:started")] == 1  # only the edge one, for now
    assert before.get(("zz", "default", "entered:started")) is None
    fresh = dict(((n, q, m), c) for n, q, m, c in kept.totals(store, since, until, ttl=0))
    assert fresh[("zz", "default", "entered:started")] == 2


@pytest.mark.parametrize("step", [60, 300, 3600, 7200])
def test_kept_step_histograms_answer_like_a_direct_read(trail: Any, step: int) -> None:
    ingest(trail, history(43))
    store, since, until = trail.store, T0 // step * step, T0 + 3 * H - 500
    for _ in range(2):
        assert kept.histograms_per_step(store, "wait", since, until, step, merge=3) == (
            store.rollup_histograms("wait", since, until, step=step, merge=3))


def test_a_ttl_of_zero_reads_everything_afresh(trail: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given keeping switched off for the process
    monkeypatch.setattr(kept, "KEEP_TTL", 0.0)
    monkeypatch.setattr(series, "BASE_TTL", 0.0)
    ingest(trail, history(44))
    now = T0 + 3 * H
    first = insights.overview(trail.store, T0, now, now=now)
    # When a late job arrives about a past hour
    ingest(trail, [Spec("late", "zz", T0 + H + 10, T0 + H + 20, T0 + H + 30)])
    # Expect the next overview to show it at once: its name row and its run in the load
    again = insights.overview(trail.store, T0, now, now=now)
    assert "zz" not in {r.name for r in first.names}
    assert {r.name: r.succeeded for r in again.names}["zz"] == 1
    assert again.counts["succeeded"] == first.counts["succeeded"] + 1
