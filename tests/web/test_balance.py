"""A worker busy with one sender's batch asks another sender to reconnect (`web/balance.py`), so
senders spread over `jobtrail serve --workers N`; a lone worker never does."""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobtrail import Settings, Trail
from jobtrail.client.connection import ServerConnection
from jobtrail.client.remote import request_headers
from jobtrail.web import asgi_app
from jobtrail.web.balance import Balancer
from jt_support import LiveServer, start_server


def _body(job_id: str) -> bytes:
    return json.dumps({"events": [{"job_id": job_id, "type": "queued", "at": time.time(),
                                   "name": "balanced"}]}).encode()


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_shared_worker_sheds_the_second_request_at_most_once_per_interval() -> None:
    clock = _Clock()
    balancer = Balancer(shared=True, interval=1.0, clock=clock)
    with balancer.handling() as first:
        assert not first  # alone: nothing to shed
        with balancer.handling() as second:
            assert second
        with balancer.handling() as third:
            assert not third  # within the interval of the last shed
        clock.now += 1.0
        with balancer.handling() as fourth:
            assert fourth
    assert balancer.active == 0
    with balancer.handling() as alone_again:
        assert not alone_again


def test_a_lone_worker_never_sheds() -> None:
    balancer = Balancer(shared=False, interval=0.0)
    with balancer.handling(), balancer.handling() as second:
        assert not second


def test_a_failing_request_is_uncounted() -> None:
    balancer = Balancer(shared=True)
    with pytest.raises(RuntimeError), balancer.handling():
        raise RuntimeError("bad batch")
    assert balancer.active == 0


def _served(tmp_path: Path, workers: int) -> Iterator[tuple[LiveServer, Any, str]]:
    db_url = f"sqlite:///{tmp_path / 'balance.db'}"
    app = asgi_app(db_url, Settings(server_workers=workers))
    live = start_server(app)
    try:
        yield live, app, db_url
    finally:
        live.stop()


@pytest.fixture
def shared(tmp_path: Path) -> Iterator[tuple[LiveServer, Any, str]]:
    yield from _served(tmp_path, 2)


@pytest.fixture
def alone(tmp_path: Path) -> Iterator[tuple[LiveServer, Any, str]]:
    yield from _served(tmp_path, 1)


def _hold_a_request_open(live: LiveServer, app: Any) -> tuple[socket.socket, bytes]:
    """A sender whose batch is half sent: the worker is handling it until the rest arrives."""
    body = _body("held")
    sock = socket.create_connection(("127.0.0.1", live.port), timeout=10)
    sock.sendall(b"POST /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 b"Content-Type: application/json\r\n"
                 + f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:10])
    deadline = time.monotonic() + 10
    while app.state.balancer.active < 1:
        assert time.monotonic() < deadline, "the held request never reached the route"
        time.sleep(0.005)
    return sock, body[10:]


def _finish(sock: socket.socket, rest: bytes) -> bytes:
    sock.sendall(rest)
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        assert chunk, "the server closed the held connection without a reply"
        head += chunk
    sock.close()
    return head.split(b"\r\n\r\n")[0].lower()


def _post(live: LiveServer, job_id: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", live.port, timeout=10)
    conn.request("POST", "/api/v1/events", _body(job_id), {"Content-Type": "application/json"})
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def _job_ids(db_url: str) -> list[str]:
    with Trail(db_url, settings=Settings()) as trail:
        return sorted(job.id for job in trail.jobs())


def test_a_busy_shared_worker_asks_the_second_sender_to_reconnect_and_stores_its_batch(
        shared: tuple[LiveServer, Any, str]) -> None:
    live, app, db_url = shared
    sock, rest = _hold_a_request_open(live, app)

    shed = _post(live, "second")
    kept = _post(live, "third")  # within the second: this one keeps its connection

    assert shed.status == 200 and shed.will_close
    assert (shed.getheader("connection") or "").lower() == "close"
    assert kept.status == 200 and not kept.will_close
    head = _finish(sock, rest)
    assert head.startswith(b"http/1.1 200") and b"connection: close" not in head
    assert _job_ids(db_url) == ["held", "second", "third"]


def test_a_lone_worker_keeps_every_connection(alone: tuple[LiveServer, Any, str]) -> None:
    live, app, db_url = alone
    sock, rest = _hold_a_request_open(live, app)

    response = _post(live, "second")

    assert response.status == 200 and not response.will_close
    assert _finish(sock, rest).startswith(b"http/1.1 200")
    assert _job_ids(db_url) == ["held", "second"]


def test_the_sender_reconnects_when_asked(shared: tuple[LiveServer, Any, str]) -> None:
    live, app, db_url = shared
    conn = ServerConnection(live.url, request_headers(None))
    try:
        reply = conn.request("POST", "/api/v1/events", _body("warm"))
        assert reply.status == 200
        first = conn._conn
        assert first is not None  # kept alive while the worker is not shared with another sender
        sock, rest = _hold_a_request_open(live, app)
        reply = conn.request("POST", "/api/v1/events", _body("asked"))
        assert reply.status == 200 and conn._conn is None  # closed: the next request reconnects
        _finish(sock, rest)
    finally:
        conn.close()
    assert _job_ids(db_url) == ["asked", "held", "warm"]
