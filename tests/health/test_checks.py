"""Each check reaches each of its levels on generated data, on SQLite and PostgreSQL, and the
report's level is the worst of its checks."""

from __future__ import annotations

import time
from typing import Any

import pytest

from jobtrail import periodic
from jobtrail.health import HealthSettings, check
from jobtrail.health.checks import check_periodic, check_queues, check_store, check_workers
from jobtrail.ingest import ingest
from jobtrail.store import open_store
from jobtrail.store.base import Store
from jobtrail.store.sql.migrate import downgrade, head_revision

HOUR = 3600.0


def put(store: Store, *events: dict[str, Any]) -> None:
    result = ingest(store, events)
    assert not result.rejected, result.rejected


def queued(store: Store, n: int, at: float, queue: str = "mail", name: str = "send") -> None:
    put(store, *({"job_id": f"{queue}-{name}-{at}-{i}", "type": "queued", "at": at, "name": name,
                  "queue": queue} for i in range(n)))


def succeeded(store: Store, job_id: str, name: str, at: float) -> None:
    put(store, {"job_id": job_id, "type": "started", "at": at - 5, "name": name},
        {"job_id": job_id, "type": "succeeded", "at": at})


def beat(store: Store, worker_id: str, at: float, state: str = "busy") -> None:
    store.beat_worker({"id": worker_id, "host": "h", "pid": 1, "queues": ["mail"], "state": state,
                       "running": 1, "at": at})


# ---- store ----------------------------------------------------------------------------------

def test_store_is_healthy_when_it_answers_at_the_newest_migration(store: Store) -> None:
    c = check_store(store, HealthSettings(), time.time())
    assert c.level == "healthy", c
    assert c.details["revision"] == c.details["head"] == head_revision()


def test_store_is_degraded_when_it_answers_slower_than_the_threshold(store: Store) -> None:
    c = check_store(store, HealthSettings(store_slow=1e-9), time.time())
    assert c.level == "degraded" and "took" in c.reason, c


def test_store_is_unhealthy_behind_on_migrations_and_says_how_to_fix_it(store: Store) -> None:
    downgrade(store.engine, "-1")  # type: ignore[attr-defined]
    report = check(store, HealthSettings(), time.time())
    first = report.checks[0]
    assert (first.name, first.level) == ("store", "unhealthy")
    assert "jobtrail db upgrade" in first.reason and head_revision() in first.reason
    assert report.level == "unhealthy"


def test_a_database_that_does_not_answer_is_unhealthy_and_the_rest_is_not_attempted() -> None:
    store = open_store("postgresql://postgres@127.0.0.1:1/nowhere?connect_timeout=2", migrate=False)
    try:
        report = check(store, HealthSettings(), time.time())
    finally:
        store.close()
    assert [c.name for c in report.checks] == ["store", "queues", "stalled", "workers", "periodic"]
    assert {c.level for c in report.checks} == {"unhealthy"}
    assert "does not answer" in report.checks[0].reason
    assert all("not checked" in c.reason for c in report.checks[1:])
    assert report.exit_code == 2 and report.http_status == 503


# ---- queues ---------------------------------------------------------------------------------

QUEUES = HealthSettings(queue_degraded=3, queue_unhealthy=6, queue_age_degraded=600,
                        queue_age_unhealthy=HOUR, queue_growth_window=600, queue_growth_degraded=0)


def test_queues_are_healthy_with_a_few_fresh_jobs_waiting(store: Store) -> None:
    now = time.time()
    queued(store, 2, now - 30)
    c = check_queues(store, QUEUES, now)
    assert c.level == "healthy", c
    assert "2 jobs waiting in 1 queue" in c.reason
    [row] = c.details["queues"]
    assert (row["queue"], row["queued"]) == ("mail", 2)
    assert row["oldest_queued_age"] == pytest.approx(30, abs=1)


def test_queues_turn_degraded_then_unhealthy_by_size(store: Store) -> None:
    now = time.time()
    queued(store, 3, now - 30, name="a")
    c = check_queues(store, QUEUES, now)
    assert c.level == "degraded" and "queue 'mail' holds 3 jobs" in c.reason, c
    queued(store, 3, now - 30, name="b")  # another name on the same queue adds up
    c = check_queues(store, QUEUES, now)
    assert c.level == "unhealthy" and "holds 6 jobs" in c.reason, c


def test_queues_turn_degraded_then_unhealthy_by_the_oldest_jobs_age(store: Store) -> None:
    now = time.time()
    queued(store, 1, now - 700, queue="slow")
    c = check_queues(store, QUEUES, now)
    assert c.level == "degraded" and "oldest job in queue 'slow' has waited 11m" in c.reason, c
    c = check_queues(store, QUEUES, now + HOUR)
    assert c.level == "unhealthy", c


def test_a_queue_growing_fast_is_degraded_and_one_draining_is_not(store: Store) -> None:
    now = time.time()
    settings = HealthSettings(queue_growth_degraded=4, queue_growth_window=600)
    queued(store, 4, now - 60, queue="burst")
    c = check_queues(store, settings, now)
    assert c.level == "degraded" and "queue 'burst' grew by 4 jobs" in c.reason, c
    put(store, *({"job_id": f"burst-send-{now - 60}-{i}", "type": "started", "at": now - 10}
                 for i in range(4)))
    c = check_queues(store, settings, now)
    assert c.level == "healthy" and c.reason == "no jobs are waiting; 4 running", c
    put(store, *({"job_id": f"burst-send-{now - 60}-{i}", "type": "succeeded", "at": now - 5}
                 for i in range(4)))
    c = check_queues(store, settings, now)  # drained within the window: nothing to report
    assert (c.level, c.reason, c.details["queues"]) == (
        "healthy", "no jobs are waiting or running", []), c


