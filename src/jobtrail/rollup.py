"""The roll-up facts a job record contributes, so statistics are maintained as deltas at ingest.

`facts(record)` lists everything the record adds to the aggregates (counts per transition, duration
histograms, load deltas, items). Ingest applies `facts(new) − facts(old)` for each job it changes,
so the aggregates always equal the sum over current records, whatever order events came in, and they
keep their counts when retention deletes the rows.
Times are bucketed to the minute here; the store also folds them into hours.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from jobtrail.sketch import bucket_of
from jobtrail.states import TERMINAL, attempt_queued_at

__all__ = [
    "KINDS", "KIND_CODES", "METRICS", "METRIC_CODES", "Delta", "current", "diff", "facts", "minute",
]

UNNAMED = ""
DEFAULT_QUEUE = "default"
METRICS = (
    "entered:scheduled",
    "entered:queued",
    "entered:started",
    "entered:retrying",
    "entered:succeeded",
    "entered:failed",
    "entered:killed",
    "entered:cancelled",
    "entered:lost",
    "entered:kill_requested",
    "load:queued",
    "load:running",
    "items:done",
    "items:failed",
    "items:skipped",
    "retry",
    "marked:lost",
)
"""Counter names; stored as their position + 1, so this list is append-only. `entered:lost` counts
jobs still lost; `marked:lost` every job ever marked lost, which a later real event does not take
back (the monotonic `job_lost_total`)."""
METRIC_CODES = {m: i + 1 for i, m in enumerate(METRICS)}
KINDS = ("run", "wait", "success")
"""Observed-value kinds (durations, and success instants); stored as position + 1, append-only."""
KIND_CODES = {k: i + 1 for i, k in enumerate(KINDS)}


def minute(at: float) -> int:
    """Start of the minute holding `at`, in Unix seconds."""
    return int(at // 60) * 60


# Fact keys:
#   ("c", t, name, queue, metric)          → int   counts: entered:<state>, load:queued, items:done …
#   ("h", t, name, queue, kind, bucket)    → int   histogram counts, kind = run | wait
#   ("s", t, name, queue, kind)            → list of values for count/sum/min/max (run, wait, success)
Key = tuple[Any, ...]


def facts(
    record: dict[str, Any] | None,
    counts: Counter[Key] | None = None,
    observed: list[tuple[Key, float]] | None = None,
) -> tuple[Counter[Key], list[tuple[Key, float]]]:
    """(additive counts, summary observations) that `record` contributes to the roll-ups, added to
    `counts` and `observed` when given (a new job's facts go straight into the batch's delta)."""
    if counts is None:
        counts = Counter()
    if observed is None:
        observed = []
    if record is None:
        return counts, observed
    name = record["name"] or UNNAMED
    queue = record["queue"] or DEFAULT_QUEUE
    # Inlined below rather than helper closures: this runs for every changed job at ingest.
    # A count key is ("c", minute, name, queue, metric); a duration adds a histogram count
    # ("h", minute, name, queue, kind, bucket) and a summary observation ("s", ...).

    if record["scheduled_at"] is not None:
        counts[("c", minute(record["scheduled_at"]), name, queue, "entered:scheduled")] += 1
    if record["kill_requested_at"] is not None:
        counts[("c", minute(record["kill_requested_at"]), name, queue, "entered:kill_requested")] += 1
    attempts = record["attempts"]
    numbers = [1] if len(attempts) == 1 and "1" in attempts else sorted(int(k) for k in attempts)
    latest = numbers[-1] if numbers else None
    for n in numbers:
        a = attempts[str(n)]
        queued_at, started_at = a.get("queued_at"), a.get("started_at")
        end, ended_at = a.get("end"), a.get("ended_at")
        if queued_at is not None:
            counts[("c", minute(queued_at), name, queue, "entered:queued")] += 1
        ready_at = queued_at if queued_at is not None else attempt_queued_at(attempts, n)
        if ready_at is not None:
            # Queued from ready until it starts or ends (cancelled before running).
            counts[("c", minute(ready_at), name, queue, "load:queued")] += 1
            left = started_at if started_at is not None else ended_at
            if left is not None:
                counts[("c", minute(left), name, queue, "load:queued")] -= 1
        if started_at is not None:
            start_minute = minute(started_at)
            counts[("c", start_minute, name, queue, "entered:started")] += 1
            counts[("c", start_minute, name, queue, "load:running")] += 1
            stop = ended_at
            if stop is None and n == latest and record["state"] == "lost":
                stop = record["lost_at"]
            if stop is not None:
                counts[("c", minute(stop), name, queue, "load:running")] -= 1
            if ready_at is not None:
                wait = max(0.0, started_at - ready_at)
                counts[("h", start_minute, name, queue, "wait", bucket_of(wait))] += 1
                observed.append((("s", start_minute, name, queue, "wait"), wait))
            if ended_at is not None:
                run = max(0.0, ended_at - started_at)
                end_minute = minute(ended_at)
                counts[("h", end_minute, name, queue, "run", bucket_of(run))] += 1
                observed.append((("s", end_minute, name, queue, "run"), run))
        if end is not None:
            end_minute = minute(ended_at)
            counts[("c", end_minute, name, queue, "entered:" + end)] += 1
            if end == "retrying":
                counts[("c", end_minute, name, queue, "retry")] += 1
    if record["state"] == "lost" and record["lost_at"] is not None:
        counts[("c", minute(record["lost_at"]), name, queue, "entered:lost")] += 1
    if record["lost_at"] is not None:
        counts[("c", minute(record["lost_at"]), name, queue, "marked:lost")] += 1
    finished_at = record["finished_at"]
    if record["state"] in TERMINAL and finished_at is not None:
        progress = record["progress"] or {}
        for item in ("done", "failed", "skipped"):
            if progress.get(item):
                counts[("c", minute(finished_at), name, queue, "items:" + item)] += progress[item]
        if record["state"] == "succeeded":
            observed.append((("s", minute(finished_at), name, queue, "success"), finished_at))
    return counts, observed


@dataclass(slots=True)
class Delta:
    """What one ingest batch changes in the roll-ups."""

    counts: Counter[Key]
    observed: list[tuple[Key, float]]
    retracted: list[tuple[Key, float]]
    states: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    """Change in the number of jobs currently in each (name, queue, state)."""


def _relevant(record: dict[str, Any]) -> tuple[Any, ...]:
    """Everything `facts` reads: when it is equal, the facts are too (heartbeats, most progress)."""
    terminal = record["state"] in TERMINAL
    return (
        record["name"],
        record["queue"],
        record["state"],
        record["scheduled_at"],
        record["kill_requested_at"],
        record["lost_at"],
        record["finished_at"],
        record["progress"] if terminal else None,
        record["attempts"],
    )


def current(record: dict[str, Any]) -> tuple[str, str, str]:
    """The (name, queue, state) a record counts under in the current-state counters."""
    return (record["name"] or UNNAMED, record["queue"] or DEFAULT_QUEUE, record["state"])


def diff(pairs: Iterable[tuple[dict[str, Any] | None, dict[str, Any] | None]]) -> Delta:
    """The roll-up delta of replacing each old record by its new one."""
    counts: Counter[Key] = Counter()
    observed: list[tuple[Key, float]] = []
    retracted: list[tuple[Key, float]] = []
    states: Counter[tuple[str, str, str]] = Counter()
    for old, new in pairs:
        if old is None:
            if new is not None:
                states[current(new)] += 1
            facts(new, counts, observed)
            continue
        if new is not None and _relevant(old) == _relevant(new):
            continue
        before, after = current(old), None if new is None else current(new)
        if before != after:
            states[before] -= 1
            if after is not None:
                states[after] += 1
        old_counts, old_obs = facts(old)
        new_counts, new_obs = facts(new)
        if old_counts == new_counts and old_obs == new_obs:
            continue
        counts.update(new_counts)
        counts.subtract(old_counts)
        old_set = Counter(old_obs)
        new_set = Counter(new_obs)
        observed.extend((new_set - old_set).elements())
        retracted.extend((old_set - new_set).elements())
    return Delta(
        counts=Counter({k: v for k, v in counts.items() if v}),
        observed=observed,
        retracted=retracted,
        states=Counter({k: v for k, v in states.items() if v}),
    )
