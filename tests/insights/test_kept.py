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
