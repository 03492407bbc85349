"""`jobtrail jobs`, `show`, `batch`, `stats`: tables people read and JSON scripts parse."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable

import pytest
from typer.testing import Result

from jobtrail import Trail

Invoke = Callable[..., Result]


def _ids_in_table(output: str) -> list[str]:
    return re.findall(r"^(\w+)\s+│", output, flags=re.MULTILINE)


def test_jobs_lists_every_job_newest_first_with_human_durations(url: str, invoke: Invoke) -> None:
    result = invoke(url, "jobs")

    assert result.exit_code == 0, result.output
    assert _ids_in_table(result.stdout) == ["b2", "b1", "a2", "a1", "c1"]
    a1 = next(line for line in result.stdout.splitlines() if line.startswith("a1 "))
    assert "reports.send_email" in a1 and "mail" in a1 and "succeeded" in a1
    assert re.search(r"│ 10m 0\ds ago │\s+10s │\s+2m 00s$", a1), a1  # created, wait, run
    assert "10d 0h ago" in result.stdout  # c1, created ten days ago
    assert not re.search(r"\b\d+\.\d{2,}\b", result.stdout), "raw seconds leaked into the table"
    assert "last page" in result.stdout


def test_jobs_json_parses_and_matches_what_the_api_returns(url: str, invoke: Invoke) -> None:
    result = invoke(url, "jobs", "--json")

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [j["id"] for j in data["jobs"]] == ["b2", "b1", "a2", "a1", "c1"]
    assert data["next_cursor"] is None
    with Trail(url) as trail:
        assert data["jobs"][3] == json.loads(json.dumps(trail.get("a1").as_dict()))


def test_global_json_flag_before_the_command_works_too(url: str, invoke: Invoke) -> None:
    result = invoke(url, "--json", "jobs", "--state", "failed")

    assert result.exit_code == 0, result.output
    assert [j["id"] for j in json.loads(result.stdout)["jobs"]] == ["a2"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--state", "failed"], {"a2"}),
        (["--state", "failed,succeeded"], {"a1", "a2", "c1"}),
        (["--state", "queued", "--state", "started"], {"b1", "b2"}),
        (["--name", "ImportBook"], {"b1", "b2"}),
        (["--queue", "mail"], {"a1", "a2"}),
        (["--batch", "req-1"], {"a1", "a2"}),
        (["--resource", "Book:42"], {"b1"}),
        (["--label", "tenant=acme"], {"a1", "b1"}),
        (["--label", "tenant=acme", "--queue", "imports"], {"b1"}),
        (["--since", "1d"], {"a1", "a2", "b1", "b2"}),
        (["--until", "1d"], {"c1"}),
    ],
)
def test_jobs_filters_narrow_the_list(url: str, invoke: Invoke, args: list[str],
                                      expected: set[str]) -> None:
    result = invoke(url, "--json", "jobs", *args)

    assert result.exit_code == 0, result.output
    assert {j["id"] for j in json.loads(result.stdout)["jobs"]} == expected


def test_jobs_pages_with_the_printed_cursor(url: str, invoke: Invoke) -> None:
    first = invoke(url, "jobs", "--limit", "2")
    cursor = re.search(r"--cursor (\S+)", first.stdout)
    assert first.exit_code == 0 and cursor, first.output
    assert _ids_in_table(first.stdout) == ["b2", "b1"]

    second = invoke(url, "jobs", "--limit", "2", "--cursor", cursor.group(1))

    assert _ids_in_table(second.stdout) == ["a2", "a1"]


def test_jobs_says_so_when_nothing_matches(url: str, invoke: Invoke) -> None:
    result = invoke(url, "jobs", "--name", "nope")

    assert result.exit_code == 0
    assert "No jobs match." in result.stdout


def test_user_text_with_brackets_prints_as_typed(sqlite_url: str, invoke: Invoke) -> None:
    with Trail(sqlite_url) as trail:
        trail.ingest([{"job_id": "x1", "type": "queued", "at": time.time(), "name": "odd[/b][red]"}])

    result = invoke(sqlite_url, "jobs")

    assert result.exit_code == 0, result.output
    assert "odd[/b][red]" in result.stdout


ESCAPES = "\x1b]0;owned\x07\x1b[2J\x1b]8;;http://evil.example/\x1b\\click\x1b[31m"


@pytest.mark.parametrize("command", [["jobs"], ["show", "esc1"], ["batch", "req" + ESCAPES],
                                     ["stats", "--by", "name"]])
def test_terminal_escape_sequences_in_job_fields_are_printed_visibly(
    sqlite_url: str, invoke: Invoke, command: list[str],
) -> None:
    # Given a job whose name, queue, batch, worker, labels, resources and error hold escape
    # sequences (retitle the terminal, clear it, a forged hyperlink, colours)
    now = time.time()
    with Trail(sqlite_url) as trail:
        result = trail.ingest([
            {"job_id": "esc1", "type": "queued", "at": now - 60, "name": "evil" + ESCAPES,
             "queue": "q" + ESCAPES, "batch": "req" + ESCAPES, "labels": {"k": ESCAPES},
             "resources": ["T:" + ESCAPES]},
            {"job_id": "esc1", "type": "started", "at": now - 50, "worker": "w" + ESCAPES},
            {"job_id": "esc1", "type": "failed", "at": now - 40,
             "error": {"type": "E" + ESCAPES, "message": ESCAPES, "traceback": ESCAPES}},
        ])
    assert not result.rejected, result.rejected

    # When a command prints it to a terminal-less stdout (Rich then adds no escapes of its own)
    shown = invoke(sqlite_url, *command)

    # Expect no raw ESC reaches the terminal; each shows as the text \x1b
    assert shown.exit_code == 0, shown.output
    assert "\x1b" not in shown.stdout
    assert "\\x1b]0;owned" in shown.stdout


def test_show_prints_every_state_with_its_time_and_the_error(url: str, invoke: Invoke) -> None:
    result = invoke(url, "show", "a2")

    assert result.exit_code == 0, result.output
    out = result.stdout
    for state in ("queued", "started", "failed"):
        assert re.search(rf"^{state}\s+│ \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{{3}} UTC │ +\S+ \S* ?ago",
                         out, flags=re.MULTILINE), state
    assert re.search(r"8m 2\ds ago", out)  # queued 500 s ago
    assert "ValueError: bad row" in out and 'File "t.py", line 3' in out
    assert "User:2" in out and "tenant=globex" in out and "req-1" in out and "w2" in out
    assert "1m 35s" in out  # run


def test_show_prints_args_progress_and_a_kill_request(url: str, invoke: Invoke) -> None:
    invoke(url, "kill", "b1")

    running = invoke(url, "show", "b1").stdout
    done = invoke(url, "show", "a1").stdout

    assert '"book_id": 42' in running and "kill_requested" in running
    assert "10 of 10 done (100%)" in done


def test_show_json_is_the_jobs_full_record(url: str, invoke: Invoke) -> None:
    result = invoke(url, "show", "a2", "--json")

    data = json.loads(result.stdout)
    assert data["id"] == "a2" and data["state"] == "failed"
    assert set(data["timestamps"]) == {"queued", "started", "failed"}
    assert data["error"]["type"] == "ValueError"
    assert data["attempts"][0]["worker"] == "w2"


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def test_show_json_is_strict_json_when_args_hold_nan_or_infinity(sqlite_url: str,
                                                                 invoke: Invoke) -> None:
    # Given a job whose args and result hold NaN and infinities (Python's json accepts them)
    with Trail(sqlite_url) as trail:
        result = trail.ingest([
            {"job_id": "n1", "type": "queued", "at": time.time() - 5, "name": "nan",
             "args": {"x": float("nan"), "y": [float("inf")]}},
            {"job_id": "n1", "type": "succeeded", "at": time.time(), "result": float("-inf")},
        ])
    assert not result.rejected, result.rejected

    # When it is shown and listed as JSON
    shown = invoke(sqlite_url, "show", "n1", "--json")
    listed = invoke(sqlite_url, "jobs", "--json")

    # Expect strict JSON, the non-finite numbers as null (as the HTTP API sends them)
    assert shown.exit_code == 0 and listed.exit_code == 0, shown.output + listed.output
    job = json.loads(shown.stdout, parse_constant=_no_constants)
    assert job["args"] == {"x": None, "y": [None]} and job["result"] is None
    assert json.loads(listed.stdout, parse_constant=_no_constants)["jobs"][0]["args"]["x"] is None


def test_batch_shows_counts_runtime_and_times(url: str, invoke: Invoke) -> None:
    result = invoke(url, "batch", "req-1")

    assert result.exit_code == 0, result.output
    out = result.stdout
    assert re.search(r"jobs\s+2 \(finished\)", out)
    assert re.search(r"runtime\s+3m 35s", out)  # 120 s + 95 s
    assert re.search(r"wall time\s+3m 10s", out)  # first start (-590) to last finish (-400)
    assert re.search(r"queue time\s+10s", out)
    assert re.search(r"^succeeded\s+│\s+1$", out, flags=re.MULTILINE)
    assert re.search(r"^failed\s+│\s+1$", out, flags=re.MULTILINE)


def test_batch_json_matches_the_batch_summary(url: str, invoke: Invoke) -> None:
    data = json.loads(invoke(url, "--json", "batch", "req-1").stdout)

    with Trail(url) as trail:
        assert data == json.loads(json.dumps(trail.batch("req-1").as_dict()))


def test_stats_shows_counts_and_duration_percentiles(url: str, invoke: Invoke) -> None:
    result = invoke(url, "stats")

    assert result.exit_code == 0, result.output
    out = result.stdout
    assert re.search(r"^total\s+│\s+5$", out, flags=re.MULTILINE)
    assert re.search(r"^run\s+│\s+3 │", out, flags=re.MULTILINE)  # a1, a2, c1 finished
    assert re.search(r"^wait\s+│\s+4 │", out, flags=re.MULTILINE)
    assert "source: rollup" in out


def test_stats_json_gives_counts_and_summaries(url: str, invoke: Invoke) -> None:
    data = json.loads(invoke(url, "--json", "stats", "--queue", "mail").stdout)

    assert data["counts"] == {"succeeded": 1, "failed": 1}
    assert data["run"]["count"] == 2
    assert data["source"] == "rollup"
    assert 95 <= data["run"]["min"] <= 120 and data["run"]["max"] >= 95


@pytest.mark.parametrize("args", [["--state", "failed"], ["--exact"]])
def test_stats_from_rows_says_exact(url: str, invoke: Invoke, args: list[str]) -> None:
    data = json.loads(invoke(url, "--json", "stats", *args).stdout)

    assert data["source"] == "exact"


def test_stats_by_name_has_one_row_per_name(url: str, invoke: Invoke) -> None:
    table = invoke(url, "stats", "--by", "name").stdout
    data = json.loads(invoke(url, "--json", "stats", "--by", "name").stdout)

    assert {g["key"]: g["count"] for g in data["groups"]} == {
        "reports.send_email": 2, "ImportBook": 2, "cleanup": 1}
    email = next(g for g in data["groups"] if g["key"] == "reports.send_email")
    assert email["run"]["count"] == 2
    assert re.search(r"^reports\.send_email\s+│\s+2 │\s+2 │", table, flags=re.MULTILINE)


def test_stats_by_state_counts_each_state(url: str, invoke: Invoke) -> None:
    data = json.loads(invoke(url, "--json", "stats", "--by", "state").stdout)

    assert {g["key"]: g["count"] for g in data["groups"]} == {
        "succeeded": 2, "failed": 1, "started": 1, "queued": 1}
