"""The /metrics collector over a real store (SQLite and PostgreSQL): every value comes from what
was ingested, with SPEC §7's names and labels."""

from __future__ import annotations

import time
from typing import Any

import pytest
from metrics_support import history, job, parse, total, value

from jobtrail import periodic
from jobtrail.metrics import JobCollector, render

NOW = time.time()


@pytest.fixture
def scraped(trail: Any) -> dict[Any, float]:
    trail.ingest(history(NOW))
    trail.declare_periodic("reports.send", every="6h", grace="30m")
    trail.worker_heartbeat("w1", queues=["q1", "q2"], running=1)
    trail.worker_heartbeat("w2", queues=["q2"], running=0)
    trail.worker_heartbeat("w3", queues=["q2"], state="stopped")
    trail.flush()
    return parse(render(JobCollector(trail.store, clock=lambda: NOW)).decode())


def test_executions_count_each_ending_by_status(scraped: dict[Any, float]) -> None:
    send = {"job_name": "reports.send", "queue": "q1"}
    assert value(scraped, "job_execution_total", **send, status="success") == 4
    assert value(scraped, "job_execution_total", **send, status="failed") == 2
    assert value(scraped, "job_execution_total", **send, status="killed") == 1
    assert value(scraped, "job_execution_total", **send, status="cancelled") == 1
    assert value(scraped, "job_enqueued_total", **send) == 8
    assert value(scraped, "job_started_total", **send) == 7
    book = {"job_name": "import.book", "queue": "q2"}
    assert value(scraped, "job_execution_total", **book, status="success") == 2
    assert value(scraped, "job_retry_total", **book) == 1
    assert value(scraped, "job_started_total", **book) == 4


def test_every_series_has_every_status_so_ratios_of_two_statuses_match(
    scraped: dict[Any, float],
) -> None:
    label_sets: dict[str, set[frozenset[tuple[str, str]]]] = {}
    for (name, labels), _ in scraped.items():
        if name == "job_execution_total":
            status = dict(labels)["status"]
            label_sets.setdefault(status, set()).add(
                frozenset((k, v) for k, v in labels if k != "status"))
    assert set(label_sets) == {"success", "failed", "killed", "cancelled"}
    assert label_sets["failed"] == label_sets["success"] == label_sets["killed"]
    assert len(label_sets["failed"]) == 2


def test_histograms_count_every_run_and_wait_with_exact_sum_and_count(
    scraped: dict[Any, float],
) -> None:
    send = {"job_name": "reports.send", "queue": "q1"}
    run = "job_execution_duration_seconds"
    assert value(scraped, run + "_count", **send) == 7
    assert value(scraped, run + "_sum", **send) == pytest.approx(4 * 2.0 + 2 * 40.0 + 700.0)
    expected = {"1.0": 0, "2.5": 4, "30.0": 4, "60.0": 6, "600.0": 6, "1200.0": 7, "+Inf": 7}
    for le, n in expected.items():
        assert value(scraped, run + "_bucket", **send, le=le) == n, le
    wait = "job_wait_duration_seconds"
    assert value(scraped, wait + "_count", **send) == 7
    assert value(scraped, wait + "_sum", **send) == pytest.approx(6 * 0.2 + 7.0)
    assert value(scraped, wait + "_bucket", **send, le="0.25") == 6
    assert value(scraped, wait + "_bucket", **send, le="10.0") == 7
    book = {"job_name": "import.book", "queue": "q2"}
    assert value(scraped, run + "_count", **book) == 3  # 0.3 s, then a retried 10 s and 20 s
    assert value(scraped, run + "_bucket", **book, le="0.5") == 1
    assert value(scraped, wait + "_bucket", **book, le="0.05") == 1


def test_buckets_never_decrease_and_end_at_the_count(scraped: dict[Any, float]) -> None:
    for kind in ("job_execution_duration_seconds", "job_wait_duration_seconds"):
        for series in ({"job_name": "reports.send", "queue": "q1"},
                       {"job_name": "import.book", "queue": "q2"}):
            rows = sorted(
                (float(dict(labels)["le"]), v) for (name, labels), v in scraped.items()
                if name == kind + "_bucket" and set(series.items()) <= labels)
            counts = [v for _, v in rows]
            assert len(counts) == 24 and rows[0][0] == 0.01 and rows[-2][0] == 86400
            assert counts == sorted(counts)
            assert counts[-1] == value(scraped, kind + "_count", **series)


def test_items_are_counted_per_name_and_outcome(scraped: dict[Any, float]) -> None:
    assert value(scraped, "job_items_processed_total", job_name="reports.send", status="success") == 60
    assert value(scraped, "job_items_processed_total", job_name="reports.send", status="failed") == 2
    assert value(scraped, "job_items_processed_total", job_name="reports.send", status="skipped") == 12
    assert value(scraped, "job_items_processed_total", job_name="import.book", status="success") == 0


def test_gauges_show_the_queues_running_jobs_and_workers_now(scraped: dict[Any, float]) -> None:
    book = {"job_name": "import.book", "queue": "q2"}
    assert value(scraped, "job_queue_size", **book) == 2
    assert value(scraped, "job_running", **book) == 1
    assert value(scraped, "job_oldest_queued_age_seconds", **book) == pytest.approx(300, abs=1)
    send = {"job_name": "reports.send", "queue": "q1"}
    assert value(scraped, "job_queue_size", **send) == 0  # known series stay, at zero
    assert value(scraped, "job_oldest_queued_age_seconds", **send) == 0
    assert value(scraped, "job_worker_busy", queue="q1") == 1
    assert value(scraped, "job_worker_busy", queue="q2") == 1
    assert value(scraped, "job_worker_idle", queue="q2") == 1  # w3 stopped: neither
    assert value(scraped, "job_worker_idle", queue="q1") == 0


