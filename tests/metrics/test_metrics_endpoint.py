"""`GET /metrics` of a real `jobtrail serve` over HTTP: promtool accepts it, it needs the read scope,
and its counters survive a server restart on the same database."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from metrics_support import history, job, jobtrail_serve, parse, promtool, value

TOKENS = "read:reader,ingest:ingester"
COUNTERS = ("_total", "_count", "_sum", "_bucket")


def scrape(base: str) -> str:
    response = httpx.get(f"{base}/metrics", headers={"Authorization": "Bearer reader"}, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return response.text


def post(base: str, path: str, body: dict[str, Any]) -> None:
    response = httpx.post(f"{base}{path}", json=body, timeout=30,
                          headers={"Authorization": "Bearer ingester"})
    assert response.status_code == 200, response.text
    assert response.json().get("rejected", []) == [], response.text


def test_promtool_accepts_the_scrape_and_counters_survive_a_restart(store_url: str) -> None:
    now = time.time()
    # Given a server that received jobs, worker heartbeats and a periodic declaration
    with jobtrail_serve(store_url, TOKENS) as base:
        post(base, "/api/v1/events", {"events": history(now)})
        post(base, "/api/v1/workers", {"workers": [
            {"id": "w1", "host": "h", "queues": ["q2"], "running": 1}]})
        post(base, "/api/v1/periodic", {"periodic": [{"name": "reports.send", "every": "6h"}]})
        first = scrape(base)
        anonymous = httpx.get(f"{base}/metrics", timeout=30)
        ingest_only = httpx.get(f"{base}/metrics", headers={"Authorization": "Bearer ingester"},
                                timeout=30)
    # Expect promtool to accept it, the read scope to be needed, and the ingested values
    checked = promtool("check", "metrics", stdin=first)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert (anonymous.status_code, ingest_only.status_code) == (401, 403)
    one = parse(first)
    send = {"job_name": "reports.send", "queue": "q1"}
    assert value(one, "job_execution_total", **send, status="failed") == 2
    assert value(one, "job_execution_duration_seconds_count", **send) == 7
    assert value(one, "job_execution_duration_seconds_bucket", **send, le="2.5") == 4
    assert value(one, "job_queue_size", job_name="import.book", queue="q2") == 2
    assert value(one, "job_worker_busy", queue="q2") == 1
    assert value(one, "job_last_success_timestamp_seconds", job_name="import.book") == \
        pytest.approx(now - 3880)
    assert "job_periodic_late_timestamp_seconds" in first

    # When a new server process opens the same database and more jobs finish
    with jobtrail_serve(store_url, TOKENS) as base:
        second_before = scrape(base)
        post(base, "/api/v1/events", {"events": job("more", "reports.send", "q1", now - 5, 1, 3)})
        second = scrape(base)
    # Expect the same counters after the restart, and none lower after more work
    two_before, two = parse(second_before), parse(second)
    counters = {k: v for k, v in one.items() if k[0].endswith(COUNTERS)}
    assert counters and all(two_before[k] == v for k, v in counters.items())
    assert all(two[k] >= v for k, v in counters.items())
    assert value(two, "job_execution_total", **send, status="success") == \
        value(one, "job_execution_total", **send, status="success") + 1
