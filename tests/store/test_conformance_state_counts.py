"""The store conformance suite: all-time counts come from the current-state counters, which must
always equal a count of the rows, whatever order events arrive in and whatever is deleted."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from jobtrail.ingest import ingest
from jobtrail.model import JobFilter
from jobtrail.states import STATES

T0 = 1_700_000_000.0
NAMES = ("ImportBook", "SendMail", None)
QUEUES = ("default", "high", None)


def _random_events(rng: random.Random, jobs: int) -> list[dict[str, Any]]:
    """Events of many jobs, shuffled: names and queues sometimes only on a later event, retries,
    kill requests, heartbeats without a start, lost marks."""
    events: list[dict[str, Any]] = []
    for i in range(jobs):
        job, t = f"j{i}", T0 + rng.uniform(0, 86400)
        name, queue = rng.choice(NAMES), rng.choice(QUEUES)
        first = {"job_id": job, "type": "queued", "at": t}
        if rng.random() < 0.7:
            first |= {k: v for k, v in (("name", name), ("queue", queue)) if v is not None}
        events.append(first)
        steps = rng.randint(0, 4)
        for step in range(steps):
            kind = rng.choice(["started", "succeeded", "failed", "retrying", "heartbeat",
                               "kill_requested", "lost", "killed", "cancelled"])
            event = {"job_id": job, "type": kind, "at": t + 10 * (step + 1),
                     "attempt": rng.choice([1, 1, 2])}
            if kind in ("heartbeat", "kill_requested", "lost"):
                del event["attempt"]
            if rng.random() < 0.3 and name is not None:
                event["name"] = name
            events.append(event)
    rng.shuffle(events)
    return events


def _row_counts(store: Any, by: str, **flt: Any) -> dict[str, int]:
    """Counted from the rows: a time filter covering everything keeps the counters out of it."""
    column = {"state": "state", "name": "name", "queue": "queue"}[by]
    counts: Counter[str] = Counter()
    for record in store.find(JobFilter(since=0.0, **flt), 100_000, None):
        counts[record[column] or ""] += 1
    return dict(counts)


def _assert_counters_match_rows(store: Any) -> None:
    for by in ("state", "name", "queue"):
        assert store.counts(JobFilter(), by) == _row_counts(store, by)
    for name in ("ImportBook", "SendMail", ""):
        assert store.counts(JobFilter(names=(name,)), "state") == _row_counts(store, "state", names=(name,))
    assert store.counts(JobFilter(queues=("high",), states=("failed", "queued")), "name") == _row_counts(
        store, "name", queues=("high",), states=("failed", "queued"))
    assert store.count(JobFilter(names=("SendMail",))) == sum(
        _row_counts(store, "state", names=("SendMail",)).values())
    assert store.count(JobFilter()) == len(store.find(JobFilter(), 100_000, None))


def test_counters_equal_the_rows_after_shuffled_batches_and_deletes(store: Any) -> None:
    rng = random.Random(42)
    events = _random_events(rng, 300)
    for i in range(0, len(events), 97):  # uneven batches, so jobs change across batches
        assert ingest(store, events[i : i + 97]).rejected == []
    _assert_counters_match_rows(store)
    assert sum(store.counts(JobFilter(), "state").values()) == 300

    doomed = [f"j{i}" for i in range(0, 300, 3)] + ["not-a-job"]
    assert store.delete(doomed) == 100
    _assert_counters_match_rows(store)

    # Replaying everything (duplicates) changes nothing; the deleted jobs come back as new rows.
    assert ingest(store, events).rejected == []
    _assert_counters_match_rows(store)
    assert sum(store.counts(JobFilter(), "state").values()) == 300


def test_a_name_that_arrives_later_moves_the_job_between_counters(store: Any) -> None:
    ingest(store, [{"job_id": "a", "type": "started", "at": T0}])
    assert store.counts(JobFilter(), "name") == {"": 1}
    ingest(store, [{"job_id": "a", "type": "succeeded", "at": T0 + 5, "name": "Late", "queue": "q"}])
    assert store.counts(JobFilter(), "name") == {"Late": 1}
    assert store.counts(JobFilter(names=("Late",)), "state") == {"succeeded": 1}
    assert store.counts(JobFilter(), "queue") == {"q": 1}
    assert set(store.counts(JobFilter(), "state")) <= set(STATES)


def test_counts_with_other_filters_still_read_the_rows(store: Any) -> None:
    ingest(store, [
        {"job_id": "a", "type": "queued", "at": T0, "name": "N", "batch": "b1"},
        {"job_id": "b", "type": "queued", "at": T0 + 1, "name": "N"},
    ])
    assert store.counts(JobFilter(batch="b1"), "state") == {"queued": 1}
    assert store.counts(JobFilter(names=("N",)), "state") == {"queued": 2}
    assert store.count(JobFilter(names=("N",), since=T0 + 0.5)) == 1
