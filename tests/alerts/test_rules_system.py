"""Default rules about queues, workers and periodic jobs fire and resolve, on both backends.

Given queue contents, worker heartbeats and periodic declarations written through the store, when
the rule is evaluated at chosen instants, expect the transitions the rule's thresholds promise.
"""

from __future__ import annotations

import time

from alerts.support import Feed, T, only, rule, steps
from jobtrail.alerts import Evaluator, active
from jobtrail.store.base import Store

MIN = 60.0
HOUR = 3600.0


def test_queue_size_critical_fires_after_two_minutes_and_resolves(store: Store, feed: Feed) -> None:
    ids = feed.queued("mail.send", T - 300, 1001, queue="mail")
    feed.queued("mail.send", T - 300, 999, queue="other")  # not above 1,000
    ev = only("queue_size_critical")
    assert steps(ev.evaluate(store, T)) == [("mail", "inactive", "pending")]
    fired = ev.evaluate(store, T + 2 * MIN)
    assert steps(fired) == [("mail", "pending", "firing")]
    assert fired[0].value == 1001
    feed.ingest([{"job_id": j, "type": "started", "at": T + 150} for j in ids[:10]])
    assert steps(ev.evaluate(store, T + 3 * MIN)) == [("mail", "firing", "resolved")]


def test_queue_growing_needs_size_and_growth(store: Store, feed: Feed) -> None:
    feed.queued("import.book", T - 300, 150, queue="books")
    feed.queued("import.book", T + 200, 20, queue="books")
    feed.queued("import.book", T + 500, 20, queue="books")
    feed.queued("tiny.job", T - 300, 50, queue="small")  # growing, but small
    ev = only("queue_growing")
    assert steps(ev.evaluate(store, T)) == [("books", "inactive", "pending")]
    fired = ev.evaluate(store, T + 10 * MIN)  # grew by 40 over the last 10 minutes
    assert steps(fired) == [("books", "pending", "firing")]
    assert fired[0].value == 190
    # No new jobs for 10 minutes: large, but not growing any more
    assert steps(ev.evaluate(store, T + 25 * MIN)) == [("books", "firing", "resolved")]


def test_worker_lost_fires_on_silence_and_resolves_on_a_heartbeat(store: Store) -> None:
    now = time.time()
    base = {"host": "web-1", "queues": ["default"], "running": 1}
    store.beat_worker({**base, "id": "w1", "pid": 11, "state": "busy", "at": now - 300})
    store.beat_worker({**base, "id": "w2", "pid": 12, "state": "idle", "at": now - 10})
    store.beat_worker({**base, "id": "w3", "pid": 13, "state": "stopped", "at": now - 300})
    ev = only("worker_lost")
    fired = ev.evaluate(store, now)
    assert steps(fired) == [("w1", "inactive", "firing")]
    assert "no heartbeat for 5m" in fired[0].summary
    store.beat_worker({**base, "id": "w1", "pid": 11, "state": "idle", "at": now + 5})
    assert steps(ev.evaluate(store, now + 10)) == [("w1", "firing", "resolved")]


def test_a_worker_silent_for_days_is_gone_not_lost(store: Store) -> None:
    now = time.time()
    store.beat_worker({"id": "old", "host": "h", "pid": 1, "queues": [], "state": "busy",
                       "running": 0, "at": now - 3 * 86400})
    assert only("worker_lost").evaluate(store, now) == []


def test_a_six_hourly_job_is_late_by_its_own_schedule_then_down(store: Store, feed: Feed) -> None:
    store.declare_periodic({"name": "reputation.tasks", "every": 6 * HOUR, "cron": None,
                            "grace": 30 * MIN, "down_after": None, "at": T - 10 * HOUR})
    store.declare_periodic({"name": "hot.refresh", "every": 5 * MIN, "cron": None,
                            "grace": 2 * MIN, "down_after": None, "at": T - 10 * HOUR})
    feed.run("reputation.tasks", T - 3 * HOUR)  # due at T + 3h, late from T + 3h30m
    feed.run("hot.refresh", T + 2 * HOUR - 60)
    ev = Evaluator([rule("periodic_late"), rule("periodic_down")], notifiers=())
    # Three hours without a success is fine for a 6-hourly job (a global "2 hours" would page)
    assert ev.evaluate(store, T + 2 * HOUR) == []
    late = ev.evaluate(store, T + 3 * HOUR + 31 * MIN)
    assert [(t.rule, t.subject, t.to_state) for t in late] == [
        ("periodic_down", "hot.refresh", "firing"),  # every 5 minutes: down long ago
        ("periodic_late", "reputation.tasks", "firing"),
    ]
    assert late[1].value is not None and 30 * MIN < late[1].value < 32 * MIN  # seconds overdue
    assert late[0].severity == "critical" and late[1].severity == "warning"
    # Still no success when the following run is overdue too: late gives way to down
    moved = ev.evaluate(store, T + 9 * HOUR + 31 * MIN)
    assert [(t.rule, t.subject, t.to_state) for t in moved] == [
        ("periodic_late", "reputation.tasks", "resolved"),
        ("periodic_down", "reputation.tasks", "firing"),
    ]
    # A success resolves it
    feed.run("reputation.tasks", T + 9 * HOUR + 40 * MIN)
    resolved = ev.evaluate(store, T + 9 * HOUR + 41 * MIN)
    assert [(t.rule, t.subject, t.to_state) for t in resolved] == [
        ("periodic_down", "reputation.tasks", "resolved")]
    assert [(a.rule, a.subject) for a in active(store)] == [("periodic_down", "hot.refresh")]
