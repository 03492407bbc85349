"""Realistic generated history for `jobtrail demo` and the benchmarks.

Twenty job names with skewed volumes (a few hot ones, a long tail), per-name typical durations
(log-normal), failure and retry rates, busy hours when waits grow, job requests (batches) of many
jobs, about ten jobs per resource, workspace labels, and some jobs still queued or running now.
Deterministic for a given seed.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["NAMES", "NameProfile", "generate_events"]


@dataclass(frozen=True, slots=True)
class NameProfile:
    name: str
    weight: float
    median_run: float  # seconds
    failure_rate: float
    resource_type: str
    queue: str = "default"
    batched: bool = False


NAMES = (
    NameProfile("reports.send_email", 30, 1.2, 0.01, "User", "mail"),
    NameProfile("webhook_retry", 18, 0.4, 0.06, "Webhook", "webhooks"),
    NameProfile("hot_score_refresh", 12, 8, 0.005, "Clip"),
    NameProfile("ImportBook", 9, 95, 0.04, "Book", "imports", batched=True),
    NameProfile("clip_sync", 7, 40, 0.03, "Channel"),
    NameProfile("TaskPlan.publish", 6, 25, 0.02, "TaskPlan", batched=True),
    NameProfile("thumbnails.render", 5, 3.5, 0.01, "Clip", "media", batched=True),
    NameProfile("embedding_generation", 4, 60, 0.02, "Clip", "ml", batched=True),
    NameProfile("invoices.generate", 3, 12, 0.01, "Account", "billing"),
    NameProfile("search.reindex", 2.5, 300, 0.03, "Index"),
    NameProfile("trending_score_refresh", 2, 45, 0.01, "Clip"),
    NameProfile("DeleteTaskPlan", 1.5, 5, 0.02, "TaskPlan"),
    NameProfile("exports.csv", 1.2, 180, 0.05, "Report", "exports", batched=True),
    NameProfile("study.generate_population", 1, 1500, 0.08, "Workspace", "research", batched=True),
    NameProfile("study.run_model", 0.8, 3600, 0.1, "Workspace", "research", batched=True),
    NameProfile("reputation_tasks", 0.6, 120, 0.02, "User"),
    NameProfile("backups.nightly", 0.3, 2400, 0.03, "Database"),
    NameProfile("cache.warm", 0.3, 15, 0.01, "Cache"),
    NameProfile("audit.archive", 0.2, 600, 0.02, "Account"),
    NameProfile("users.cleanup", 0.1, 90, 0.01, "User"),
)
WORKSPACES = ("bmi-and-hba1c", "postopcovid", "comparative-booster", "post-covid-vaccinated")
ERRORS = (
    ("TimeoutError", "upstream did not answer within 30s"),
    ("ConnectionError", "connection reset by peer"),
    ("ValueError", "invalid record on line 812"),
    ("KeyError", "'isbn'"),
    ("MemoryError", ""),
)


def _busy(at: float) -> float:
    """How busy the system is at `at`: higher in working hours, so waits grow then."""
    hour = (at % 86400) / 3600
    return 1.0 + 4.0 * math.exp(-((hour - 14) ** 2) / 8)


def generate_events(
    jobs: int,
    days: float,
    now: float,
    seed: int = 7,
    batch_size: int = 500,
    names: tuple[NameProfile, ...] = NAMES,
) -> Iterator[list[dict[str, Any]]]:
    """Lists of about `batch_size` events for `jobs` jobs spread over the last `days` days.

    Jobs that would still be going at `now` stay queued or running. About 3 events per job.
    """
    rng = random.Random(seed)
    weights = [p.weight for p in names]
    span = days * 86400
    start = now - span
    resources_per_type = max(1, jobs // 10 // max(1, len({p.resource_type for p in names})))
    out: list[dict[str, Any]] = []
    batch_id: str | None = None
    batch_left = 0
    batch_profile: NameProfile | None = None
    for i in range(jobs):
        created = start + span * (i + rng.random()) / jobs
        if batch_left > 0 and batch_profile is not None:
            profile = batch_profile
            batch_left -= 1
        else:
            profile = rng.choices(names, weights)[0]
            batch_id = None
            if profile.batched and rng.random() < 0.5:
                batch_id = f"req-{i}"
                batch_left = rng.randint(2, 30)
                batch_profile = profile
        job_id = f"j{seed}-{i:07d}"
        resource = f"{profile.resource_type}:{rng.randrange(resources_per_type)}"
        fields: dict[str, Any] = {
            "name": profile.name,
            "queue": profile.queue,
            "resources": [resource],
            "args": {resource.split(":")[0].lower() + "_id": int(resource.split(":")[1])},
        }
        if batch_id:
            fields["batch"] = batch_id
        if profile.queue == "research":
            fields["labels"] = {"workspace": rng.choice(WORKSPACES)}
        wait = rng.expovariate(1 / (0.5 * _busy(created))) * (30 if rng.random() < 0.02 else 1)
        run = profile.median_run * math.exp(rng.gauss(0, 0.35)) * (1 + 0.3 * (_busy(created) - 1))
        out.append({"job_id": job_id, "type": "queued", "at": created, **fields})
        started = created + wait
        if started < now:
            out.append({"job_id": job_id, "type": "started", "at": started,
                        "worker": f"worker-{rng.randrange(8)}"})
            ended = started + run
            if ended < now:
                roll = rng.random()
                if roll < profile.failure_rate * 0.4:
                    # A transient failure, retried once after a back-off: attempt 2 succeeds.
                    kind, message = rng.choice(ERRORS[:2])
                    out.append({"job_id": job_id, "type": "retrying", "at": ended, "attempt": 1,
                                "error": {"type": kind, "message": message}})
                    again = ended + rng.uniform(5, 60)
                    if again + run < now:
                        out.append({"job_id": job_id, "type": "started", "at": again,
                                    "attempt": 2, "worker": f"worker-{rng.randrange(8)}"})
                        out.append({"job_id": job_id, "type": "succeeded", "at": again + run,
                                    "attempt": 2})
                elif roll < profile.failure_rate:
                    kind, message = rng.choice(ERRORS)
                    out.append({"job_id": job_id, "type": "failed", "at": ended,
                                "error": {"type": kind, "message": message,
                                          "traceback": f"Traceback (most recent call last):\n"
                                                       f"  File \"tasks.py\", line 42, in run\n"
                                                       f"{kind}: {message}\n"}})
                elif roll < profile.failure_rate * 1.3:
                    out.append({"job_id": job_id, "type": "killed", "at": ended})
                else:
                    done = rng.randint(1, 500)
                    out.append({"job_id": job_id, "type": "succeeded", "at": ended,
                                "progress": {"done": done, "total": done,
                                             "failed": rng.randint(0, 3) if roll < 0.1 else 0}})
            else:
                out.append({"job_id": job_id, "type": "heartbeat", "at": min(now, started + 1)})
        if len(out) >= batch_size:
            yield out
            out = []
    if out:
        yield out
