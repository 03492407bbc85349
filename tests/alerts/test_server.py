"""The server evaluates alert rules on its own (a background task in the app's lifespan), shows them
at GET /api/v1/alerts, notifies the webhook, can be switched off, and stops cleanly."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from alerts.support import Receiver
from jobtrail.cli import app
from jobtrail.config import Settings
from jobtrail.ingest import ingest
from jobtrail.store import open_store
from jobtrail.web import asgi_app

READ, INGEST = "read-secret", "ingest-secret"


def _failing_now(url: str, name: str = "pay.charge") -> None:
    store = open_store(url)
    now = time.time()
    events: list[dict[str, Any]] = []
    for i in range(12):
        job = f"{name}-{i}"
        events += [{"job_id": job, "type": "started", "at": now - 60 + i, "name": name},
                   {"job_id": job, "type": "failed", "at": now - 30 + i}]
    assert not ingest(store, events).rejected
    store.close()


Serve = Callable[[str], str]


@pytest.fixture
def serve() -> Iterator[Serve]:
    running: list[tuple[uvicorn.Server, threading.Thread, socket.socket]] = []

    def start(url: str) -> str:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        app = asgi_app(url, Settings(tokens=(f"read:{READ}", f"ingest:{INGEST}")))
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", ws="none", lifespan="on"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        running.append((server, thread, sock))
        deadline = time.monotonic() + 15
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.01)
        return f"http://127.0.0.1:{sock.getsockname()[1]}"

    yield start
    for server, thread, sock in running:
        server.should_exit = True
        thread.join(15)
        sock.close()
        assert not thread.is_alive(), "the server (and its alert task) did not stop"


def _wait(until: Callable[[], bool], seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if until():
            return True
        time.sleep(0.05)
    return until()


def test_the_server_fires_alerts_lists_them_and_notifies_once(
    store_url: str, serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = Receiver()
    try:
        monkeypatch.setenv("JOBTRAIL_ALERTS_INTERVAL", "1s")
        monkeypatch.setenv("JOBTRAIL_ALERT_WEBHOOK", receiver.url)
        _failing_now(store_url)
        base = serve(store_url)
        assert _wait(lambda: len(receiver.accepted) >= 1), "no notification arrived"
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {READ}"}) as client:
            body = client.get("/api/v1/alerts").json()
            firing = [a for a in body["active"] if a["rule"] == "failure_rate_critical"]
            assert [(a["subject"], a["state"]) for a in firing] == [("pay.charge", "firing")]
            steps = [(t["rule"], t["from"], t["to"]) for t in body["history"]]
            assert ("failure_rate_critical", "inactive", "firing") in steps
            assert ("failure_rate_warning", "inactive", "pending") in steps
            page = client.get("/api/v1/alerts", params={"limit": 1, "cursor": "99"}).json()
            assert len(page["history"]) == 1 and page["next_cursor"] == str(page["history"][0]["id"])
            assert client.get("/api/v1/alerts", params={"cursor": "x"}).status_code == 422
            denied = httpx.get(base + "/api/v1/alerts",
                               headers={"Authorization": f"Bearer {INGEST}"})
            assert denied.status_code == 403
        time.sleep(2.5)  # more ticks: still firing, nothing new to send
        assert [b["status"] for b in receiver.accepted] == ["firing"]
    finally:
        receiver.close()


def test_alerts_can_be_switched_off(store_url: str, serve: Serve, monkeypatch: pytest.MonkeyPatch
                                    ) -> None:
    monkeypatch.setenv("JOBTRAIL_ALERTS", "off")
    monkeypatch.setenv("JOBTRAIL_ALERTS_INTERVAL", "1s")
    _failing_now(store_url)
    base = serve(store_url)
    time.sleep(2.5)  # two intervals, had the task been running
    body = httpx.get(base + "/api/v1/alerts", headers={"Authorization": f"Bearer {READ}"}).json()
    assert body == {"active": [], "history": [], "next_cursor": None}


def test_a_bad_rules_file_stops_the_server_at_startup(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "alerts.yml"
    rules.write_text("rules:\n  failure_rate_warning:\n    threshold: lots\n")
    monkeypatch.setenv("JOBTRAIL_ALERTS_FILE", str(rules))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(asgi_app(sqlite_url), log_level="error", ws="none",
                                           lifespan="on"))
    with pytest.raises(SystemExit):
        server.run(sockets=[sock])  # uvicorn exits when the app's startup fails
    sock.close()
    assert not server.started
    logged = capfd.readouterr().err  # uvicorn logs the startup failure to stderr
    assert f"alerts file {rules}, line 3: rules.failure_rate_warning.threshold" in logged


def test_the_cli_reads_alerts_from_a_server(
    store_url: str, serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOBTRAIL_ALERTS_INTERVAL", "1s")
    _failing_now(store_url)
    base = serve(store_url)
    runner = CliRunner()

    def firing() -> bool:
        result = runner.invoke(app, ["--url", base, "--token", READ, "alerts", "--json"])
        assert result.exit_code == 0, result.output
        return any(a["state"] == "firing" for a in json.loads(result.output)["active"])

    assert _wait(firing)
