"""`GET /api/v1/health` on a real server: 200 healthy, 200 degraded, 503 unhealthy, the report as
the body; `jobtrail health` over the server URL exits 0/1/2; the server marks stalled jobs lost on
its own schedule, without anyone asking."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from typer.testing import Result

from jobtrail.health import HealthSettings

from .conftest import Serve

THRESHOLDS = HealthSettings(queue_degraded=2, queue_unhealthy=4, stall_sweep_interval=0)
Cli = Callable[..., Result]


def queued(client: httpx.Client, n: int, start: int) -> None:
    now = time.time()
    events = [{"job_id": f"q{start + i}", "type": "queued", "at": now, "name": "send",
               "queue": "mail"} for i in range(n)]
    response = client.post("/api/v1/events", json={"events": events})
    assert response.status_code == 200 and response.json()["rejected"] == [], response.text


def health_of(cli: Cli, url: str, *args: str, token: str | None = "rd") -> Result:
    return cli("--url", url, *(["--token", token] if token else []), "health", *args)


def test_the_status_follows_the_level_and_the_cli_exits_by_it(serve: Serve, jobtrail_cli: Cli
                                                              ) -> None:
    server = serve(THRESHOLDS)
    seen: list[tuple[int, str, int]] = []
    with server.client("ing") as ingest:
        for add in (0, 2, 2):  # healthy, then 2 queued (degraded), then 4 (unhealthy)
            queued(ingest, add, start=len(seen) * 10)
            response = httpx.get(f"{server.url}/api/v1/health", timeout=30)  # no token needed
            body: dict[str, Any] = response.json()
            seen.append((response.status_code, body["level"], health_of(jobtrail_cli, server.url).exit_code))
            assert [c["name"] for c in body["checks"]] == ["store", "queues", "stalled", "workers",
                                                           "periodic"]
            assert body["status"] == body["level"]
    assert seen == [(200, "healthy", 0), (200, "degraded", 1), (503, "unhealthy", 2)]


def test_the_cli_prints_the_servers_report_and_its_json(serve: Serve, jobtrail_cli: Cli) -> None:
    server = serve(THRESHOLDS)
    with server.client("ing") as ingest:
        queued(ingest, 2, start=0)
    table = health_of(jobtrail_cli, server.url)
    assert table.exit_code == 1, table.output
    assert "jobtrail health: degraded" in table.stdout
    assert "queue 'mail' holds 2 jobs waiting" in table.stdout
    as_json = health_of(jobtrail_cli, server.url, "--json")
    report = json.loads(as_json.stdout)
    assert report["level"] == "degraded" and as_json.exit_code == 1
    levels = {c["name"]: c["level"] for c in report["checks"]}
    assert levels == {"store": "healthy", "queues": "degraded", "stalled": "healthy",
                      "workers": "healthy", "periodic": "healthy"}
    [mail] = next(c for c in report["checks"] if c["name"] == "queues")["details"]["queues"]
    assert (mail["queue"], mail["queued"]) == ("mail", 2)


def test_without_a_read_token_the_report_keeps_its_levels_but_not_its_reasons(serve: Serve) -> None:
    server = serve(THRESHOLDS)
    with server.client("ing") as ingest:
        queued(ingest, 2, start=0)
    anonymous = httpx.get(f"{server.url}/api/v1/health", timeout=30).json()
    with server.client("ing") as ingest_only, server.client("adm") as admin:
        ingester = ingest_only.get("/api/v1/health").json()
        full = admin.get("/api/v1/health").json()
    for body in (anonymous, ingester):
        queues = body["checks"][1]
        assert (queues["level"], queues["details"]) == ("degraded", {})
        assert "mail" not in queues["reason"] and "read token" in queues["reason"]
    assert "queue 'mail' holds 2 jobs" in full["checks"][1]["reason"]
    assert [c["level"] for c in full["checks"]] == [c["level"] for c in anonymous["checks"]]


def test_the_cli_is_unhealthy_when_the_server_does_not_answer(jobtrail_cli: Cli) -> None:
    result = health_of(jobtrail_cli, "http://127.0.0.1:1", "--json", token=None)
    assert result.exit_code == 2, result.output
    report = json.loads(result.stdout)
    assert report["level"] == "unhealthy"
    assert report["checks"][0]["name"] == "server"
    assert "does not answer" in report["checks"][0]["reason"]


def test_the_health_body_is_typed_in_the_openapi_document(serve: Serve) -> None:
    server = serve(THRESHOLDS)
    doc = httpx.get(f"{server.url}/openapi.json", timeout=30).json()
    responses = doc["paths"]["/api/v1/health"]["get"]["responses"]
    assert responses["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/HealthOut")
    assert responses["503"]["content"]["application/json"]["schema"]["$ref"].endswith("/HealthOut")
    props = doc["components"]["schemas"]["HealthOut"]["properties"]
    assert {"level", "status", "checked_at", "checks"} <= set(props)
    assert {"name", "level", "reason", "details"} <= set(
        doc["components"]["schemas"]["CheckOut"]["properties"])


def test_the_server_marks_stalled_jobs_lost_on_its_own_and_a_heartbeat_revives_them(
        serve: Serve) -> None:
    server = serve(HealthSettings(stall_timeout=1, stall_sweep_interval=0.2))
    now = time.time()
    with server.client("ing") as ingest, server.client("rd") as read:
        sent = ingest.post("/api/v1/events", json={"events": [
            {"job_id": "stuck", "type": "started", "at": now - 5, "name": "imports.book"},
            {"job_id": "fresh", "type": "started", "at": now + 60, "name": "imports.book"}]})
        assert sent.status_code == 200, sent.text
        deadline = time.monotonic() + 20
        while read.get("/api/v1/jobs/stuck").json()["state"] != "lost":
            assert time.monotonic() < deadline, "the server never marked the stalled job lost"
            time.sleep(0.1)
        job = read.get("/api/v1/jobs/stuck").json()
        assert job["lost_at"] == now - 5 + 1
        assert read.get("/api/v1/jobs/fresh").json()["state"] == "started"
        ingest.post("/api/v1/events", json={"events": [
            {"job_id": "stuck", "type": "heartbeat", "at": time.time()}]})
        assert read.get("/api/v1/jobs/stuck").json()["state"] == "started"


def test_the_app_reads_its_health_thresholds_from_the_environment(
        monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> None:
    from jobtrail.config import Settings
    from jobtrail.web import asgi_app

    monkeypatch.setenv("JOBTRAIL_QUEUE_DEGRADED", "7")
    monkeypatch.setenv("JOBTRAIL_STALL_TIMEOUT", "90s")
    app = asgi_app(sqlite_url, Settings())
    try:
        assert (app.state.health.queue_degraded, app.state.health.stall_timeout) == (7, 90)
    finally:
        app.state.store.close()
