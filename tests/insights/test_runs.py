"""Why was this job slow: this run against earlier runs, and the load around its life."""

from __future__ import annotations

import json
from typing import Any

import pytest

from jobtrail import insights
from jobtrail.durations import format_duration
from jobtrail.model import Job

from .conftest import T0, H, Spec, exact_quantile, history, ingest, level, minute

DAY = 86400


def job(trail: Any, job_id: str) -> Job:
    found = trail.get(job_id)
    assert found is not None
    return found  # type: ignore[no-any-return]


def _earlier(n: int, name: str = "report", **kw: Any) -> list[Spec]:
    """`n` earlier runs, one an hour, running 100 + i seconds after waiting 2 s."""
    return [Spec(f"e{i:03d}", name, T0 + i * H, T0 + i * H + 2, T0 + i * H + 102 + i, **kw)
            for i in range(n)]


def test_a_slow_run_is_compared_with_the_usual_run_in_human_units(trail: Any) -> None:
    # Given 99 earlier runs of 100–198 s (median 149 s) and waits of 2 s, then one run of 6m 10s
    # after a 41 s wait
    earlier = _earlier(99)
    this = Spec("slow", "report", T0 + 100 * H, T0 + 100 * H + 41, T0 + 100 * H + 41 + 370)
    ingest(trail, [*earlier, this])
    # When it is compared with the 14 days before it
    c = insights.compare_run(trail.store, job(trail, "slow"), now=T0 + 101 * H)
    # Expect the usual values from the roll-ups, its rank, and the sentence
    runs = [s.run for s in earlier if s.run is not None]
    assert c.source == "rollup" and c.history == 99
    assert c.usual_run == pytest.approx(exact_quantile(runs, 0.5), rel=0.01)
    assert c.run_ratio == pytest.approx(370 / c.usual_run)
    assert c.run_percentile == 100.0
    assert c.usual_wait == pytest.approx(2.0, rel=0.01)
    usual = format_duration(c.usual_run)  # 2m 29s, within the sketch's 1 %
    assert c.sentence == f"ran 6m 10s, 2.5× the usual {usual} (p100); waited 41s, usual 2.0s (p100)"
    # and the points: every earlier run, newest first, without this one
    assert [p[3] for p in c.points] == [s.id for s in reversed(earlier)]
    assert c.points[0] == (earlier[-1].ended, earlier[-1].run, 2.0, earlier[-1].id)
    assert json.loads(json.dumps(c.to_dict()))["points"][0][3] == earlier[-1].id


def test_a_typical_run_reads_as_its_percentile(trail: Any) -> None:
    earlier = _earlier(99)
    this = Spec("mid", "report", T0 + 100 * H, T0 + 100 * H + 2, T0 + 100 * H + 2 + 124.5)
    ingest(trail, [*earlier, this])
    c = insights.compare_run(trail.store, job(trail, "mid"), now=T0 + 101 * H)
    below = sum(1 for s in earlier if s.run is not None and s.run < 124.5)
    assert c.run_percentile == pytest.approx(100 * below / 99, abs=1.5)
    assert c.sentence.startswith(
        f"ran 2m 04s, 0.8× the usual {format_duration(c.usual_run)} (p{round(c.run_percentile)})")


def test_only_runs_of_the_same_workspace_in_the_window_count(trail: Any) -> None:
    # Given runs in two workspaces, and some too old to count
    mine = _earlier(30, labels={"workspace": "w1"})
    other = [Spec(f"o{i}", "report", T0 + i * H + 5, T0 + i * H + 6, T0 + i * H + 1000,
                  labels={"workspace": "w2"}) for i in range(30)]
    old = Spec("old", "report", T0 - 20 * DAY, T0 - 20 * DAY + 1, T0 - 20 * DAY + 5,
               labels={"workspace": "w1"})
    this = Spec("this", "report", T0 + 40 * H, T0 + 40 * H + 1, T0 + 40 * H + 301,
                labels={"workspace": "w1", "tenant": "acme"})
    ingest(trail, [*mine, *other, old, this])
    c = insights.compare_run(trail.store, job(trail, "this"), now=T0 + 41 * H)
    assert c.labels == {"workspace": "w1"}
    assert {p[3] for p in c.points} == {s.id for s in mine}
    assert c.source == "exact" and c.history == 30
    runs = [s.run for s in mine if s.run is not None]
    assert c.usual_run == pytest.approx(exact_quantile(runs, 0.5))
    assert c.run_percentile == 100.0


def test_points_are_bounded_and_say_so(trail: Any) -> None:
    ingest(trail, [*_earlier(30, labels={"workspace": "w"}),
                   Spec("this", "report", T0 + 40 * H, T0 + 40 * H + 1, None,
                        labels={"workspace": "w"})])
    c = insights.compare_run(trail.store, job(trail, "this"), max_points=10, now=T0 + 40 * H + 61)
    assert len(c.points) == 10 and c.truncated and c.source == "sample"
    assert [p[3] for p in c.points] == [f"e{i:03d}" for i in range(29, 19, -1)]
    # a job still running is compared by how long it has run so far
    assert c.sentence.startswith("running for 1m 00s so far, 0.5× the usual 2m 04s (p0)")


