"""The live demo moves the served database on: adopted jobs finish, new ones arrive, run and end,
workers beat, and a kill requested from outside ends the job as killed."""

from __future__ import annotations

from typing import Any

from jobtrail.demo_live import HEARTBEAT, MAX_RUN, LiveDemo
from jobtrail.ingest import ingest
from jobtrail.model import JobFilter
from jobtrail.query import kill_job
from jobtrail.store import open_store

T0 = 1_790_000_000.0


def _states(store: Any) -> dict[str, str]:
    return {r["id"]: r["state"] for r in store.find(JobFilter(), 10_000, None)}


def test_the_simulation_finishes_adopted_jobs_and_runs_new_ones(sqlite_url: str) -> None:
    store = open_store(sqlite_url)
    try:
        ingest(store, [
            {"job_id": "q", "type": "queued", "at": T0 - 50, "name": "cache.warm"},
            {"job_id": "r", "type": "started", "at": T0 - 40, "name": "reports.send_email"},
        ], now=T0)
        live = LiveDemo(store, seed=3, rate=0.5)
        assert live.adopt(T0) == 2
        t = T0
        seen_heartbeat = False
        while t < T0 + 2 * MAX_RUN + 60:
            t += 1
            events = live.step(t)
            seen_heartbeat |= any(e["type"] == "heartbeat" for e in events)
        states = _states(store)
        assert states["q"] in ("succeeded", "failed") and states["r"] in ("succeeded", "failed")
        new = {k: v for k, v in states.items() if k.startswith("live-")}
        assert 150 <= len(new) <= 300  # about 0.5 per second over 420 s
        assert sum(v in ("succeeded", "failed") for v in new.values()) > len(new) // 2
        assert seen_heartbeat
        assert store.find(JobFilter(states=("lost",)), 10, None) == []
        workers = store.workers()
        assert len(workers) == 7 and all(w["last_seen"] == t for w in workers)
    finally:
        store.close()


def test_a_kill_requested_from_outside_ends_the_running_job_as_killed(sqlite_url: str) -> None:
    store = open_store(sqlite_url)
    try:
        ingest(store, [{"job_id": "long", "type": "started", "at": T0 - 5, "name": "study.run_model"}],
               now=T0)
        live = LiveDemo(store, seed=1, rate=0.0)
        live.adopt(T0)
        live.step(T0 + 1)
        kill_job(store, "long", now=T0 + 1.5)
        for i in range(2, 2 + int(HEARTBEAT) + 2):
            live.step(T0 + i)
        assert store.get("long")["state"] == "killed"  # type: ignore[index]
        assert "long" not in live.jobs
    finally:
        store.close()
