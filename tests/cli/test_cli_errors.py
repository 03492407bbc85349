"""Bad input ends in one clear line on stderr and exit code 2, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

Invoke = Callable[..., Result]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["jobs", "--since", "yesterdayish"], "not a time: 'yesterdayish'"),
        (["stats", "--until", "soon"], "not a time: 'soon'"),
        (["jobs", "--state", "exploded"], "unknown state 'exploded'"),
        (["kill", "--state", "exploded", "--yes"], "unknown state 'exploded'"),
        (["jobs", "--label", "tenant"], "label filter 'tenant' must be key=value"),
        (["delete", "--label", "=acme", "--yes"], "label filter '=acme' must be key=value"),
        (["jobs", "--cursor", "%%%"], "invalid cursor"),
        (["show", "nope"], "no job 'nope'"),
        (["batch", "nope"], "no batch 'nope'"),
    ],
)
def test_bad_input_exits_2_with_a_one_line_message(url: str, invoke: Invoke, args: list[str],
                                                   message: str) -> None:
    result = invoke(url, *args)

    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output
    assert result.stdout == ""


@pytest.mark.parametrize("args", [["jobs", "--limit", "0"], ["stats", "--by", "colour"],
                                  ["jobs", "--limit", "many"]])
def test_invalid_option_values_are_usage_errors(url: str, invoke: Invoke, args: list[str]) -> None:
    result = invoke(url, *args)

    assert result.exit_code == 2
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("bad_url", "command"), [("mysql://host/db", "jobs"),
                                                   ("http://localhost:8765", "db")])
def test_unusable_url_exits_2(invoke: Invoke, bad_url: str, command: str) -> None:
    result = invoke(bad_url, command, "current") if command == "db" else invoke(bad_url, command)

    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")


def test_bad_setting_in_the_environment_exits_2(url: str, invoke: Invoke) -> None:
    result = invoke(url, "jobs", env={"JOBTRAIL_RETENTION": "whenever"})

    assert result.exit_code == 2
    assert "invalid jobtrail setting" in result.stderr


def test_unreachable_store_exits_1(tmp_path: Path, invoke: Invoke) -> None:
    result = invoke(f"sqlite:///{tmp_path / 'missing' / 'jobs.db'}", "jobs")

    assert result.exit_code == 1
    assert result.stderr.startswith("error: store: ")


def _jobtrail() -> str:
    return str(Path(sys.executable).with_name("jobtrail"))


def test_installed_command_runs_end_to_end(url: str) -> None:
    env = {**os.environ, "JOBTRAIL_URL": url, "COLUMNS": "200"}

    ok = subprocess.run([_jobtrail(), "--json", "jobs", "--state", "failed"], env=env,
                        capture_output=True, text=True, timeout=60)
    bad = subprocess.run([_jobtrail(), "jobs", "--since", "yesterdayish"], env=env,
                         capture_output=True, text=True, timeout=60)

    assert ok.returncode == 0, ok.stderr
    assert [j["id"] for j in json.loads(ok.stdout)["jobs"]] == ["a2"]
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: not a time") and "Traceback" not in bad.stderr
