"""Keep the demo database moving while `jobtrail demo` serves it, as a small fleet of workers would.

The jobs the generator left queued or running start, heartbeat and finish; new jobs arrive every
few seconds; the demo's workers keep sending heartbeats. A kill requested on the dashboard reaches
the simulated job on its next heartbeat and ends it as `killed`, so every control can be tried.
Durations are the names' usual ones, shortened so that something finishes while you watch.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from dataclasses import dataclass
from typing import Any

from jobtrail.demo import ERRORS, NAMES, WORKSPACES, NameProfile
from jobtrail.ingest import ingest
from jobtrail.model import JobFilter
from jobtrail.store.base import Store

__all__ = ["LiveDemo"]

log = logging.getLogger("jobtrail.demo")
UNFINISHED = ("queued", "retrying", "started", "kill_requested")
WORKERS = tuple(f"worker-{i}" for i in range(7))  # worker-7 is the demo's silent one
HEARTBEAT = 2.0  # seconds between a simulated job's heartbeats: a kill lands within this
MAX_RUN = 180.0  # seconds: long jobs are shortened so the demo shows them finishing


@dataclass
class _Job:
    id: str
    profile: NameProfile
    start_at: float | None  # None once started
    end_at: float
    beat_at: float = 0.0
    worker: str = ""


class LiveDemo:
    """`step(now)` advances the simulation to `now`; `start()` runs it once a second in a thread."""

    def __init__(self, store: Store, seed: int = 7, rate: float = 0.7) -> None:
        self.store = store
        self.rate = rate  # new jobs per second
        self.rng = random.Random(seed)
        self.jobs: dict[str, _Job] = {}
        self._serial = 0
        self._last: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._profiles = {p.name: p for p in NAMES}

    # ---- the simulation ------------------------------------------------------------------

    def adopt(self, now: float) -> int:
        """Take over the generated jobs that are still queued or running; returns how many."""
        rows = self.store.find(JobFilter(states=UNFINISHED), 1000, None)
        for row in rows:
            profile = self._profiles.get(row["name"]) or NAMES[0]
            if row["state"] in ("started", "kill_requested"):
                self.jobs[row["id"]] = _Job(row["id"], profile, None, now + self._run(profile),
                                            worker=row.get("worker") or self.rng.choice(WORKERS))
            else:
                self.jobs[row["id"]] = _Job(row["id"], profile, now + self.rng.uniform(1, 20), 0.0)
        return len(rows)

    def _run(self, profile: NameProfile) -> float:
        seconds = self.rng.lognormvariate(math.log(profile.median_run), 0.5)
        return min(seconds, MAX_RUN * self.rng.uniform(0.5, 1.0))

    def _arrivals(self, now: float, elapsed: float) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        weights = [p.weight for p in NAMES]
        expected = self.rate * elapsed
        count = int(expected) + (1 if self.rng.random() < expected - int(expected) else 0)
        for _ in range(count):
            profile = self.rng.choices(NAMES, weights)[0]
            self._serial += 1
            job_id = f"live-{int(now)}-{self._serial}"
            fields: dict[str, Any] = {
                "name": profile.name, "queue": profile.queue,
                "resources": [f"{profile.resource_type}:{self.rng.randint(1, 400)}"],
            }
            if profile.queue == "research":
                fields["labels"] = {"workspace": self.rng.choice(WORKSPACES)}
            events.append({"job_id": job_id, "type": "queued", "at": now, **fields})
            self.jobs[job_id] = _Job(job_id, profile, now + self.rng.expovariate(1 / 3.0), 0.0)
        return events

    def step(self, now: float) -> list[dict[str, Any]]:
        """Everything that happens up to `now`, stored in one ingest; returns the events."""
        elapsed = 1.0 if self._last is None else max(0.0, now - self._last)
        self._last = now
        events = self._arrivals(now, elapsed)
        for job in list(self.jobs.values()):
            base = {"job_id": job.id}
            if job.start_at is not None:
                if now >= job.start_at:
                    job.start_at, job.end_at, job.beat_at = None, now + self._run(job.profile), now
                    job.worker = self.rng.choice(WORKERS)
                    events.append({**base, "type": "started", "at": now, "worker": job.worker})
            elif now >= job.end_at:
                del self.jobs[job.id]
                if self.rng.random() < job.profile.failure_rate:
                    kind, message = self.rng.choice(ERRORS)
                    events.append({**base, "type": "failed", "at": now,
                                   "error": {"type": kind, "message": message}})
                else:
                    events.append({**base, "type": "succeeded", "at": now})
            elif now - job.beat_at >= HEARTBEAT:
                job.beat_at = now
                events.append({**base, "type": "heartbeat", "at": now})
        if not events:
            return events
        result = ingest(self.store, events, now=now)
        for job_id in result.control:  # a kill requested on the dashboard: the job obeys
            obeying = self.jobs.pop(job_id, None)
            if obeying is not None:
                kind = "killed" if obeying.start_at is None else "cancelled"
                kill = {"job_id": job_id, "type": kind, "at": now}
                ingest(self.store, [kill], now=now)
                events.append(kill)
        self._beat_workers(now)
        return events

    def _beat_workers(self, now: float) -> None:
        running: dict[str, int] = dict.fromkeys(WORKERS, 0)
        for job in self.jobs.values():
            if job.start_at is None and job.worker in running:
                running[job.worker] += 1
        queues = sorted({p.queue for p in NAMES})
        for i, worker in enumerate(WORKERS):
            self.store.beat_worker({
                "id": worker, "host": f"node-{i // 4 + 1}", "pid": 1000 + i,
                "queues": queues, "state": "busy" if running[worker] else "idle",
                "running": running[worker], "at": now,
            })

    # ---- the thread ------------------------------------------------------------------------

    def start(self) -> None:
        self.adopt(time.time())
        self._thread = threading.Thread(target=self._loop, name="jobtrail-demo-live", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(1.0):
            try:
                self.step(time.time())
            except Exception as exc:  # noqa: BLE001 - the demo server must outlive a failed step
                log.warning("jobtrail demo: the live simulation skipped a step: %s", exc)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
