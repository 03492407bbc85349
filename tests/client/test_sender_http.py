"""A remote Trail's own HTTP (`client/connection.py`) against real servers: a process that only
tracks loads no httpx; kept-alive connections the server closed are replaced; TLS trusts what
httpx trusts and refuses what it would; HTTP(S)_PROXY and NO_PROXY are honoured through a real
proxy (tinyproxy)."""

from __future__ import annotations

import json
import logging
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from jobtrail import Settings, Trail
from jobtrail.client.connection import ServerConnection, ssl_context
from jobtrail.client.remote import encode_event, events_body, request_headers
from jobtrail.errors import StoreError
from jobtrail.web import asgi_app
from jt_support import need, start_server

if TYPE_CHECKING:
    from conftest import RemoteSettings, Server  # tests/client/conftest.py


def _tracked(trail: Trail, name: str) -> None:
    with trail.track(name):
        pass
    assert trail.flush(5), trail.stats


def _names(db_url: str) -> list[str]:
    with Trail(db_url, settings=Settings()) as trail:
        return sorted(job.name for job in trail.jobs())


def test_a_process_that_only_tracks_loads_neither_httpx_nor_its_command_line(
        server: Server, tmp_path: Path) -> None:
    script = f"""
import json, sys
from jobtrail import Settings, Trail
trail = Trail({server.url!r}, token="tok-i",
              settings=Settings(extra={{"spill_dir": {str(tmp_path / "spill")!r}}}))
with trail.track("from-a-script"):
    pass
trail.flush(5)
print(json.dumps({{"sent": trail.stats.sent,
                   "loaded": sorted({{"httpx", "rich", "click", "pygments"}} & set(sys.modules))}}))
trail.close()
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=True)
    report = json.loads(done.stdout)
    assert report == {"sent": 2, "loaded": []}, done.stderr
    with server.local() as trail:
        assert [job.name for job in trail.jobs()] == ["from-a-script"]


def test_a_kept_alive_connection_the_server_closed_is_replaced(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'keepalive.db'}"
    live = start_server(asgi_app(db_url, Settings()), timeout_keep_alive=1)
    conn = ServerConnection(live.url, request_headers(None))
    try:
        for i in range(2):
            body = events_body([encode_event({"job_id": f"k{i}", "type": "queued", "at": time.time(),
                                              "name": f"keepalive-{i}"})])
            reply = conn.request("POST", "/api/v1/events", body)
            assert reply.status == 200 and reply.json()["accepted"] == 1, reply.text
            time.sleep(1.5)  # the server closes the idle connection after a second
    finally:
        conn.close()
        live.stop()
    assert _names(db_url) == ["keepalive-0", "keepalive-1"]


def test_a_connection_is_renewed_once_it_is_older_than_its_max_age() -> None:
    """So senders spread over a server's workers: each new connection may go to another one."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Port(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keeps the connection alive

        def do_GET(self) -> None:
            body = str(self.client_address[1]).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Port)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    conn = ServerConnection(f"http://127.0.0.1:{httpd.server_address[1]}", {}, max_age=0.5)
    try:
        # Given two requests in quick succession, Expect one connection (the same client port)
        first, second = (conn.request("GET", "/").text for _ in range(2))
        assert first == second
        # When the connection has served longer than its max age, Expect the next one on a new one
        time.sleep(0.6)
        third, fourth = (conn.request("GET", "/").text for _ in range(2))
        assert third != first
        assert fourth == third
    finally:
        conn.close()
        httpd.shutdown()
        httpd.server_close()


def test_threads_reading_through_one_trail_each_get_their_own_connection(server: Server) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with server.local() as local:
        local.ingest([{"job_id": f"r{i}", "type": "queued", "at": time.time(), "name": f"read-{i % 3}"}
                      for i in range(30)])
    with Trail(server.url, token="tok-r") as trail:
        def read(i: int) -> tuple[int, int]:
            return trail.jobs(name=f"read-{i % 3}").count(), len(trail.jobs().page(limit=50).jobs)

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(read, range(80)))
        assert answers == [(10, 30)] * 80
        idle = trail._remote._idle  # type: ignore[union-attr]
        assert 1 <= len(idle) <= trail._remote.IDLE_CONNECTIONS  # type: ignore[union-attr]


# ---- TLS -----------------------------------------------------------------------------------------


@dataclass
class Tls:
    cert: Path
    key: Path


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    """A self-signed certificate for 127.0.0.1, made by the openssl command."""
    if shutil.which("openssl") is None:
        need("openssl", "the openssl command is missing (apt-get install openssl)")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True,
                   timeout=60)
    return Tls(cert, key)


@dataclass
class HttpsServer:
    url: str
    db_url: str


@pytest.fixture
def https_server(tls: Tls, tmp_path: Path) -> Iterator[HttpsServer]:
    db_url = f"sqlite:///{tmp_path / 'tls.db'}"
    live = start_server(asgi_app(db_url, Settings()), ssl_certfile=str(tls.cert),
                        ssl_keyfile=str(tls.key))
    try:
        yield HttpsServer(url=live.url, db_url=db_url)
    finally:
        live.stop()


