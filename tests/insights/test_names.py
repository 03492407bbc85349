"""One name's page: trend, heatmap, throughput, failure rate, waits, failures, periodic status."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from jobtrail import insights, periodic
from jobtrail.insights.names import HEAT_EDGES

from .conftest import T0, H, Spec, exact_quantile, history, ingest, minute


def test_the_name_page_charts_its_runs_waits_and_outcomes(trail: Any, now: float) -> None:
    # Given a history of three names
    specs = history(31, n=300)
    ingest(trail, specs)
    mine = [s for s in specs if s.name == "b"]
    # When the page of b covers the three hours
    d = insights.name_detail(trail.store, "b", T0, now, now=now)
    # Expect one step for every chart (3 h → per minute)
    assert {d.trend.step, d.wait.step, d.throughput.step, d.heatmap.step} == {60}
    assert len(d.trend.points) == 180
    # the trend: p50 and p95 of the runs that ended in each minute (charts merge three sketch
    # buckets per row: within 4 %)
    for t, (p50, p95) in d.trend.points:
        runs = [s.run for s in mine if s.run is not None and s.ended is not None
                and t <= s.ended < t + 60]
        if runs:
            assert p50 == pytest.approx(exact_quantile(runs, 0.5), rel=0.04)
            assert p95 == pytest.approx(exact_quantile(runs, 0.95), rel=0.04)
        else:
            assert (p50, p95) == (None, None)
    # waits by when the job started
    for t, (p50, _) in d.wait.points:
        waits = [s.wait for s in mine if s.wait is not None and s.started is not None
                 and t <= s.started < t + 60]
        assert (p50 is None) == (not waits)
    # throughput and failure rate per minute
    for (t, (ok, bad)), (_, (rate,)) in zip(d.throughput.points, d.failure_rate.points, strict=True):
        ended = [s for s in mine if s.ended is not None and minute(s.ended) == t]
        assert ok == sum(s.end == "succeeded" for s in ended)
        assert bad == sum(s.end == "failed" for s in ended)
        assert rate == (bad / (ok + bad) if ok + bad else None)
    # over-all statistics, and the newest failures first
    runs = [s.run for s in mine if s.run is not None]
    assert d.runs == len(runs)
    assert d.p50_run == pytest.approx(exact_quantile(runs, 0.5), rel=0.02)
    assert d.p95_wait == pytest.approx(
        exact_quantile([s.wait for s in mine if s.wait is not None], 0.95), rel=0.02)
    failed = sorted((s for s in mine if s.end == "failed" and s.ended), key=lambda s: -s.queued)
    assert [j.id for j in d.recent_failures] == [s.id for s in failed[:5]]
    assert d.periodic is None
    assert json.loads(json.dumps(d.to_dict()))["name"] == "b"


def test_the_heatmap_counts_runs_per_time_bucket_and_human_duration_bin(trail: Any) -> None:
    # Given runs of known durations, none near a bin edge
    runs = [0.7, 0.8, 4.0, 45.0, 45.0, 90.0, 200.0, 200.0, 200.0, 3000.0]
    specs = [Spec(f"j{i}", "n", T0 + i * 600, T0 + i * 600 + 1, T0 + i * 600 + 1 + r)
             for i, r in enumerate(runs)]
    ingest(trail, specs)
    # When its heatmap is read per hour
    d = insights.name_detail(trail.store, "n", T0, T0 + 6 * H, now=T0 + 6 * H)
    hm = d.heatmap
    # Expect bins from the shortest to the longest used (0.5 s–1 s … 30 m–1 h), labelled
    assert hm.step == 120 and hm.bins[0] == (0.5, 1.0) and hm.bins[-1] == (1800.0, 3600.0)
    assert hm.labels[0] == "500ms–1.0s" and hm.labels[-1] == "30m 00s–1h 00m"
    assert len(hm.times) == 180

    def bin_of(x: float) -> int:
        return next(i for i in range(len(HEAT_EDGES)) if x <= HEAT_EDGES[i + 1]) - 3  # 0.5 s is edge 3

    expected = Counter((float(s.ended // 120 * 120), bin_of(s.run)) for s in specs if s.ended and s.run)
    assert {(t, i): n for t, i, n in hm.cells} == dict(expected)


def test_a_periodic_name_shows_its_schedule_status(trail: Any) -> None:
    ingest(trail, [Spec("a", "nightly", T0, T0 + 1, T0 + 60)])
    trail.store.declare_periodic(periodic.spec("nightly", every="1d", grace="1h", at=T0 - H))
    d = insights.name_detail(trail.store, "nightly", T0, T0 + 2 * H, now=T0 + 2 * H)
    assert d.periodic is not None
    assert (d.periodic.state, d.periodic.last_success_at) == ("ok", T0 + 60)
    assert d.periodic.due_at == T0 + 60 + 86400
    assert json.loads(json.dumps(d.to_dict()))["periodic"]["state"] == "ok"


def test_a_span_can_be_given_back_from_now(trail: Any) -> None:
    d = insights.name_detail(trail.store, "nobody", "7d", now=T0)
    assert (d.since, d.until) == (T0 - 7 * 86400, T0)
    assert d.trend.step == 3600 and all(v == [None, None] for _, v in d.trend.points)
    assert d.heatmap.bins == [] and d.heatmap.cells == []


def test_a_month_is_charted_per_day_from_the_daily_rollups(trail: Any) -> None:
    # Given 30 days of one name's runs, 24 a day, their length rising day by day
    day = 86400
    start = T0 - 30 * day
    specs = [Spec(f"m{d:02d}-{i:02d}", "monthly", start + d * day + i * H + 5,
                  start + d * day + i * H + 10, start + d * day + i * H + 10 + (d + 1) * (1 + i / 10))
             for d in range(30) for i in range(24)]
    ingest(trail, specs)
    # When its page covers the 30 days
    d = insights.name_detail(trail.store, "monthly", "30d", now=T0)
    # Expect one point per day on every chart, each day's percentiles from that day's runs
    assert {d.trend.step, d.wait.step, d.throughput.step, d.heatmap.step} == {day}
    for t, (p50, p95) in d.trend.points:
        runs = [s.run for s in specs if s.run is not None and s.ended is not None
                and t <= s.ended < t + day]
        if runs:
            assert p50 == pytest.approx(exact_quantile(runs, 0.5), rel=0.04)
            assert p95 == pytest.approx(exact_quantile(runs, 0.95), rel=0.04)
        else:
            assert (p50, p95) == (None, None)
    assert sum(ok for _, (ok, _) in d.throughput.points) == len(specs)
    # and the overall numbers over exactly the span (within the sketch's 1 %)
    runs = [s.run for s in specs if s.run is not None]
    assert d.runs == len(runs)
    assert d.p95_run == pytest.approx(exact_quantile(runs, 0.95), rel=0.02)


@pytest.mark.parametrize("hours_back", [2.5, 0.5])
def test_state_counts_of_a_window_equal_the_rows_created_in_it(trail: Any, now: float,
                                                              hours_back: float) -> None:
    # Given three hours of jobs in every state (a window of 2.5 h holds most of them: the count
    # subtracts the few before it from all rows; one of 0.5 h counts its own rows)
    specs = history(48, n=300)
    ingest(trail, specs)
    since = now - hours_back * H
    for name in ("a", "b", "c"):
        # When the name page counts its jobs by state
        counts = insights.names.state_counts(trail.store, name, since, now)
        # Expect exactly the jobs created (first queued) since then, by the state they are in
        expected = Counter(("succeeded" if s.end == "succeeded" else s.end) if s.ended else
                           "started" if s.started is not None else "queued"
                           for s in specs if s.name == name and s.queued >= since)
        assert counts == dict(expected)
