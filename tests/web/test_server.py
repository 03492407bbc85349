"""`jobtrail.server.serve`: the loopback rule, what reaches the workers, and a real served process."""

from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobtrail.config import Settings
from jobtrail.errors import ConfigError
from jobtrail.model import JobFilter
from jobtrail.server import is_loopback, serve
from jobtrail.store import open_store
from jobtrail.web import asgi_app
from jobtrail.web.auth import TokenTable
from jobtrail.web.pages.static import _assets
from jobtrail.web.pages.view import environment
from jt_support import start_server

EXPORTED = ("JOBTRAIL_URL", "JOBTRAIL_TOKENS", "JOBTRAIL_TOKENS_FILE", "JOBTRAIL_MAX_EVENTS",
            "JOBTRAIL_MAX_BODY_BYTES", "JOBTRAIL_SERVER_WORKERS", "JOBTRAIL_ALLOWED_HOSTS")


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "LocalHost",
                                  "::ffff:127.0.0.1"])
def test_loopback_addresses_are_recognised(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "", "192.168.1.5", "10.0.0.1", "128.0.0.1",
                                  "::ffff:10.0.0.1", "example.com", "localhost.example.com"])
def test_every_other_address_is_exposed(host: str) -> None:
    assert not is_loopback(host)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """uvicorn.run replaced by a recorder (with the environment the workers would inherit);
    the variables serve() exports are restored afterwards."""
    import uvicorn

    for name in EXPORTED:
        monkeypatch.delenv(name, raising=False)
    recorded: list[dict[str, Any]] = []

    def run(app: str, **kwargs: Any) -> None:
        recorded.append({"app": app, **kwargs, "env": {k: os.environ.get(k) for k in EXPORTED}})

    monkeypatch.setattr(uvicorn, "run", run)
    return recorded


