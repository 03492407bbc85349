"""`jobtrail embed-url` prints a signed link that a live server with tokens accepts: signed here
with the configured secret, or by the server over `--url` with an admin token."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from typer.testing import Result

from jobtrail import Settings
from jobtrail.web import asgi_app
from jt_support import LiveServer, start_server

Invoke = Callable[..., Result]
SECRET = "cli-embed-secret-0123456789abcdefghij"
ADMIN, READ = "cli-admin", "cli-read"
NO_SECRET: dict[str, Any] = {"JOBTRAIL_EMBED_SECRET": None, "JOBTRAIL_EMBED_SECRET_FILE": None}
WITH_SECRET: dict[str, Any] = {**NO_SECRET, "JOBTRAIL_EMBED_SECRET": SECRET}


@pytest.fixture
def server(url: str) -> Iterator[LiveServer]:
    app = asgi_app(url, Settings(tokens=(f"admin:{ADMIN}", f"read:{READ}"), embed_secret=SECRET))
    live = start_server(app)
    yield live
    live.stop()


def test_a_locally_signed_link_is_accepted_by_the_server(invoke: Invoke,
                                                         server: LiveServer) -> None:
    result = invoke(None, "embed-url", "gantt", "--batch", "req-1", "--highlight", "a2",
                    "--expires", "1h", "--base-url", server.url, env=WITH_SECRET)
    assert result.exit_code == 0, result.output
    link = result.stdout.strip()
    assert link.startswith(server.url + "/embed/gantt?") and "signature=" in link
    page = httpx.get(link)
    assert page.status_code == 200
    assert "Timeline of batch req-1" in page.text and '"highlight": "a2"' in page.text
    assert httpx.get(link.replace("highlight=a2", "highlight=a1")).status_code == 403


def test_over_a_server_url_the_server_signs_with_an_admin_token(invoke: Invoke,
                                                               server: LiveServer) -> None:
    result = invoke(server.url, "--token", ADMIN, "embed-url", "duration-trend", "--name",
                    "reports.send_email", "--range", "7d", "--json", env=NO_SECRET)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["url"].startswith(server.url + "/embed/duration-trend?")
    page = httpx.get(data["url"])
    assert page.status_code == 200 and "reports.send_email" in page.text
    refused = invoke(server.url, "--token", READ, "embed-url", "load", env=NO_SECRET)
    assert refused.exit_code == 2
    assert "lacks the 'admin' scope" in refused.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["pie"], "no chart 'pie'"),
    (["load", "--job", "a1"], "chart 'load' takes no parameter 'job'"),
    (["busy"], "chart 'busy' needs the parameter 'job'"),
    (["load", "--range", "soon"], "soon"),
    (["load", "--expires", "60w"], "at most 366d"),
])
def test_bad_charts_parameters_and_expiries_exit_2_with_the_reason(
        invoke: Invoke, args: list[str], message: str) -> None:
    result = invoke(None, "embed-url", *args, env=WITH_SECRET)
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.output


def test_without_a_secret_or_a_server_it_says_what_to_set(invoke: Invoke) -> None:
    result = invoke(None, "embed-url", "load", env=NO_SECRET)
    assert result.exit_code == 2
    assert "JOBTRAIL_EMBED_SECRET" in result.stderr
    short = invoke(None, "embed-url", "load", env={**NO_SECRET, "JOBTRAIL_EMBED_SECRET": "short"})
    assert short.exit_code == 2 and "at least 32 characters" in short.stderr
