"""`/health` and `/alerts` show what the monitoring modules hold: the health report with each
periodic job's standing, and the alerts firing now with their history; hostile names stay text."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from markupsafe import escape

from jobtrail import Settings, alerts, health, periodic
from jobtrail.alerts import DEFAULT_RULES, Evaluator
from jobtrail.ingest import ingest
from jobtrail.store import open_store
from jobtrail.web import asgi_app

from .conftest import start_server

HOSTILE = '<img src=x onerror="window.pwned=1">'


def test_health_and_alerts_pages_show_the_reports(tmp_path: Path) -> None:
    now = time.time()
    url = f"sqlite:///{tmp_path / 'mon.db'}"
    store = open_store(url)
    try:
        events = []
        for i in range(12):  # every run of the hostile name failed in the last few minutes
            events += [{"job_id": f"f{i}", "type": "started", "at": now - 200 + i, "name": HOSTILE},
                       {"job_id": f"f{i}", "type": "failed", "at": now - 190 + i,
                        "error": {"type": "E", "message": "boom"}}]
        assert ingest(store, events).rejected == []
        store.declare_periodic(periodic.spec("nightly.report", every="1h", grace="5m", at=now - 3 * 3600))
        critical = next(r for r in DEFAULT_RULES if r.id == "failure_rate_critical")
        assert Evaluator([critical], notifiers=()).evaluate(store, now)
        expected_level = health.check(store, now=now).level
        [alert] = alerts.active(store)
    finally:
        store.close()

    server = start_server(asgi_app(url, Settings()))
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            page = client.get("/health")
            assert page.status_code == 200
            assert f'id="level">{expected_level}<' in page.text
            assert "nightly.report" in page.text and ">down<" in page.text  # 3h without a success
            page = client.get("/alerts")
            assert page.status_code == 200
            assert "failure_rate_critical" in page.text and ">firing<" in page.text
            assert alert.summary and str(escape(alert.summary)) in page.text
            assert HOSTILE in alert.subject + alert.summary  # the name reached the alert...
            assert HOSTILE not in page.text and str(escape(HOSTILE)) in page.text  # ...as text
    finally:
        server.stop()
