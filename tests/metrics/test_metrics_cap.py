"""The cardinality cap: names and queues beyond it fold into `other`, and totals stay right."""

from __future__ import annotations

import time
from typing import Any

from metrics_support import job, parse, total, value

from jobtrail.metrics import OTHER, JobCollector, render
from jobtrail.metrics.cap import Fold

NOW = time.time()


def test_fold_keeps_the_first_names_and_queues_seen() -> None:
    fold = Fold([("a", "q1"), ("b", "q1"), ("a", "q2"), ("c", "q3")], max_names=2)
    assert [fold.name(n) for n in ("a", "b", "c", "zzz")] == ["a", "b", OTHER, OTHER]
    assert [fold.queue(q) for q in ("q1", "q2", "q3")] == ["q1", "q2", OTHER]


def test_fold_admits_values_met_later_while_there_is_room() -> None:
    fold = Fold([("a", "q1")], max_names=2)
    assert fold.queue("workers-only") == "workers-only"
    assert fold.queue("one-too-many") == OTHER
    assert fold.queue("workers-only") == "workers-only"


def test_names_beyond_the_cap_fold_into_other_with_totals_preserved(trail: Any) -> None:
    # Given eight names (first seen in order n0 … n7), each with i + 1 runs, one queued job each
    events = []
    for i in range(8):
        for k in range(i + 1):
            events += job(f"n{i}-{k}", f"n{i}", "q", NOW - 1000 + i, wait=0.5, run=1.0 + i,
                          end="failed" if k == 0 else "succeeded")
        events += job(f"n{i}-queued", f"n{i}", "q", NOW - 50)
    trail.ingest(events)
    full = parse(render(JobCollector(trail.store, max_names=200)).decode())
    # When the cap is 3
    capped = parse(render(JobCollector(trail.store, max_names=3)).decode())
    # Expect n0, n1, n2 by name, the other five folded into `other`
    names = {dict(labels)["job_name"] for (n, labels) in capped if n == "job_execution_total"}
    assert names == {"n0", "n1", "n2", OTHER}
    assert value(capped, "job_execution_total", job_name="n1", queue="q", status="success") == 1
    assert value(capped, "job_execution_total", job_name=OTHER, queue="q", status="success") == \
        sum(range(3, 8))
    assert value(capped, "job_execution_total", job_name=OTHER, queue="q", status="failed") == 5
    assert value(capped, "job_queue_size", job_name=OTHER, queue="q") == 5
    assert value(capped, "job_last_success_timestamp_seconds", job_name=OTHER) == \
        max(value(full, "job_last_success_timestamp_seconds", job_name=f"n{i}") for i in range(3, 8))
    # and every total unchanged by folding
    for name in ("job_execution_total", "job_enqueued_total", "job_started_total",
                 "job_execution_duration_seconds_count", "job_execution_duration_seconds_sum",
                 "job_execution_duration_seconds_bucket", "job_wait_duration_seconds_count",
                 "job_queue_size", "job_running"):
        assert total(capped, name) == total(full, name), name
    for le in ("5.0", "10.0", "+Inf"):
        assert total(capped, "job_execution_duration_seconds_bucket", le=le) == \
            total(full, "job_execution_duration_seconds_bucket", le=le)


def test_the_cap_comes_from_the_environment() -> None:
    from jobtrail.config import Settings

    assert Settings.from_env({}).metrics_max_names == 200
    assert Settings.from_env({"JOBTRAIL_METRICS_MAX_NAMES": "25"}).metrics_max_names == 25
