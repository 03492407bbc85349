"""A batch as a Gantt timeline with an ETA while it runs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from jobtrail import NotFound, insights

from .conftest import T0, H, Spec, ingest


def _usual(name: str, run: float, n: int = 9) -> list[Spec]:
    """`n` earlier runs of `name` lasting exactly `run` seconds after a 10 s wait."""
    return [Spec(f"{name}-h{i}", name, T0 + i * 60, T0 + i * 60 + 10, T0 + i * 60 + 10 + run)
            for i in range(n)]


def test_rows_are_the_jobs_by_queued_time_with_their_segments(trail: Any) -> None:
    specs = [Spec("b3", "x", T0 + 30, T0 + 40, T0 + 90, batch="req"),
             Spec("b1", "y", T0 + 10, T0 + 12, T0 + 50, end="failed", batch="req"),
             Spec("b2", "x", T0 + 20, None, None, batch="req"),
             Spec("other", "x", T0 + 15, T0 + 16, T0 + 17, batch="not-this")]
    ingest(trail, specs)
    tl = insights.batch_timeline(trail.store, "req", now=T0 + 100)
    assert [(r.job_id, r.name, r.state, r.queued_at, r.started_at, r.finished_at) for r in tl.rows] == [
        ("b1", "y", "failed", T0 + 10, T0 + 12, T0 + 50),
        ("b2", "x", "queued", T0 + 20, None, None),
        ("b3", "x", "succeeded", T0 + 30, T0 + 40, T0 + 90),
    ]
    assert tl.summary.total == 3 and tl.summary.counts == {"failed": 1, "queued": 1, "succeeded": 1}
    assert not tl.truncated
    assert json.loads(json.dumps(tl.to_dict()))["rows"][1]["job_id"] == "b2"


def test_a_huge_batch_is_capped_and_says_so(trail: Any) -> None:
    ingest(trail, [Spec(f"j{i:02d}", "x", T0 + 50 - i, T0 + 60, T0 + 70, batch="big")
                   for i in range(30)])
    tl = insights.batch_timeline(trail.store, "big", now=T0 + 100, limit=10)
    assert len(tl.rows) == 10 and tl.truncated and tl.summary.total == 30
    # the earliest queued ones, in order
    assert [r.job_id for r in tl.rows] == [f"j{i:02d}" for i in range(29, 19, -1)]


def test_the_eta_comes_from_each_unfinished_jobs_usual_run(trail: Any) -> None:
    # Given x usually runs 100 s and y 300 s (both after a 10 s wait)
    history = _usual("x", 100) + _usual("y", 300)
    now = T0 + H
    # and a batch with x running since now-30s, y queued, and one x done
    batch = [Spec("done", "x", now - 400, now - 390, now - 290, batch="req"),
             Spec("run", "x", now - 100, now - 30, None, batch="req"),
             Spec("wait", "y", now - 50, None, None, batch="req")]
    ingest(trail, history + batch)
    tl = insights.batch_timeline(trail.store, "req", now=now)
    # Expect y to finish last: its usual wait and run from now (the pace of one job in 390 s
    # would give 2 more jobs in 780 s, later still)
    assert tl.usual_runs == {"x": pytest.approx(100, rel=0.01), "y": pytest.approx(300, rel=0.01)}
    assert tl.eta == pytest.approx(now + 2 * 390, rel=1e-6)
    assert tl.eta > now + 10 + 300


def test_the_eta_without_finished_jobs_is_the_latest_usual_end(trail: Any) -> None:
    now = T0 + H
    ingest(trail, _usual("x", 100) + _usual("y", 300) + [
        Spec("run", "x", now - 100, now - 30, None, batch="req"),
        Spec("wait", "y", now - 50, None, None, batch="req")])
    tl = insights.batch_timeline(trail.store, "req", now=now)
    assert tl.eta == pytest.approx(now + 10 + 300, rel=1e-5)


def test_a_finished_batch_has_no_eta_and_an_unknown_one_is_not_found(trail: Any) -> None:
    ingest(trail, [Spec("a", "x", T0, T0 + 1, T0 + 2, batch="req")])
    assert insights.batch_timeline(trail.store, "req", now=T0 + 10).eta is None
    with pytest.raises(NotFound):
        insights.batch_timeline(trail.store, "nope")


def test_names_that_did_not_run_in_the_last_day_use_the_last_two_weeks(trail: Any) -> None:
    now = T0 + 5 * 86400
    old = [Spec(f"h{i}", "rare", T0 + i * 60, T0 + i * 60, T0 + i * 60 + 500) for i in range(5)]
    ingest(trail, [*old, Spec("run", "rare", now - 100, now - 100, None, batch="req")])
    tl = insights.batch_timeline(trail.store, "req", now=now)
    assert tl.usual_runs == {"rare": pytest.approx(500, rel=0.01)}
    assert tl.eta == pytest.approx(now - 100 + tl.usual_runs["rare"])