def test_an_open_server_refuses_a_public_address(calls: list[dict[str, Any]], sqlite_url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        serve(sqlite_url, host="0.0.0.0", settings=Settings())

    message = str(caught.value)
    assert "without API tokens" in message
    assert "JOBTRAIL_TOKENS" in message
    assert "--insecure" in message
    assert calls == []


def test_an_open_server_may_listen_on_loopback(calls: list[dict[str, Any]], sqlite_url: str) -> None:
    serve(sqlite_url, host="127.0.0.1", port=9999, settings=Settings())

    assert [(c["app"], c["factory"], c["host"], c["port"], c["workers"], c["loop"]) for c in calls] == [
        ("jobtrail.web:app_from_env", True, "127.0.0.1", 9999, 1, "auto")]
    assert calls[0]["env"]["JOBTRAIL_URL"] == sqlite_url


def test_tokens_allow_a_public_address(calls: list[dict[str, Any]], sqlite_url: str) -> None:
    serve(sqlite_url, host="0.0.0.0", settings=Settings(tokens=("read:s3cret",)))

    assert calls[0]["host"] == "0.0.0.0"


def test_insecure_allows_a_public_address_and_says_so(calls: list[dict[str, Any]], sqlite_url: str,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "jobtrail.server"):
        serve(sqlite_url, host="0.0.0.0", insecure=True, settings=Settings())

    assert calls[0]["host"] == "0.0.0.0"
    assert "WITHOUT API tokens" in caplog.text
    # reached by any name on purpose, so the workers answer any Host
    assert calls[0]["env"]["JOBTRAIL_ALLOWED_HOSTS"] == "*"


def test_an_open_server_on_loopback_answers_loopback_names_and_the_listed_ones(
        calls: list[dict[str, Any]], sqlite_url: str) -> None:
    serve(sqlite_url, insecure=True, settings=Settings(allowed_hosts=("jobs.internal",)))

    assert calls[0]["env"]["JOBTRAIL_ALLOWED_HOSTS"] == "jobs.internal"
    seen = Settings.from_env({k: v for k, v in calls[0]["env"].items() if v})
    assert seen.allowed_hosts == ("jobs.internal",)


def test_tokens_from_a_tokens_file_count(calls: list[dict[str, Any]], sqlite_url: str, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "tokens"
    path.write_text("# the dashboard\nread:from-a-file\n")
    monkeypatch.setenv("JOBTRAIL_TOKENS_FILE", str(path))

    serve(sqlite_url, host="0.0.0.0")

    table = TokenTable(Settings.from_env({k: v for k, v in calls[0]["env"].items() if v}).tokens)
    assert table.scopes("from-a-file") == frozenset({"read"})


def test_workers_get_the_url_tokens_and_limits_through_the_environment_never_plain_secrets(
    calls: list[dict[str, Any]], sqlite_url: str
) -> None:
    settings = Settings(tokens=("admin:top,secret", "ingest+read:other"), max_events=7,
                        max_body_bytes=1234)

    serve(sqlite_url, workers=3, settings=settings)

    env = calls[0]["env"]
    assert "top,secret" not in env["JOBTRAIL_TOKENS"] and "other" not in env["JOBTRAIL_TOKENS"]
    seen = Settings.from_env({k: v for k, v in env.items() if v})
    assert seen.url == sqlite_url
    assert (seen.max_events, seen.max_body_bytes, seen.server_workers) == (7, 1234, 3)
    table = TokenTable(seen.tokens)
    assert table.scopes("top,secret") == frozenset({"admin", "read"})
    assert table.scopes("other") == frozenset({"ingest", "read"})
    assert calls[0]["workers"] == 3
    assert calls[0]["loop"] == "asyncio"  # a busy worker then leaves new connections to idle ones


def test_the_database_is_migrated_before_workers_start(calls: list[dict[str, Any]],
                                                       store_url: str) -> None:
    serve(store_url, settings=Settings())

    store = open_store(store_url, migrate=False)
    try:
        assert store.count(JobFilter()) == 0  # the tables exist without this process migrating
    finally:
        store.close()


def test_more_workers_than_cores_on_sqlite_warn_that_postgresql_is_for_many_writers(
    calls: list[dict[str, Any]], sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    workers = (os.cpu_count() or 1) + 1
    with caplog.at_level(logging.WARNING, "jobtrail.server"):
        serve(sqlite_url, workers=workers, settings=Settings())

    assert "use PostgreSQL" in caplog.text
    assert calls[0]["workers"] == workers


@pytest.mark.parametrize("workers", [1, os.cpu_count() or 1])
def test_up_to_one_worker_per_core_on_sqlite_does_not_warn(
    calls: list[dict[str, Any]], sqlite_url: str, caplog: pytest.LogCaptureFixture, workers: int
) -> None:
    with caplog.at_level(logging.WARNING, "jobtrail.server"):
        serve(sqlite_url, workers=workers, settings=Settings())

    assert caplog.text == ""


@pytest.mark.parametrize(("kwargs", "says"), [
    ({"url": "http://other-server:8765"}, "serve needs a database URL"),
    ({"url": "mysql://db/jobs"}, "unsupported database URL"),
    ({"workers": 0}, "workers must be at least 1"),
    ({"settings": Settings(tokens=("root:x",))}, "unknown token scope"),
])
def test_unusable_settings_are_config_errors(calls: list[dict[str, Any]], sqlite_url: str,
                                             kwargs: dict[str, Any], says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        serve(**({"url": sqlite_url, "settings": Settings()} | kwargs))

    assert calls == []


# ---- a real process ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def _serving(store_url: str, **options: Any) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`serve()` with `options` in a subprocess; yields its base URL once it answers."""
    port = _free_port()
    script = textwrap.dedent(f"""
        from jobtrail.config import Settings
        from jobtrail.server import serve
        serve({store_url!r}, port={port}, **{options!r},
              settings=Settings(tokens=("admin:adm", "ingest:ing")))
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBTRAIL_")}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.communicate()[0]
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                proc.terminate()
                raise AssertionError(f"no answer within 60 s; it said:\n{proc.communicate()[0]}")
            time.sleep(0.1)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


@pytest.fixture
def served(store_url: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`serve()` with two workers in a subprocess."""
    with _serving(store_url, workers=2) as running:
        yield running


def test_serve_runs_a_server_whose_workers_share_the_database_and_tokens(
    served: tuple[str, subprocess.Popen[str]]
) -> None:
    url, _ = served
    now = time.time()
    with httpx.Client(base_url=url, headers={"Authorization": "Bearer ing"}) as ingest, \
            httpx.Client(base_url=url, headers={"Authorization": "Bearer adm"}) as admin:
        for i in range(10):  # new connections, so both workers see some of them
            with httpx.Client(base_url=url, headers={"Authorization": "Bearer ing"}) as fresh:
                sent = fresh.post("/api/v1/events", json={"events": [
                    {"job_id": f"w{i}", "type": "queued", "at": now, "name": "served"}]})
                assert sent.status_code == 200
        listed = admin.get("/api/v1/jobs", params={"name": "served"})
        refused = ingest.get("/api/v1/jobs")
        anonymous = httpx.get(f"{url}/api/v1/jobs")

    assert len(listed.json()["jobs"]) == 10
    assert refused.status_code == 403
    assert anonymous.status_code == 401


def test_serve_stops_cleanly_when_terminated(served: tuple[str, subprocess.Popen[str]]) -> None:
    url, proc = served

    proc.terminate()
    output = proc.communicate(timeout=30)[0]

    assert proc.returncode == 0, output
    assert "Traceback" not in output
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/api/v1/health", timeout=2)


def _set_cookies(response: httpx.Response) -> dict[str, tuple[str, str]]:
    """name → (value, Path attribute) of every cookie the response sets."""
    out = {}
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        value = rest.split(";")[0]
        path = re.search(r"[Pp]ath=([^;]*)", header)
        out[name] = (value, path.group(1) if path else "")
    return out


def test_behind_a_proxy_that_strips_a_prefix_the_dashboard_links_carry_it(store_url: str) -> None:
    """`serve(root_path="/jobtrail")`: a proxy forwards the browser's /jobtrail/... as /... (so
    the requests below are what reaches the server), and whatever the server sends the browser,
    links, redirects and cookie paths, names /jobtrail/..."""
    with _serving(store_url, root_path="/jobtrail") as (url, _), \
            httpx.Client(base_url=url, follow_redirects=False) as proxy:
        anonymous = proxy.get("/jobs")
        form = _set_cookies(proxy.get("/login"))
        csrf = form["jobtrail_csrf"][0]
        proxy.cookies.clear()  # the browser keeps them, by the paths it sees: sent by hand below
        logged_in = proxy.post("/login", data={"token": "adm", "next": "/jobs", "csrf": csrf},
                               headers={"Cookie": f"jobtrail_csrf={csrf}"})
        session = _set_cookies(logged_in)
        page = proxy.get("/jobs", headers={
            "Cookie": f"jobtrail_session={session['jobtrail_session'][0]}"})
        asset = proxy.get("/static/app.css")

    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/jobtrail/login?next=%2Fjobs"
    assert form["jobtrail_csrf"][1] == "/jobtrail"
    assert logged_in.status_code == 303 and logged_in.headers["location"] == "/jobtrail/jobs"
    assert session["jobtrail_session"][1] == "/jobtrail"
    assert asset.status_code == 200
    assert page.status_code == 200
    links = re.findall(r'(?:href|src|action)="(/[^"]*)"', page.text)
    assert links and all(link.startswith("/jobtrail/") for link in links), links


def test_a_root_path_must_be_a_path(calls: list[dict[str, Any]], sqlite_url: str) -> None:
    with pytest.raises(ConfigError, match="root path must be a path"):
        serve(sqlite_url, root_path="jobtrail", settings=Settings())
    serve(sqlite_url, root_path="/jobtrail/", settings=Settings())
    assert calls[0]["root_path"] == "/jobtrail"


def test_a_started_app_has_compiled_its_templates_and_packed_its_static_files(
        sqlite_url: str) -> None:
    """The first page after a start would otherwise compile templates and gzip ECharts."""
    environment.cache_clear()
    _assets.cache_clear()
    server = start_server(asgi_app(sqlite_url, Settings()))
    try:
        env = environment()
        assert env.cache is not None
        compiled = {key[1] for key in env.cache.keys()}  # noqa: SIM118 - a Jinja LRUCache
        assert compiled == set(env.list_templates())
        assert _assets.cache_info().currsize == 1
    finally:
        server.stop()
