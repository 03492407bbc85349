"""The overview: counts per state, the per-name health table, queues and charts over a span."""

from __future__ import annotations

import json
from typing import Any

import pytest

from jobtrail import insights, periodic
from jobtrail.insights.overview import Thresholds, level_of

from .conftest import T0, H, Spec, exact_quantile, history, ingest, minute


def _inside(at: float | None, since: float, until: float) -> bool:
    return at is not None and minute(since) <= minute(at) < until


def test_counts_are_the_transitions_into_each_state_during_the_span(trail: Any, now: float) -> None:
    # Given a history over three hours
    specs = history(11)
    ingest(trail, specs)
    # When the overview covers its middle, with edges inside hours
    since, until = T0 + 1500, T0 + 2 * H + 700
    ov = insights.overview(trail.store, since, until, now=now)
    # Expect each count to be how many jobs entered that state inside the span
    expected = {
        "queued": sum(_inside(s.queued, since, until) for s in specs),
        "started": sum(_inside(s.started, since, until) for s in specs),
        "succeeded": sum(_inside(s.ended, since, until) for s in specs if s.end == "succeeded"),
        "failed": sum(_inside(s.ended, since, until) for s in specs if s.end == "failed"),
    }
    assert ov.counts == {k: v for k, v in expected.items() if v}
    assert expected["failed"] > 0


def test_each_name_row_has_rates_failure_rate_percentiles_and_last_success(
    trail: Any, now: float
) -> None:
    specs = history(12, n=300)
    ingest(trail, specs)
    since, until = T0, T0 + 3 * H
    ov = insights.overview(trail.store, since, until, now=now)
    rows = {r.name: r for r in ov.names}
    assert sorted(rows) == ["a", "b", "c"]
    for name, row in rows.items():
        mine = [s for s in specs if s.name == name]
        ok = sum(_inside(s.ended, since, until) for s in mine if s.end == "succeeded")
        bad = sum(_inside(s.ended, since, until) for s in mine if s.end == "failed")
        runs = [s.run for s in mine if s.run is not None]
        assert (row.succeeded, row.failed) == (ok, bad)
        assert row.succeeded_per_min == pytest.approx(ok / 180)
        assert row.failed_per_min == pytest.approx(bad / 180)
        assert row.failure_rate == pytest.approx(bad / (ok + bad))
        assert row.p50_run == pytest.approx(exact_quantile(runs, 0.5), rel=0.02)
        assert row.p95_run == pytest.approx(exact_quantile(runs, 0.95), rel=0.02)
        assert row.last_success_at == pytest.approx(
            max(s.ended for s in mine if s.end == "succeeded" and s.ended is not None))
    # c fails about half the time: red, and says why
    assert rows["c"].level == "bad"
    assert any("failed" in r for r in rows["c"].reasons)


def test_thresholds_are_seed_002s_and_can_be_changed() -> None:
    t = Thresholds()
    assert level_of(0.05, 0.01, 100.0, 60.0, t) == ("ok", [])
    assert level_of(0.5, 0.01, 100.0, 60.0, t)[0] == "warn"
    assert level_of(2.0, 0.01, 100.0, 60.0, t)[0] == "bad"
    assert level_of(0.0, 0.10, 100.0, 60.0, t)[0] == "warn"
    assert level_of(0.0, 0.25, 100.0, 60.0, t)[0] == "bad"
    assert level_of(0.0, 0.0, 400.0, 60.0, t) == ("warn", ["p95 run 6m 40s"])
    assert level_of(0.0, 0.0, 700.0, 60.0, t)[0] == "bad"
    assert level_of(0.0, 0.0, 1.0, 3 * H, t) == ("warn", ["last success 3h 00m ago"])
    assert level_of(0.0, 0.0, 1.0, 7 * H, t)[0] == "bad"
    assert level_of(0.0, None, None, None, t) == ("ok", [])
    relaxed = Thresholds(p95_run_warn=1000, p95_run_bad=2000, since_success_warn=None,
                         since_success_bad=None)
    assert level_of(0.0, 0.0, 700.0, 30 * H, relaxed) == ("ok", [])


def test_a_periodic_name_is_judged_by_its_own_schedule(trail: Any) -> None:
    # Given two names that last succeeded three hours ago; "hourly" is declared every hour
    ingest(trail, [Spec("x", "hourly", T0, T0 + 1, T0 + 10), Spec("y", "adhoc", T0, T0 + 1, T0 + 10),
                   Spec("z", "daily", T0, T0 + 1, T0 + 10)])
    trail.store.declare_periodic(periodic.spec("hourly", every="1h", grace="5m", at=T0 - H))
    trail.store.declare_periodic(periodic.spec("daily", every="1d", at=T0 - H))
    now = T0 + 3 * H
    # When the overview covers the last four hours
    rows = {r.name: r for r in insights.overview(trail.store, T0 - H, now, now=now).names}
    # Expect hourly down (two runs missed), daily fine, adhoc by the global staleness threshold
    assert rows["hourly"].level == "bad" and "down" in rows["hourly"].reasons[0]
    assert rows["daily"].level == "ok"
    assert rows["adhoc"].level == "warn"


def test_queues_and_charts_cover_the_span_and_now(trail: Any, now: float) -> None:
    specs = history(13)
    ingest(trail, specs)
    ov = insights.overview(trail.store, "3h", now=now)
    assert (ov.since, ov.until) == (T0, now)
    # Queues now: what is still unfinished, per queue
    unfinished = [s for s in specs if s.ended is None]
    expected = {}
    for q in {s.queue for s in unfinished}:
        mine = [s for s in unfinished if s.queue == q]
        waiting = [s.queued for s in mine if s.started is None]
        expected[q] = (len(waiting), len(mine) - len(waiting),
                       now - min(waiting) if waiting else None)
    assert {r.queue: (r.queued, r.running, r.oldest_queued_age) for r in ov.queues} == expected
    # Charts: one step for all, the throughput summing to the counts
    assert ov.throughput.step == ov.load.step == ov.failure_rate.step == 60
    assert len(ov.throughput.points) == 180
    assert sum(v[0] or 0 for _, v in ov.throughput.points) == ov.counts["succeeded"]
    assert sum(v[1] or 0 for _, v in ov.throughput.points) == ov.counts["failed"]
    assert ov.load.points[-1][1] == [float(expected["slow"][0] + expected["default"][0]),
                                     float(expected["slow"][1] + expected["default"][1])]
    data = json.loads(json.dumps(ov.to_dict()))
    assert data["names"][0]["name"] == "a" and data["queues"][0]["queue"] == "default"


def test_an_empty_store_has_an_empty_overview(trail: Any, now: float) -> None:
    ov = insights.overview(trail.store, T0, now, now=now)
    assert ov.counts == {} and ov.names == [] and ov.queues == []
    assert all(v == [0.0, 0.0] for _, v in ov.load.points)
