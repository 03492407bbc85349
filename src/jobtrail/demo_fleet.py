"""Workers and periodic jobs to go with `jobtrail.demo.generate_events`, for `jobtrail demo` and the
dashboard tests. Kept apart from the event generator, whose source fingerprints the benchmarks'
cached datasets."""

from __future__ import annotations

import random
from typing import Any

from jobtrail.demo import NAMES

__all__ = ["fleet"]


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
