"""Workers and periodic jobs to go with `jobtrail.demo.generate_events`, for `jobtrail demo` and the
dashboard tests. Kept apart from the event generator, whose source fingerprints the benchmarks'
cached datasets."""

from __future__ import annotations

import random
from typing import Any

from jobtrail.demo import NAMES

__all__ = ["fleet", "periodic_runs"]


def fleet(now: float, seed: int = 7) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(worker heartbeats, periodic declarations) to go with `generate_events`, so the dashboard's
    workers page and periodic schedules have something to show: eight workers (the ids the events
    name), one of them gone silent, and four periodic jobs, one of them late."""
    rng = random.Random(seed)
    queues = sorted({p.queue for p in NAMES})
    workers: list[dict[str, Any]] = []
    for i in range(8):
        silent = i == 7
        workers.append({
            "id": f"worker-{i}", "host": f"node-{i // 4 + 1}", "pid": 1000 + i,
            "queues": rng.sample(queues, 3), "state": "idle" if silent else rng.choice(("busy", "idle")),
            "running": 0 if silent else rng.randint(0, 3),
            "at": now - (900 if silent else rng.uniform(0, 20)),
        })
    periodic: list[dict[str, Any]] = [
        {"name": "hot_score_refresh", "every": 300.0, "cron": None, "grace": 120.0,
         "down_after": 3600.0, "at": now},
        {"name": "trending_score_refresh", "every": 3600.0, "cron": None, "grace": 600.0,
         "down_after": None, "at": now},
        {"name": "backups.nightly", "every": None, "cron": "0 2 * * *", "grace": 3600.0,
         "down_after": None, "at": now},
        {"name": "reputation_tasks", "every": 6 * 3600.0, "cron": None, "grace": 1800.0,
         "down_after": None, "at": now},
    ]
    return workers, periodic


# (name, seconds between runs, runs, seconds since the last one, seconds each run takes)
_SCHEDULED = (
    ("hot_score_refresh", 300.0, 12, 100.0, 8.0),
    ("trending_score_refresh", 3600.0, 6, 1200.0, 45.0),
    ("reputation_tasks", 6 * 3600.0, 3, 6 * 3600.0 + 2400.0, 120.0),  # late: due 40 min ago
)
"""The declared periodic jobs' recent successes, on their schedules, so the demo shows two
healthy periodic jobs, one late and one down (`backups.nightly` last ran five nights ago: it
silently stopped)."""


def periodic_runs(now: float) -> list[dict[str, Any]]:
    """Events of the scheduled runs that `fleet`'s periodic declarations expect."""
    events: list[dict[str, Any]] = []
    last_backup = now - now % 86400 - 5 * 86400 + 2 * 3600  # 02:00 UTC, five days back
    for name, every, runs, last_ago, seconds in (
        *_SCHEDULED, ("backups.nightly", 86400.0, 3, now - last_backup, 600.0),
    ):
        profile = next(p for p in NAMES if p.name == name)
        for i in range(runs):
            start = now - last_ago - seconds - i * every
            job = f"scheduled-{name}-{i}"
            events += [
                {"job_id": job, "type": "queued", "at": start - 0.5, "name": name,
                 "queue": profile.queue},
                {"job_id": job, "type": "started", "at": start, "worker": "worker-0"},
                {"job_id": job, "type": "succeeded", "at": start + seconds},
            ]
    return events
