"""Chart series from the roll-ups: step choice, counts, percentiles and load per bucket."""

from __future__ import annotations

import json
from typing import Any

import pytest

from jobtrail.insights.series import (
    Levels,
    Series,
    choose_step,
    count_series,
    counts_and_load,
    grid,
    level_at,
    load,
    percentile_series,
    ratio_series,
)

from .conftest import T0, H, Spec, exact_quantile, history, ingest, level, minute

DAY = 86400


@pytest.mark.parametrize(
    ("span", "step"),
    [(H, 60), (6 * H, 120), (DAY, 300), (7 * DAY, 3600), (14 * DAY, 7200), (30 * DAY, 10800),
     (365 * DAY, 172800), (10 * 365 * DAY, 2 * 604800)],
)
def test_the_step_gives_at_most_300_points_at_the_finest_step_that_does(span: int, step: int) -> None:
    assert choose_step(T0, T0 + span) == step
    assert span / step <= 300


@pytest.mark.parametrize(("span", "step"), [(7 * DAY, 3600), (28 * DAY, DAY), (30 * DAY, DAY),
                                          (365 * DAY, 2 * DAY)])
def test_windows_of_whole_day_charts_step_by_whole_days_from_the_threshold(span: int,
                                                                         step: int) -> None:
    assert choose_step(T0, T0 + span, days_from=28 * DAY) == step


def test_windows_older_than_the_minute_rollups_are_read_by_the_hour() -> None:
    assert choose_step(T0, T0 + H, now=T0 + 2 * H) == 60
    assert choose_step(T0, T0 + H, now=T0 + 30 * DAY) == 3600


def test_the_grid_covers_the_window_with_buckets_aligned_to_the_step() -> None:
    assert grid(T0 + 90, T0 + 400, 120) == [T0, T0 + 120, T0 + 240, T0 + 360]
    assert grid(T0, T0, 60) == []


def test_counts_per_bucket_are_the_transitions_in_each_bucket_zero_filled(trail: Any) -> None:
    # Given a history with known finish times
    specs = history(1)
    ingest(trail, specs)
    # When successes and failures of name c are counted per 10 minutes
    since, until = T0 + 1000, T0 + 2 * H
    s = count_series(trail.store, since, until, 600, ("entered:succeeded", "entered:failed"),
                     names=("c",), columns=("ok", "bad"))
    # Expect one point per bucket, each the brute-force count, with zeros where nothing ended
    assert s.names == ("ok", "bad") and s.step == 600
    assert [t for t, _ in s.points] == [float(t) for t in range(T0 + 600, T0 + 2 * H, 600)]
    for t, (ok, bad) in s.points:
        inside = [x for x in specs if x.name == "c" and x.ended and t <= minute(x.ended) < t + 600]
        assert ok == sum(1 for x in inside if x.end == "succeeded")
        assert bad == sum(1 for x in inside if x.end == "failed")
    assert sum(v[1] or 0 for _, v in s.points) > 0


def test_a_ratio_is_none_where_nothing_ended() -> None:
    counts = Series(60, ("ok", "bad"), [(0.0, [3.0, 1.0]), (60.0, [0.0, 0.0])])
    assert ratio_series(counts, "bad").points == [(0.0, [0.25]), (60.0, [None])]


def test_percentiles_per_bucket_match_the_exact_ones_within_the_sketch_error(trail: Any) -> None:
    # Given runs of name b with known durations
    specs = history(2, n=300)
    ingest(trail, specs)
    # When p50 and p95 of run are read per hour
    s = percentile_series(trail.store, "run", T0, T0 + 3 * H, H, names=("b",))
    assert s.names == ("p50", "p95")
    # Expect each within 2 % of numpy's over the runs that ended in that hour, None when none
    for t, (p50, p95) in s.points:
        runs = [x.run for x in specs if x.name == "b" and x.run is not None and x.ended is not None
                and t <= x.ended < t + H]
        if not runs:
            assert p50 is None and p95 is None
            continue
        assert p50 == pytest.approx(exact_quantile(runs, 0.5), rel=0.02)
        assert p95 == pytest.approx(exact_quantile(runs, 0.95), rel=0.02)