def test_without_history_or_a_start_the_sentence_says_so(trail: Any) -> None:
    ingest(trail, [Spec("first", "new", T0, T0 + 3, T0 + 65),
                   Spec("waiting", "new", T0 + 100, None, None)])
    first = insights.compare_run(trail.store, job(trail, "first"), now=T0 + 200)
    assert first.usual_run is None and first.run_ratio is None and first.history == 0
    assert first.sentence == ("ran 1m 02s, no earlier runs in the 14 days before to compare with; "
                              "waited 3.0s")
    waiting = insights.compare_run(trail.store, job(trail, "waiting"), now=T0 + 400)
    assert waiting.run is None and waiting.wait == 300.0
    assert waiting.sentence == ("has not run yet; waiting for 5m 00s so far, usual 3.0s (p100)")
    ingest(trail, [Spec("gone", "new", T0 + 150, None, T0 + 170, end="cancelled")])
    gone = insights.compare_run(trail.store, job(trail, "gone"), now=T0 + 400)
    assert gone.sentence == "never ran"


def test_a_first_run_that_ends_in_the_minute_it_was_queued_has_no_earlier_runs(trail: Any) -> None:
    # Given the only job of its name, queued, started and ended within one minute
    ingest(trail, [Spec("only", "once", T0 + 10, T0 + 13, T0 + 40)])
    # When it is compared with earlier runs
    c = insights.compare_run(trail.store, job(trail, "only"), now=T0 + 120)
    # Expect nothing to compare with: its own run and wait, rolled up in that minute, are not
    # earlier runs
    assert c.history == 0 and c.usual_run is None and c.usual_wait is None
    assert c.sentence == ("ran 27s, no earlier runs in the 14 days before to compare with; "
                          "waited 3.0s")


def test_an_old_first_run_is_not_its_own_earlier_run_once_minutes_are_compacted(trail: Any) -> None:
    # Given the only job of its name, ten days old, its per-minute roll-ups compacted into hours
    ingest(trail, [Spec("only", "once", T0 + 600, T0 + 603, T0 + 900)])
    trail.store.compact(T0 + 3 * DAY)
    # When it is compared with earlier runs
    c = insights.compare_run(trail.store, job(trail, "only"), now=T0 + 10 * DAY)
    # Expect nothing to compare with, though its hour's roll-up holds its own run
    assert c.history == 0 and c.usual_run is None and c.usual_wait is None


# ---- was the server busy? -------------------------------------------------------------------


def test_the_load_at_its_start_counts_the_other_jobs_queued_and_running(trail: Any) -> None:
    # Given a busy history, and a job queued at T0+1h10m that waited 5 minutes and ran 20
    specs = history(21, n=200)
    this = Spec("this", "a", T0 + H + 600, T0 + H + 900, T0 + H + 2100)
    ingest(trail, [*specs, this])
    # When its busy context is read
    b = insights.busy_context(trail.store, job(trail, "this"), now=T0 + 3 * H)
    # Expect the others queued and running at its start, by brute force
    assert (b.queued_at_start, b.running_at_start) == level(specs, minute(this.started or 0))
    assert b.marks == {"queued": this.queued, "started": this.started, "finished": this.ended}
    # and the load around its life: half its life (12.5 min) either side, per minute
    assert b.load.step == 60
    assert b.load.points[0][0] == minute(this.queued - 750)
    assert b.load.points[-1][0] == minute(this.ended + 750 - 1)
    for t, (queued, running) in b.load.points:
        assert (queued, running) == level([*specs, this], t + 60)
    assert b.sentence.startswith(f"when it started, {b.running_at_start} jobs were running and "
                                 f"{b.queued_at_start} queued")
    assert json.loads(json.dumps(b.to_dict()))["marks"]["started"] == this.started


def test_the_load_is_compared_with_the_usual_load_of_the_week_before(trail: Any) -> None:
    # Given one job running at any time for a week (each hour's overlaps the next by a minute),
    # then 3 running when ours starts
    steady = [Spec(f"s{i}", "s", T0 + i * H, T0 + i * H, T0 + i * H + H + 60) for i in range(171)]
    crowd = [Spec(f"c{i}", "c", T0 + 170 * H, T0 + 170 * H + 60, T0 + 172 * H) for i in range(2)]
    this = Spec("this", "x", T0 + 170 * H + 300, T0 + 170 * H + 600, T0 + 170 * H + 900)
    ingest(trail, [*steady, *crowd, this])
    b = insights.busy_context(trail.store, job(trail, "this"), now=T0 + 171 * H)
    assert (b.queued_at_start, b.running_at_start) == (0, 3)
    assert b.usual_load == 1.0 and b.load_ratio == 3.0
    assert b.sentence == "when it started, 3 jobs were running and 0 queued, 3.0× the usual load"


def test_a_job_that_has_not_started_shows_the_load_now(trail: Any) -> None:
    ingest(trail, [Spec("r", "s", T0, T0 + 5, None), Spec("q", "s", T0 + 60, None, None),
                   Spec("this", "x", T0 + 120, None, None)])
    b = insights.busy_context(trail.store, job(trail, "this"), now=T0 + 600)
    assert (b.queued_at_start, b.running_at_start) == (1, 1)
    assert b.marks == {"queued": T0 + 120}
    assert b.sentence.startswith("it has not started; 1 running and 1 queued besides it now")
