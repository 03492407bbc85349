"""What every request passes before routing (web/guards.py), on a real server over loopback:
a body cap on every route, and on a server without tokens loopback names only and no API writes
from another site's page (a page can post to 127.0.0.1, and DNS rebinding makes its own name
point there)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from jobtrail.config import Settings

from .conftest import ADMIN, INGEST, Live, Serve

JSON = {"Content-Type": "application/json"}
EVENT = {"job_id": "g1", "type": "queued", "name": "guarded"}


@pytest.fixture
def open_server(serve: Serve, sqlite_url: str) -> Live:
    return serve(sqlite_url, Settings())


def _port(live: Live) -> int:
    return httpx.URL(live.url).port or 80


def test_an_open_server_answers_loopback_names_only(open_server: Live) -> None:
    port = _port(open_server)
    client = open_server.client(None)
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "LOCALHOST", f"127.0.0.2:{port}"):
        assert client.get("/api/v1/jobs", headers={"Host": host}).status_code == 200, host
    for host in (f"rebound.example:{port}", "10.0.0.1", f"127.0.0.1.nip.io:{port}", "[::1"):
        refused = client.get("/api/v1/jobs", headers={"Host": host})
        assert refused.status_code == 400, host
        assert "JOBTRAIL_ALLOWED_HOSTS" in refused.json()["error"]
    # the dashboard too, since a rebound page could read its CSRF token from it
    assert client.get("/", headers={"Host": "rebound.example"}).status_code == 400


def test_allowed_hosts_admit_more_names_and_a_server_with_tokens_any(serve: Serve,
                                                                      sqlite_url: str) -> None:
    listed = serve(sqlite_url, Settings(allowed_hosts=("jobs.internal",))).client(None)
    assert listed.get("/api/v1/jobs", headers={"Host": "jobs.internal:8765"}).status_code == 200
    assert listed.get("/api/v1/jobs", headers={"Host": "other.internal"}).status_code == 400
    anyone = serve(sqlite_url, Settings(allowed_hosts=("*",))).client(None)
    assert anyone.get("/api/v1/jobs", headers={"Host": "other.internal"}).status_code == 200
    tokens = serve(sqlite_url).client(ADMIN)  # the tokens are what protects it then
    assert tokens.get("/api/v1/jobs", headers={"Host": "jobtrail.example.com"}).status_code == 200


def test_an_open_server_refuses_api_writes_from_another_sites_page(open_server: Live) -> None:
    client = open_server.client(None)
    body = {"events": [EVENT | {"at": time.time()}]}
    for origin in ("https://evil.example", "null", f"http://127.0.0.1:{_port(open_server) + 1}"):
        refused = client.post("/api/v1/events", json=body, headers={"Origin": origin})
        assert refused.status_code == 403, origin
        delete = client.post("/api/v1/jobs/delete", json={"filter": {}, "dry_run": False},
                             headers={"Origin": origin})
        assert delete.status_code == 403, origin
    assert client.get("/api/v1/jobs/g1").status_code == 404  # nothing got through
    # Its own origin, and programs that send no Origin, may
    own = client.post("/api/v1/events", json=body, headers={"Origin": open_server.url})
    assert own.status_code == 200 and own.json()["accepted"] == 1
    assert client.post("/api/v1/events", json=body).json()["accepted"] == 1
    # Reading from anywhere is left to the browser's same-origin rule (no CORS headers are sent)
    assert client.get("/api/v1/jobs", headers={"Origin": "https://evil.example"}).status_code == 200


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x"])
def test_events_must_be_sent_as_json(live: Live, content_type: str | None) -> None:
    # A browser sends these without asking the server first (no CORS preflight)
    headers = {} if content_type is None else {"Content-Type": content_type}
    body = b'{"events": [{"job_id": "ct", "type": "queued", "at": %d}]}' % time.time()
    response = live.client(INGEST).post("/api/v1/events", content=body, headers=headers)
    assert response.status_code == 415
    assert response.json()["error"] == "send the events as JSON (Content-Type: application/json)"


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8",
                                          "Application/JSON", "application/vnd.jobtrail+json"])
def test_any_json_media_type_is_read(live: Live, content_type: str) -> None:
    body = b'{"events": [{"job_id": "ct", "type": "queued", "at": %d}]}' % time.time()
    response = live.client(INGEST).post("/api/v1/events", content=body,
                                        headers={"Content-Type": content_type})
    assert response.status_code == 200 and response.json()["accepted"] == 1


def _chunks(size: int) -> Iterator[bytes]:
    yield b'{"workers": [{"id": "w", "pad": "'
    for _ in range(size // 65536):
        yield b"x" * 65536
    yield b'"}]}'


@pytest.mark.parametrize("path", ["/api/v1/workers", "/api/v1/periodic", "/api/v1/jobs/delete"])
def test_other_routes_cap_their_bodies_at_one_mebibyte(live: Live, path: str) -> None:
    client = live.client(ADMIN + "x")  # even before the token is checked: nothing is read
    declared = client.post(path, content=b"x" * (1024 * 1024 + 1), headers=JSON)
    streamed = live.client(INGEST).post(path, content=_chunks(2 * 1024 * 1024), headers=JSON)
    assert declared.status_code == streamed.status_code == 413
    assert declared.json()["error"] == "request body is larger than the 1048576-byte limit"
    assert streamed.json()["error"] == declared.json()["error"]
    # The events route keeps its own, larger cap
    events = live.client(INGEST).post("/api/v1/events", content=b" " * (2 * 1024 * 1024) +
                                      b'{"events": []}', headers=JSON)
    assert events.status_code == 200
