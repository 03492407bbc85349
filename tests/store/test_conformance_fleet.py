"""Conformance: worker heartbeats, periodic declarations, last success and queue levels."""

from __future__ import annotations

from typing import Any

import pytest

from jobtrail import periodic, workers

T0 = 1_790_000_000.0


def test_a_worker_heartbeat_is_a_register_where_the_newest_wins(store: Any) -> None:
    store.beat_worker(workers.beat("w1", host="h1", pid=10, queues=["b", "a"], running=2, at=T0 + 20))
    store.beat_worker(workers.beat("w1", host="h1", pid=10, queues=["a"], running=0, at=T0 + 10))  # late
    store.beat_worker(workers.beat("w1", host="h1", pid=10, queues=["a", "b"], running=2, at=T0 + 20))
    store.beat_worker(workers.beat("w2", host="h2", pid=11, state="stopped", at=T0 + 5))
    w1, w2 = store.workers()
    assert w1 == {"id": "w1", "host": "h1", "pid": 10, "queues": ["a", "b"], "state": "busy", "running": 2,
                  "started_at": T0 + 10, "last_seen": T0 + 20}
    assert (w2["id"], w2["state"], w2["queues"], w2["last_seen"]) == ("w2", "stopped", [], T0 + 5)


def test_the_newest_periodic_declaration_wins(store: Any) -> None:
    store.declare_periodic(periodic.spec("nightly", every="6h", grace="30m", at=T0 + 10))
    store.declare_periodic(periodic.spec("nightly", every="1h", at=T0))  # older: ignored
    store.declare_periodic(periodic.spec("report", cron="0 3 * * *", down_after="2h", at=T0))
    nightly, report = sorted(store.periodics(), key=lambda d: d["name"])
    assert nightly == {"name": "nightly", "every": 21600.0, "cron": None, "grace": 1800.0,
                       "down_after": None, "declared_at": T0 + 10}
    assert (report["cron"], report["every"], report["down_after"]) == ("0 3 * * *", None, 7200.0)


def test_last_success_is_the_newest_success_per_name_and_outlives_deleted_rows(
    store: Any, add: Any
) -> None:
    add({"job_id": "a1", "type": "succeeded", "at": T0 + 100},
        {"job_id": "a2", "type": "succeeded", "at": T0 + 7300, "queue": "other"},
        {"job_id": "a3", "type": "failed", "at": T0 + 9000},
        {"job_id": "b1", "type": "succeeded", "at": T0 + 50, "name": "b"}, name="a")
    add({"job_id": "c1", "type": "failed", "at": T0, "name": "c"})
    assert store.last_success() == {"a": T0 + 7300, "b": T0 + 50}
    assert store.last_success(["b", "c"]) == {"b": T0 + 50}
    store.delete(["a1", "a2", "a3", "b1"])
    assert store.last_success(["a"]) == {"a": T0 + 7300}


def test_a_success_that_a_later_failure_report_overrides_is_not_the_last_success(
    store: Any, add: Any
) -> None:
    # Given a success two days ago, and one attempt reported as succeeded
    add({"job_id": "old", "type": "succeeded", "at": T0 - 2 * 86400, "name": "nightly"})
    add({"job_id": "j", "type": "succeeded", "at": T0, "name": "nightly"})
    # When a report that it failed (earlier) arrives after
    add({"job_id": "j", "type": "failed", "at": T0 - 1, "name": "nightly"})
    # Expect the failure to win and the last success to be the old one, also once only hourly
    # roll-ups are left
    assert store.get("j")["state"] == "failed"
    assert store.last_success(["nightly"]) == {"nightly": T0 - 2 * 86400}
    store.compact(T0 + 86400)
    assert store.last_success(["nightly"]) == {"nightly": T0 - 2 * 86400}


def test_queue_levels_count_queued_and_running_jobs_now_per_queue_and_name(
    store: Any, add: Any
) -> None:
    add({"job_id": "q1", "type": "queued", "at": T0 + 5},
        {"job_id": "q2", "type": "queued", "at": T0 + 1},
        {"job_id": "r1", "type": "started", "at": T0 + 3},
        {"job_id": "k1", "type": "started", "at": T0 + 3},
        {"job_id": "k1", "type": "kill_requested", "at": T0 + 4},
        {"job_id": "d1", "type": "succeeded", "at": T0 + 9},
        {"job_id": "y1", "type": "queued", "at": T0 + 2},
        {"job_id": "y1", "type": "retrying", "at": T0 + 8}, name="imp", queue="io")
    add({"job_id": "o1", "type": "started", "at": T0, "name": "exp"})
    assert store.queue_levels() == [
        {"queue": "default", "name": "exp", "queued": 0, "running": 1, "oldest_queued_at": None},
        {"queue": "io", "name": "imp", "queued": 3, "running": 2, "oldest_queued_at": T0 + 1},
    ]


@pytest.mark.parametrize("bad", [
    {"worker_id": "x", "host": ""},
    {"worker_id": "x", "state": "asleep"},
    {"worker_id": "x", "running": -1},
    {"worker_id": "x", "queues": "default"},
])
def test_bad_worker_heartbeats_are_refused_with_a_reason(bad: dict[str, Any]) -> None:
    from jobtrail.errors import InvalidInput

    with pytest.raises(InvalidInput, match="worker"):
        workers.beat(**bad)
