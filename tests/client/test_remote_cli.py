"""The CLI's reading and operating commands against a live server (--url http://... --token)."""

from __future__ import annotations

import json
import time
from typing import Any

from typer.testing import CliRunner

from jobtrail.cli import app

Server = Any  # tests/client/conftest.py's Server

ENV = {"COLUMNS": "200", "JOBTRAIL_URL": None, "JOBTRAIL_TOKEN": None, "JOBTRAIL_RETENTION": None}


def _cli(server: Server, token: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--url", server.url, "--token", token, *args], env=ENV)
    return result.exit_code, result.stdout, result.stderr


def _history(server: Server) -> None:
    now = time.time()
    with server.local() as trail:
        result = trail.ingest([
            {"job_id": "done", "type": "queued", "at": now - 60, "name": "ImportBook",
             "resources": ["Book:42"]},
            {"job_id": "done", "type": "started", "at": now - 50},
            {"job_id": "done", "type": "succeeded", "at": now - 20},
            {"job_id": "busy", "type": "queued", "at": now - 30, "name": "ImportBook"},
            {"job_id": "busy", "type": "started", "at": now - 25},
        ])
        assert result.rejected == []


def test_reading_commands_answer_from_the_server(server: Server) -> None:
    # Given two jobs in the server's database
    _history(server)
    # When the CLI reads them over HTTP with a read token
    code, out, _ = _cli(server, "tok-r", "--json", "jobs", "--name", "ImportBook")
    # Expect the same jobs, newest first
    assert code == 0
    assert [j["id"] for j in json.loads(out)["jobs"]] == ["busy", "done"]
    code, out, _ = _cli(server, "tok-r", "--json", "show", "done")
    assert code == 0 and json.loads(out)["run"] == 30.0
    code, out, _ = _cli(server, "tok-r", "--json", "stats", "--resource", "Book:42")
    assert code == 0 and json.loads(out)["count"] == 1
    code, out, _ = _cli(server, "tok-r", "jobs", "--state", "started")
    assert code == 0 and "busy" in out and "done" not in out


def test_killing_over_http_needs_the_admin_token(server: Server) -> None:
    _history(server)
    # A read token is refused with a clear message and nothing changes
    code, _, err = _cli(server, "tok-r", "kill", "busy")
    assert code != 0 and "admin" in err
    with server.local() as trail:
        assert trail.get("busy").kill_requested_at is None
    # An admin token flags the running job; a finished one is a conflict (exit 2)
    code, out, _ = _cli(server, "tok-a", "kill", "busy")
    assert code == 0 and "Kill requested" in out
    with server.local() as trail:
        assert trail.get("busy").state == "kill_requested"
    code, _, err = _cli(server, "tok-a", "kill", "done")
    assert code == 2 and "already succeeded" in err


def test_a_wrong_token_is_a_clear_error_not_a_traceback(server: Server) -> None:
    code, out, err = _cli(server, "nope", "jobs")
    assert code != 0
    assert "token" in err and "Traceback" not in out + err