def test_last_success_and_periodic_deadlines(scraped: dict[Any, float], trail: Any) -> None:
    last_send = NOW - 3 * 86400 + 3 * 600 + 0.2 + 2.0
    assert value(scraped, "job_last_success_timestamp_seconds", job_name="reports.send") == \
        pytest.approx(last_send)
    assert value(scraped, "job_last_success_timestamp_seconds", job_name="import.book") == \
        pytest.approx(NOW - 3880)
    # judged by its own 6-hour schedule: late 6 h 30 m after its last success, down 6 h later
    declared = trail.store.periodics()[0]
    st = periodic.status(declared, last_send, NOW)
    assert value(scraped, "job_periodic_late_timestamp_seconds", job_name="reports.send") == \
        pytest.approx(st.late_at) == pytest.approx(last_send + 6.5 * 3600)
    assert value(scraped, "job_periodic_down_timestamp_seconds", job_name="reports.send") == \
        pytest.approx(last_send + 12.5 * 3600)
    assert ("job_periodic_late_timestamp_seconds",
            frozenset({("job_name", "import.book")})) not in scraped


def test_a_worker_not_heard_from_counts_neither_busy_nor_idle(trail: Any) -> None:
    trail.worker_heartbeat("old", queues=["q9"], running=2)
    trail.flush()
    later = time.time() + 121
    samples = parse(render(JobCollector(trail.store, clock=lambda: later)).decode())
    assert value(samples, "job_worker_busy", queue="q9") == 0
    assert value(samples, "job_worker_idle", queue="q9") == 0


def test_no_job_ids_resources_or_labels_become_label_values(trail: Any) -> None:
    trail.ingest(job("id-123", "n", "q", NOW - 10, wait=1, run=1, resources=["Book:42"],
                     labels={"tenant": "acme"}))
    text = render(JobCollector(trail.store)).decode()
    for secret in ("id-123", "Book:42", "acme", "tenant"):
        assert secret not in text
    assert {k for (_, labels) in parse(text) for k, _ in labels} <= {
        "job_name", "queue", "status", "le"}


def test_hostile_names_are_escaped(trail: Any) -> None:
    name = 'evil"} 1\njob_execution_total{job_name="x'
    trail.ingest(job("e", name, "q", NOW - 10, wait=1, run=1))
    samples = parse(render(JobCollector(trail.store)).decode())
    assert value(samples, "job_execution_total", job_name=name, queue="q", status="success") == 1
    assert total(samples, "job_execution_total") == 1


def test_health_status_follows_the_health_checks_when_they_exist(trail: Any) -> None:
    import importlib.util

    samples = parse(render(JobCollector(trail.store)).decode())
    key = ("jobtrail_health_status", frozenset())
    if importlib.util.find_spec("jobtrail.health") is None:
        assert key not in samples  # omitted, not faked, until the health checks exist
        return
    from jobtrail.health import check  # type: ignore[attr-defined,unused-ignore]

    assert samples[key] == {"healthy": 0, "degraded": 1, "unhealthy": 2}[check(trail.store).level]


def test_the_collector_works_in_any_prometheus_registry(trail: Any) -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    trail.ingest(job("a", "mounted", "q", NOW - 10, wait=1, run=1))
    registry = CollectorRegistry()  # auto_describe: registering must not need the store
    registry.register(JobCollector(trail.store))
    samples = parse(generate_latest(registry).decode())
    assert value(samples, "job_execution_total", job_name="mounted", queue="q", status="success") == 1


def test_a_scrape_reads_only_a_stalled_job_stays_unmarked_but_counts(trail: Any) -> None:
    from jobtrail.health import HealthSettings, check

    silent_since = NOW - 3 * 3600  # started hours ago, no heartbeat since: past any stall timeout
    trail.ingest([{"job_id": "silent", "type": "started", "at": silent_since, "name": "n"}])
    samples = parse(render(JobCollector(trail.store)).decode())
    assert trail.get("silent").state == "started"  # the scrape wrote nothing
    assert samples[("jobtrail_health_status", frozenset())] >= 1  # but it saw the stalled job
    report = check(trail.store, HealthSettings.from_env(), mark=False)
    stalled = next(c for c in report.checks if c.name == "stalled")
    assert stalled.details["marked_count"] == 1 and "to be marked lost" in stalled.reason
    check(trail.store)  # `jobtrail health` and the server's sweeper do mark
    assert trail.get("silent").state == "lost"


def test_the_lost_counter_does_not_go_down_when_a_lost_job_comes_back(trail: Any) -> None:
    from jobtrail.health import mark_stalled

    # Given two jobs of one name marked lost
    trail.ingest([{"job_id": j, "type": "started", "at": NOW - 3600, "name": "n", "queue": "q"}
                  for j in ("a", "b")])
    mark_stalled(trail.store, 300, NOW)
    before = value(parse(render(JobCollector(trail.store)).decode()), "job_lost_total",
                   job_name="n", queue="q")
    # When one of them sends a heartbeat after all (a later real event overrides lost)
    trail.ingest([{"job_id": "a", "type": "heartbeat", "at": NOW}])
    assert trail.get("a").state == "started"
    after = value(parse(render(JobCollector(trail.store)).decode()), "job_lost_total",
                  job_name="n", queue="q")
    # Expect the counter to stay where it was: a drop reads as a reset to Prometheus, whose
    # increase() then counts the whole remaining total as new stalls (JobStalled fires falsely)
    assert before == after == 2
