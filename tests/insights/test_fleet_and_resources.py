"""Queues and workers now, and every job that touched one resource."""

from __future__ import annotations

import json
from typing import Any

from jobtrail import insights, workers

from .conftest import T0, Spec, ingest


def test_queues_sum_what_waits_and_runs_now_per_queue(trail: Any) -> None:
    ingest(trail, [Spec("q1", "a", T0 + 10, queue="mail"), Spec("q2", "b", T0 + 5, queue="mail"),
                   Spec("r1", "a", T0, T0 + 20, queue="mail"), Spec("r2", "c", T0, T0 + 1),
                   Spec("done", "a", T0, T0 + 1, T0 + 2, queue="mail")])
    rows = insights.queues(trail.store, now=T0 + 100)
    assert [(r.queue, r.queued, r.running, r.oldest_queued_age) for r in rows] == [
        ("default", 0, 1, None), ("mail", 2, 1, 95.0)]
    assert json.loads(json.dumps(rows[1].to_dict()))["oldest_queued_age"] == 95.0


def test_workers_are_listed_busy_first_and_silent_ones_last(trail: Any) -> None:
    beat = trail.store.beat_worker
    beat(workers.beat("w-idle", host="h", pid=1, queues=["a"], at=T0 + 90))
    beat(workers.beat("w-busy", host="h", pid=2, queues=["b", "a"], running=3, at=T0 + 95))
    beat(workers.beat("w-gone", host="h2", pid=3, running=1, at=T0 - 600))
    beat(workers.beat("w-stop", host="h2", pid=4, state="stopped", at=T0 - 600))
    rows = insights.workers(trail.store, now=T0 + 100)
    assert [(w.id, w.state, w.running, w.age, w.silent) for w in rows] == [
        ("w-busy", "busy", 3, 5.0, False),
        ("w-idle", "idle", 0, 10.0, False),
        ("w-stop", "stopped", 0, 700.0, False),
        ("w-gone", "busy", 1, 700.0, True),
    ]
    assert rows[0].queues == ["a", "b"] and rows[0].host == "h" and rows[0].pid == 2
    assert json.loads(json.dumps(rows[0].to_dict()))["last_seen"] == T0 + 95


def test_a_resource_shows_its_jobs_across_names_with_counts(trail: Any) -> None:
    ingest(trail, [
        Spec("a", "ImportBook", T0, T0 + 1, T0 + 2, resources=["Book:1"]),
        Spec("b", "DeleteBook", T0 + 10, T0 + 11, T0 + 12, end="failed", resources=["Book:1", "User:2"]),
        Spec("c", "ImportBook", T0 + 20, resources=["Book:1"]),
        Spec("d", "ImportBook", T0 + 30, T0 + 31, T0 + 32, resources=["Book:2"]),
    ])
    r = insights.resource_detail(trail.store, "Book:1", limit=2)
    assert r.counts == {"succeeded": 1, "failed": 1, "queued": 1} and r.total == 3
    assert r.names == {"ImportBook": 2, "DeleteBook": 1}
    assert [j.id for j in r.page.jobs] == ["c", "b"] and r.page.next_cursor
    rest = insights.resource_detail(trail.store, "Book:1", limit=2, cursor=r.page.next_cursor)
    assert [j.id for j in rest.page.jobs] == ["a"] and rest.page.next_cursor is None
    assert json.loads(json.dumps(r.to_dict()))["jobs"][0]["id"] == "c"
    assert insights.resource_detail(trail.store, "Book:99").total == 0
