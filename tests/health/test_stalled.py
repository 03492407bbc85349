"""Stalled jobs become `lost` through an ordinary event, on both backends; a later real event wins;
marking again, or from two processes at once, changes nothing."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from jobtrail.health import HealthSettings
from jobtrail.health import stalled as stalled_module
from jobtrail.health.checks import check_stalled
from jobtrail.health.stalled import lost_since, mark_stalled
from jobtrail.ingest import ingest
from jobtrail.store import open_store
from jobtrail.store.base import Store

TIMEOUT = 300.0


def ev(job_id: str, kind: str, at: float, **fields: Any) -> dict[str, Any]:
    return {"job_id": job_id, "type": kind, "at": at, **fields}


def put(store: Store, *events: dict[str, Any]) -> None:
    result = ingest(store, events)
    assert not result.rejected, result.rejected


def running(store: Store, job_id: str, started: float, beat: float | None = None,
            name: str = "imports.book") -> None:
    put(store, ev(job_id, "queued", started - 5, name=name), ev(job_id, "started", started))
    if beat is not None:
        put(store, ev(job_id, "heartbeat", beat))


def test_a_started_job_silent_past_the_timeout_is_marked_lost_at_the_instant_it_went_silent(
        store: Store) -> None:
    now = time.time()
    running(store, "silent", now - 2000, beat=now - 1000)
    running(store, "alive", now - 2000, beat=now - 10)
    running(store, "young", now - 60)
    marked = mark_stalled(store, TIMEOUT, now)
    assert [s.job_id for s in marked] == ["silent"]
    record = store.get("silent")
    assert record is not None
    assert record["state"] == "lost"
    assert record["lost_at"] == now - 1000 + TIMEOUT
    assert {store.get(j)["state"] for j in ("alive", "young")} == {"started"}  # type: ignore[index]


def test_a_heartbeat_after_the_lost_mark_brings_the_job_back_and_a_success_ends_it(
        store: Store) -> None:
    now = time.time()
    running(store, "j", now - 2000)
    mark_stalled(store, TIMEOUT, now)
    assert store.get("j")["state"] == "lost"  # type: ignore[index]
    put(store, ev("j", "heartbeat", now))
    assert store.get("j")["state"] == "started"  # type: ignore[index]
    mark_stalled(store, TIMEOUT, now + 1)
    assert store.get("j")["state"] == "started"  # type: ignore[index]
    running(store, "k", now - 2000)
    mark_stalled(store, TIMEOUT, now)
    put(store, ev("k", "succeeded", now))
    assert store.get("k")["state"] == "succeeded"  # type: ignore[index]


def test_marking_twice_changes_nothing_and_the_roll_ups_count_one_lost_job(store: Store) -> None:
    now = time.time()
    running(store, "j", now - 2000)
    assert len(mark_stalled(store, TIMEOUT, now)) == 1
    first = store.get("j")
    assert mark_stalled(store, TIMEOUT, now + 30) == []
    assert store.get("j") == first
    assert lost_since(store, now - 3600, now) == {"imports.book": 1}


def test_two_processes_marking_at_once_write_the_same_event_once(store_url: str) -> None:
    now = time.time()
    stores = [open_store(store_url) for _ in range(3)]
    try:
        for i in range(20):
            running(stores[0], f"j{i}", now - 2000 - i)
        with ThreadPoolExecutor(3) as pool:
            list(pool.map(lambda s: mark_stalled(s, TIMEOUT, now), stores))
        states = {stores[0].get(f"j{i}")["state"] for i in range(20)}  # type: ignore[index]
        assert states == {"lost"}
        assert lost_since(stores[0], now - 7200, now) == {"imports.book": 20}
    finally:
        for s in stores:
            s.close()


def test_a_job_flagged_for_killing_that_stalls_is_marked_once(store: Store) -> None:
    now = time.time()
    running(store, "j", now - 2000)
    put(store, ev("j", "kill_requested", now - 1500))
    assert len(mark_stalled(store, TIMEOUT, now)) == 1
    record = store.get("j")
    assert record is not None and record["lost_at"] == now - 2000 + TIMEOUT
    assert mark_stalled(store, TIMEOUT, now) == []


def test_the_stalled_check_is_healthy_then_degraded_then_unhealthy(store: Store) -> None:
    now = time.time()
    settings = HealthSettings(stall_timeout=TIMEOUT, lost_window=3600, lost_unhealthy=3)
    running(store, "ok", now - 100)
    healthy = check_stalled(store, settings, now)
    assert healthy.level == "healthy", healthy
    running(store, "a", now - 1000)
    degraded = check_stalled(store, settings, now)
    assert degraded.level == "degraded", degraded
    assert degraded.details["marked_lost"] == ["a"]
    assert "1 job went silent" in degraded.reason and "'imports.book'" in degraded.reason
    again = check_stalled(store, settings, now + 1)  # already marked: still counted in the window
    assert again.level == "degraded" and again.details["marked_count"] == 0
    running(store, "b", now - 1000, name="reports.daily")
    running(store, "c", now - 1000, name="reports.daily")
    unhealthy = check_stalled(store, settings, now)
    assert unhealthy.level == "unhealthy", unhealthy
    assert unhealthy.details["lost_recently"] == {"imports.book": 1, "reports.daily": 2}
    # Found long after it went silent ("ok" stalled at now + 200): counted when it is found ...
    late_find = check_stalled(store, settings, now + 7200)
    assert late_find.level == "degraded" and late_find.details["marked_lost"] == ["ok"]
    # ... and once the window has passed with nothing new, the check is healthy again.
    later = check_stalled(store, settings, now + 7300)
    assert later.level == "healthy", later


def test_with_more_running_jobs_than_one_sweep_reads_the_oldest_are_reached_by_the_next(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a sweep that reads 4 running jobs (in pages of 2), and 3 stalled jobs older than
    # 6 live ones
    monkeypatch.setattr(stalled_module, "MAX_SCAN", 4)
    monkeypatch.setattr(stalled_module, "_PAGE", 2)
    now = time.time()
    events = []
    for n in range(3):
        events += [ev(f"stalled-{n}", "queued", now - 5000 + n, name="x"),
                   ev(f"stalled-{n}", "started", now - 4000 + n)]
    for n in range(6):
        events += [ev(f"live-{n}", "queued", now - 100 + n, name="x"),
                   ev(f"live-{n}", "started", now - 90 + n)]
    put(store, *events)
    # When the sweeps run
    first = {s.job_id for s in mark_stalled(store, TIMEOUT, now)}
    later = {s.job_id for s in mark_stalled(store, TIMEOUT, now)}
    later |= {s.job_id for s in mark_stalled(store, TIMEOUT, now)}
    # Expect the first to see only live jobs, and the next ones to mark every stalled job
    assert first == set()
    assert later == {"stalled-0", "stalled-1", "stalled-2"}
    assert {store.get(f"stalled-{n}")["state"] for n in range(3)} == {"lost"}  # type: ignore[index]
    assert {store.get(f"live-{n}")["state"] for n in range(6)} == {"started"}  # type: ignore[index]