@pytest.fixture
def trusted(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Environment changes that the sender's TLS and proxy choices see (its TLS context is built
    once per process: rebuilt here before and after)."""
    for name in ("SSL_CERT_FILE", "SSL_CERT_DIR", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy",
                 "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    ssl_context.cache_clear()
    yield monkeypatch
    monkeypatch.undo()
    ssl_context.cache_clear()


def test_https_with_a_certificate_the_environment_trusts(https_server: HttpsServer, tls: Tls,
                                                         trusted: pytest.MonkeyPatch,
                                                         remote_settings: RemoteSettings) -> None:
    trusted.setenv("SSL_CERT_FILE", str(tls.cert))
    with Trail(https_server.url, settings=remote_settings()) as trail:
        _tracked(trail, "over-tls")
        assert trail.stats.sent == 2 and trail.stats.send_errors == 0
        assert [job.name for job in trail.jobs()] == ["over-tls"]  # reads trust the same CAs
    assert _names(https_server.db_url) == ["over-tls"]


def test_https_refuses_a_certificate_nobody_trusts(https_server: HttpsServer, trusted: pytest.MonkeyPatch,
                                                   remote_settings: RemoteSettings,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="jobtrail")
    with Trail(https_server.url, settings=remote_settings()) as trail:
        with trail.track("never-trusted"):
            pass
        assert not trail.flush(0.5)  # spilled, waiting for a server it can trust
        assert trail.stats.sent == 0 and trail.stats.spilled == 2 and trail.stats.send_errors >= 1
        assert "CERTIFICATE_VERIFY_FAILED" in caplog.text
        with pytest.raises(StoreError, match="CERTIFICATE_VERIFY_FAILED"):
            trail.jobs().count()
    assert _names(https_server.db_url) == []


# ---- proxies -------------------------------------------------------------------------------------


@dataclass
class Proxy:
    url: str
    log: Path

    def saw(self, text: str) -> bool:
        return text in self.log.read_text(errors="replace")


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[Proxy]:
    """A real tinyproxy on a loopback port, logging each request it forwards."""
    binary = shutil.which("tinyproxy")
    if binary is None:
        need("tinyproxy", "not installed (apt-get install tinyproxy)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = tmp_path / "tinyproxy.log"
    log.touch()
    conf = tmp_path / "tinyproxy.conf"
    conf.write_text(f'Port {port}\nListen 127.0.0.1\nTimeout 30\nMaxClients 20\nAllow 127.0.0.1\n'
                    f'LogFile "{log}"\nLogLevel Info\n')
    process = subprocess.Popen([str(binary), "-d", "-c", str(conf)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, f"tinyproxy exited: {log.read_text()}"
                assert time.monotonic() < deadline, "tinyproxy did not listen within 10 s"
                time.sleep(0.05)
        yield Proxy(f"http://127.0.0.1:{port}", log)
    finally:
        process.terminate()
        process.wait(10)


def test_http_through_the_proxy_the_environment_names(server: Server, proxy: Proxy,
                                                       trusted: pytest.MonkeyPatch,
                                                       remote_settings: RemoteSettings) -> None:
    trusted.setenv("HTTP_PROXY", proxy.url)
    with Trail(server.url, token="tok-i", settings=remote_settings()) as trail:
        _tracked(trail, "via-proxy")
    assert proxy.saw(f"POST {server.url}/api/v1/events")
    with server.local() as trail:
        assert [job.name for job in trail.jobs()] == ["via-proxy"]


def test_https_tunnels_through_the_proxy(https_server: HttpsServer, proxy: Proxy, tls: Tls,
                                         trusted: pytest.MonkeyPatch,
                                         remote_settings: RemoteSettings) -> None:
    trusted.setenv("SSL_CERT_FILE", str(tls.cert))
    trusted.setenv("HTTPS_PROXY", proxy.url)
    with Trail(https_server.url, settings=remote_settings()) as trail:
        _tracked(trail, "tunnelled")
    assert proxy.saw(f"CONNECT {https_server.url.removeprefix('https://')}")
    assert _names(https_server.db_url) == ["tunnelled"]


def test_no_proxy_sends_directly(server: Server, proxy: Proxy, trusted: pytest.MonkeyPatch,
                                 remote_settings: RemoteSettings) -> None:
    trusted.setenv("HTTP_PROXY", proxy.url)
    trusted.setenv("NO_PROXY", "127.0.0.1")
    with Trail(server.url, token="tok-i", settings=remote_settings()) as trail:
        _tracked(trail, "direct")
    assert not proxy.saw("/api/v1/events")
    with server.local() as trail:
        assert [job.name for job in trail.jobs()] == ["direct"]


def test_a_proxy_the_sender_cannot_use_is_reported_not_raised(
        server: Server, trusted: pytest.MonkeyPatch, remote_settings: RemoteSettings,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="jobtrail")
    trusted.setenv("HTTP_PROXY", "socks5://127.0.0.1:1080")
    with Trail(server.url, token="tok-i", settings=remote_settings()) as trail:
        with trail.track("kept-for-later"):
            pass
        assert not trail.flush(0.3)
        assert trail.stats.spilled == 2
        with pytest.raises(StoreError, match="unsupported proxy 'socks5:"):
            trail.jobs().count()
    assert "unsupported proxy 'socks5://127.0.0.1:1080'" in caplog.text