# ---- workers --------------------------------------------------------------------------------

WORKERS = HealthSettings(worker_timeout=120, worker_forget=86400)


def test_workers_are_healthy_when_none_report_or_all_beat_recently(store: Store) -> None:
    now = time.time()
    assert check_workers(store, WORKERS, now).level == "healthy"
    beat(store, "w1", now - 10)
    beat(store, "w2", now - 30, state="idle")
    c = check_workers(store, WORKERS, now)
    assert c.level == "healthy" and "2 workers alive (1 busy)" in c.reason, c


def test_a_silent_worker_is_degraded_and_all_silent_is_unhealthy(store: Store) -> None:
    now = time.time()
    beat(store, "w1", now - 10)
    beat(store, "w2", now - 600)
    c = check_workers(store, WORKERS, now)
    assert c.level == "degraded" and "1 of 2 workers is silent" in c.reason and "'w2'" in c.reason
    c = check_workers(store, WORKERS, now + 300)
    assert c.level == "unhealthy" and "every worker is silent" in c.reason, c


def test_stopped_workers_and_long_gone_ones_are_not_a_problem(store: Store) -> None:
    now = time.time()
    beat(store, "w1", now - 600, state="stopped")
    beat(store, "w2", now - 3 * 86400)
    c = check_workers(store, WORKERS, now)
    assert c.level == "healthy" and c.details["workers"] == [], c


# ---- periodic jobs --------------------------------------------------------------------------

def declare(store: Store, name: str, at: float, **schedule: Any) -> None:
    store.declare_periodic(periodic.spec(name, at=at, **schedule))


def test_a_six_hourly_job_is_judged_by_six_hours_not_a_global_two(store: Store) -> None:
    now = time.time()
    declare(store, "reputation", now - 30 * HOUR, every="6h", grace="30m")
    succeeded(store, "r1", "reputation", now - 5 * HOUR)
    c = check_periodic(store, HealthSettings(), now)
    assert c.level == "healthy", c
    [row] = c.details["periodic"]
    assert (row["name"], row["state"]) == ("reputation", "ok")


def test_a_periodic_job_turns_late_then_down_without_a_success(store: Store) -> None:
    now = time.time()
    declare(store, "hourly", now - 10 * HOUR, every="1h", grace="10m")
    succeeded(store, "h1", "hourly", now - 1.5 * HOUR)
    c = check_periodic(store, HealthSettings(), now)
    assert c.level == "degraded" and c.reason.startswith("'hourly' is late"), c
    c = check_periodic(store, HealthSettings(), now + HOUR)
    assert c.level == "unhealthy" and "'hourly' is down" in c.reason, c
    succeeded(store, "h2", "hourly", now)
    assert check_periodic(store, HealthSettings(), now).level == "healthy"


def test_a_periodic_job_that_never_succeeds_is_late_although_each_run_redeclares_it(
    store: Store
) -> None:
    # Given an hourly job (`jobtrail run --every 1h`) that declares itself at every run and fails
    now = time.time()
    for i in range(3, 0, -1):
        declare(store, "backup", now - i * HOUR, every="1h")
        put(store, {"job_id": f"b{i}", "type": "started", "at": now - i * HOUR, "name": "backup"},
            {"job_id": f"b{i}", "type": "failed", "at": now - i * HOUR + 10})
    # When its health is checked three hours after the first declaration
    c = check_periodic(store, HealthSettings(), now)
    # Expect it judged from its first declaration, not from the latest repeat of the same schedule
    assert c.level == "unhealthy" and "'backup' is down" in c.reason, c
    # and a new schedule starts the clock again
    declare(store, "backup", now, every="1d")
    assert check_periodic(store, HealthSettings(), now + HOUR).level == "healthy"


def test_a_cron_job_never_run_is_healthy_until_it_is_overdue(store: Store) -> None:
    now = time.time()
    declare(store, "nightly", now - 60, cron="0 3 * * *", grace="1h")
    c = check_periodic(store, HealthSettings(), now)
    assert c.level == "healthy" and "not run yet" in c.reason, c
    assert check_periodic(store, HealthSettings(), now + 26 * HOUR).level != "healthy"


# ---- the report -----------------------------------------------------------------------------

def test_the_report_lists_every_check_and_takes_the_worst_level(store: Store) -> None:
    now = time.time()
    settings = HealthSettings(queue_degraded=2, queue_unhealthy=0, worker_timeout=60)
    report = check(store, settings, now)
    assert [c.name for c in report.checks] == ["store", "queues", "stalled", "workers", "periodic"]
    assert report.level == "healthy", report
    queued(store, 2, now - 5)
    assert check(store, settings, now).level == "degraded"
    beat(store, "w1", now - 600)
    report = check(store, settings, now)
    levels = {c.name: c.level for c in report.checks}
    assert levels["queues"] == "degraded" and levels["workers"] == "unhealthy"
    assert report.level == "unhealthy" and report.to_dict()["level"] == "unhealthy"