@pytest.mark.parametrize("step", [60, 300, 3600])
def test_the_load_is_the_jobs_queued_and_running_at_the_end_of_each_bucket(
    trail: Any, step: int
) -> None:
    # Given jobs that wait and run across many buckets
    specs = history(3, n=80)
    ingest(trail, specs)
    # When the load is read over a window that starts after the first jobs
    s = load(trail.store, T0 + 1234, T0 + 3 * H, step)
    # Expect, at each bucket's end, the brute-force count of queued and running jobs
    assert s.names == ("queued", "running")
    assert s.points[0][0] == (T0 + 1234) // step * step
    for t, (queued, running) in s.points:
        assert (queued, running) == level(specs, t + step), t
    assert max(v[1] or 0 for _, v in s.points) > 0


def test_the_level_at_an_instant_counts_jobs_waiting_and_running_then(trail: Any) -> None:
    specs = history(4, n=60)
    ingest(trail, specs)
    for at in (T0 + 600, T0 + H + 35, T0 + 2.5 * H):
        assert level_at(trail.store, at) == level(specs, minute(at))


def test_a_series_is_json_ready(trail: Any) -> None:
    ingest(trail, history(5, n=20))
    s = load(trail.store, T0, T0 + H, 300)
    data = json.loads(json.dumps(s.to_dict()))
    assert data["step"] == 300 and data["names"] == ["queued", "running"]
    assert len(data["points"]) == 12 and data["points"][0][0] == T0
    assert s.column("running") == [(t, v[1]) for t, v in s.points]


def test_levels_from_an_earlier_origin_match_the_sum_over_all_history(trail: Any) -> None:
    # Given a history, and levels summed once at an origin inside it
    specs = history(6, n=80)
    ingest(trail, specs)
    levels = Levels(trail.store, T0 + H + 1000)
    # Expect the level at instants before, at and after the origin to be the brute-force one
    for at in (T0 + 600, T0 + H, T0 + H + 59, T0 + 2 * H + 61, T0 + 2.9 * H):
        assert levels.at(at) == level(specs, minute(at)), at
    # and a load read through them to equal one read alone
    assert load(trail.store, T0 + 2 * H, T0 + 3 * H, 60, levels=levels) == load(
        trail.store, T0 + 2 * H, T0 + 3 * H, 60)


def test_counts_and_load_read_together_equal_each_read_alone(trail: Any) -> None:
    ingest(trail, history(7, n=60))
    metrics = ("entered:succeeded", "entered:failed")
    counts, levels = counts_and_load(trail.store, T0 + 500, T0 + 3 * H, 300, metrics)
    assert counts == count_series(trail.store, T0 + 500, T0 + 3 * H, 300, metrics)
    assert levels == load(trail.store, T0 + 500, T0 + 3 * H, 300)
    assert sum(v[0] or 0 for _, v in counts.points) > 0


def test_a_kept_all_history_sum_serves_later_windows_until_it_expires(trail: Any) -> None:
    # Given a history and the level read at an origin hour, which the process keeps
    specs = history(8, n=80)
    ingest(trail, specs)
    assert Levels(trail.store, T0 + H).at(T0 + H) == level(specs, T0 + H)
    # When a later window reuses it, it adds the hours since and still matches brute force
    assert Levels(trail.store, T0 + 2 * H + 300).at(T0 + 2.5 * H) == level(specs, minute(T0 + 2.5 * H))
    # A late job from before that origin shows once the sum is redone (ttl=0), not before
    late = Spec("late", "a", T0 + 60, T0 + 120, None)
    ingest(trail, [late])
    assert Levels(trail.store, T0 + 2 * H).at(T0 + 2 * H) == level(specs, T0 + 2 * H)
    assert Levels(trail.store, T0 + 2 * H, ttl=0).at(T0 + 2 * H) == level([*specs, late], T0 + 2 * H)
