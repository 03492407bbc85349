"""`jobtrail run` with real commands in real processes: success, failure with the output's tail as
the error, a periodic declaration that becomes late and then ok, and kills that stop the child."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from jobtrail import Trail
from jobtrail.cli import app
from jobtrail.health import HealthSettings
from jobtrail.health.checks import check_periodic
from jobtrail.model import Job
from jobtrail.store import open_store

CLI = [sys.executable, "-c", "from jobtrail.cli import main; main()"]
PY = sys.executable
ENV = {"JOBTRAIL_HEARTBEAT_INTERVAL": "0.2s", "JOBTRAIL_FLUSH_INTERVAL": "0.05"}


def env(**extra: str) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("JOBTRAIL_")}
    return {**out, **ENV, **extra}


def run(url: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "--url", url, "run", *args], env=env(), capture_output=True,
                          text=True, timeout=timeout)


def run_here(url: str, *args: str) -> Result:
    """The same command in this process (Typer's CliRunner), for cases that need no real terminal."""
    return CliRunner().invoke(app, ["--url", url, "run", *args],
                              env={"JOBTRAIL_URL": None, **ENV})  # type: ignore[dict-item]


def only_job(url: str, name: str) -> Job:
    with Trail(url) as trail:
        [job] = list(trail.jobs(name=name).page(limit=10).jobs)
        return trail.get(job.id)


def test_a_successful_command_passes_its_output_through_and_is_recorded_succeeded(
        sqlite_url: str) -> None:
    result = run(sqlite_url, "--name", "reports.ok", "--queue", "cron", "--label", "team=ops",
                 "--", PY, "-c", "import sys, time; print('out line'); "
                 "print('err line', file=sys.stderr); time.sleep(0.2)")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "out line\n"
    assert "err line" in result.stderr
    job = only_job(sqlite_url, "reports.ok")
    assert (job.state, job.queue, dict(job.labels)) == ("succeeded", "cron", {"team": "ops"})
    assert job.run is not None and job.run >= 0.2
    assert job.result == {"exit_code": 0}
    assert job.args == {"command": [PY, "-c", job.args["command"][2]]}  # type: ignore[index]


def test_a_failing_command_exits_with_its_code_and_its_output_tail_is_the_error(
        sqlite_url: str) -> None:
    script = ("import sys\n"
              "for i in range(100): print(f'line {i}')\n"
              "print('connecting with password=hunter2', file=sys.stderr)\n"
              "print('fatal: disk full', file=sys.stderr)\n"
              "sys.exit(3)\n")
    result = run(sqlite_url, "--name", "backup", "--tail", "5", "--", PY, "-u", "-c", script)
    assert result.returncode == 3
    assert "line 99" in result.stdout and "hunter2" in result.stderr  # passed through untouched
    job = only_job(sqlite_url, "backup")
    assert job.state == "failed"
    assert job.error is not None
    assert job.error["type"] == "CommandFailed"
    assert job.error["message"] == "exited with code 3: fatal: disk full"
    tb = job.error["traceback"]
    stdout_part = tb.split("--- stdout, last 5 lines ---\n")[1].split("---")[0]
    assert stdout_part.splitlines() == [f"line {i}" for i in range(95, 100)]
    stderr_part = tb.split("--- stderr, last 2 lines ---\n")[1]
    assert stderr_part.splitlines() == ["connecting with password=[redacted]", "fatal: disk full"]
    assert "hunter2" not in tb


def test_a_command_that_cannot_start_exits_127_and_is_recorded_failed(sqlite_url: str) -> None:
    result = run_here(sqlite_url, "--name", "typo", "--", "no-such-command-xyz")
    assert result.exit_code == 127
    assert "cannot start 'no-such-command-xyz'" in result.stderr
    job = only_job(sqlite_url, "typo")
    assert job.state == "failed" and "cannot start" in job.error["message"]  # type: ignore[index]


def test_a_command_found_but_not_runnable_exits_126_as_with_env_or_timeout(
        sqlite_url: str, tmp_path: Path) -> None:
    # Given an executable file that is no program (Exec format error), and one not executable
    junk = tmp_path / "junk"
    junk.write_bytes(b"\x00\x01\x02 not a program\n")
    junk.chmod(0o755)
    plain = tmp_path / "plain"
    plain.write_text("echo hi\n")
    for path in (junk, plain):
        result = run_here(sqlite_url, "--name", path.name, "--", str(path))
        # Expect 126 (found, cannot be run); 127 is for a command not found
        assert result.exit_code == 126, (path, result.stderr)
        assert f"cannot start {str(path)!r}" in result.stderr
        assert only_job(sqlite_url, path.name).state == "failed"


def test_the_command_runs_and_keeps_its_exit_code_when_the_store_is_unreachable(
        tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    result = run("postgresql://postgres@127.0.0.1:1/nowhere?connect_timeout=1", "--name", "x",
                 "--every", "1h", "--", "sh", "-c", f"touch {marker}; exit 4")
    assert result.returncode == 4
    assert marker.exists()
    assert "Traceback" not in result.stderr


def test_bad_options_are_refused_before_anything_runs(sqlite_url: str, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    for args in (["--every", "1h", "--cron", "0 3 * * *"], ["--grace", "10m"],
                 ["--every", "often"], ["--label", "novalue"], ["--label", "bad key=1"],
                 ["--name", "n" * 300], ["--cron", "every tuesday"]):
        result = run_here(sqlite_url, "--name", "x", *args, "--", "touch", str(marker))
        assert result.exit_code == 2, (args, result.output)
        assert result.stderr.startswith("error: ")
    assert not marker.exists()


def test_a_periodic_run_declares_the_job_which_is_late_without_a_success_then_ok_after_one(
        sqlite_url: str) -> None:
    hour = 3600.0
    failed = run_here(sqlite_url, "--name", "nightly", "--every", "1h", "--grace", "10m", "--",
                      "false")
    assert failed.exit_code == 1
    store = open_store(sqlite_url)
    try:
        [declared] = store.periodics()
        assert (declared["name"], declared["every"], declared["grace"]) == ("nightly", hour, 600)
        now = time.time()
        assert check_periodic(store, HealthSettings(), now).level == "healthy"  # not due yet
        late = check_periodic(store, HealthSettings(), now + hour + 11 * 60)
        assert late.level == "degraded" and "'nightly' is late" in late.reason
        ok = run_here(sqlite_url, "--name", "nightly", "--every", "1h", "--grace", "10m", "--",
                      "true")
        assert ok.exit_code == 0
        after = check_periodic(store, HealthSettings(), now + hour)
        assert after.level == "healthy", after
        assert after.details["periodic"][0]["state"] == "ok"
    finally:
        store.close()


def start_run(url: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([*CLI, "--url", url, "run", *args], env=env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_started(url: str, name: str, proc: subprocess.Popen[str]) -> tuple[str, int]:
    """(job id, the child's pid, which the child prints first)."""
    assert proc.stdout is not None
    child_pid = int(proc.stdout.readline())
    deadline = time.monotonic() + 30
    with Trail(url) as trail:
        while True:
            page = trail.jobs(name=name).page(limit=1).jobs
            if page and page[0].state == "started":
                return page[0].id, child_pid
            assert time.monotonic() < deadline, "the run was never recorded started"
            time.sleep(0.05)


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.parametrize(("script", "grace", "code"), [
    ("import os, time; print(os.getpid(), flush=True); time.sleep(60)", "10s", 128 + 15),
    ("import os, signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
     "print(os.getpid(), flush=True); time.sleep(60)", "0.5s", 128 + 9),
], ids=["stops-on-sigterm", "ignores-sigterm-so-sigkill"])
def test_a_kill_request_stops_the_real_child_and_the_run_is_recorded_killed(
        sqlite_url: str, script: str, grace: str, code: int) -> None:
    proc = start_run(sqlite_url, "--name", "long", "--kill-grace", grace, "--", PY, "-c", script)
    try:
        job_id, child = wait_started(sqlite_url, "long", proc)
        with Trail(sqlite_url) as trail:
            trail.kill(job_id)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert proc.returncode == code
    assert gone(child)
    job = only_job(sqlite_url, "long")
    assert job.state == "killed"
    assert job.error is not None and "killed on request" in job.error["message"]


@pytest.mark.parametrize(("ignore", "code"), [(False, 128 + 15), (True, 128 + 9)],
                         ids=["child-stops", "child-ignores-sigterm-so-sigkill"])
def test_a_signal_to_jobtrail_run_reaches_the_command_and_the_run_is_killed(
        sqlite_url: str, ignore: bool, code: int) -> None:
    setup = "signal.signal(signal.SIGTERM, signal.SIG_IGN); " if ignore else ""
    proc = start_run(sqlite_url, "--name", "term", "--kill-grace", "0.5s", "--", PY, "-c",
                     f"import os, signal, time; {setup}print(os.getpid(), flush=True); "
                     "time.sleep(60)")
    try:
        _job_id, child = wait_started(sqlite_url, "term", proc)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert proc.returncode == code
    assert gone(child)
    job = only_job(sqlite_url, "term")
    assert job.state == "killed" and "by signal SIGTERM" in job.error["message"]  # type: ignore[index]


def test_ctrl_c_in_a_terminal_reaches_the_command_once_and_the_run_is_killed(
        sqlite_url: str, tmp_path: Path) -> None:
    # Given `jobtrail run` in the foreground of a real terminal, running a command that cleans up
    # for a while on its first Ctrl-C (a second one would cut the clean-up short)
    import pty

    marker = tmp_path / "cleanup"
    script = ("import os, sys, time\n"
              "print(os.getpid(), flush=True)\n"
              "try:\n    time.sleep(60)\n"
              "except KeyboardInterrupt:\n"
              "    try:\n        time.sleep(1.0)\n"
              f"        open({str(marker)!r}, 'w').write('clean')\n"
              "    except KeyboardInterrupt:\n"
              f"        open({str(marker)!r}, 'w').write('interrupted twice')\n"
              "    sys.exit(130)\n")
    pid, fd = pty.fork()
    if pid == 0:  # the child: a session whose controlling terminal is the pty
        try:
            os.execve(PY, [*CLI, "--url", sqlite_url, "run", "--name", "ctrl-c", "--", PY, "-c",
                           script], env())
        finally:
            os._exit(127)
    try:
        output = b""
        deadline = time.monotonic() + 30
        while not output.strip().splitlines() or not output.strip().splitlines()[0].isdigit():
            assert time.monotonic() < deadline, output
            output += os.read(fd, 1024)
        time.sleep(0.3)  # (its handlers are in place once it printed)
        # When the user presses Ctrl-C
        os.write(fd, b"\x03")
        _, status = os.waitpid(pid, 0)
    finally:
        _end_terminal(pid, fd)
    # Expect the command to have had one interrupt, time to clean up, and its exit code kept
    assert marker.read_text() == "clean"
    assert os.waitstatus_to_exitcode(status) == 130
    job = only_job(sqlite_url, "ctrl-c")
    assert job.state == "killed" and "by signal SIGINT" in job.error["message"]  # type: ignore[index]


def test_a_closed_output_pipe_ends_the_command_as_it_would_end_without_jobtrail(
        sqlite_url: str) -> None:
    # Given `jobtrail run -- yes` whose output goes into a pipe (as in `jobtrail run ... | head -1`)
    proc = start_run(sqlite_url, "--name", "piped", "--", "yes")
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "y\n"
        # When the reader goes away
        proc.stdout.close()
        # Expect the command to meet the closed pipe and end (SIGPIPE), not to run on forever
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stderr is not None
        stderr = proc.stderr.read()
        proc.stderr.close()
    assert proc.returncode == 128 + signal.SIGPIPE, stderr
    assert "Traceback" not in stderr
    job = only_job(sqlite_url, "piped")
    assert job.state == "failed" and "exited with code 141" in job.error["message"]  # type: ignore[index]


# ---- signals: each one reaches the command exactly once ---------------------------------------

COUNT_SIGNALS = ("import json, os, signal, sys, time\n"
                 "counts = {}\n"
                 "def on(sig, _frame): counts[signal.Signals(sig).name] = "
                 "counts.get(signal.Signals(sig).name, 0) + 1\n"
                 "for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP): signal.signal(s, on)\n"
                 "print(os.getpid(), flush=True)\n"
                 "while not counts: time.sleep(0.01)\n"
                 "time.sleep(1.0)  # time for a second delivery to arrive, if there is one\n"
                 "open(sys.argv[1], 'w').write(json.dumps(counts))\n"
                 "sys.exit(3)\n")
"""A command that counts the stop signals it gets, writes the counts to argv[1], exits 3."""


def _end_terminal(pid: int, fd: int) -> None:
    """Kill `jobtrail run` if a test left it running, and close its terminal."""
    with contextlib.suppress(ProcessLookupError, ChildProcessError):
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    os.close(fd)


def start_in_terminal(url: str, name: str, *cmd: str) -> tuple[int, int]:
    """`jobtrail run` in the foreground of a new terminal (a pty, its session): (pid, pty fd),
    once the command printed its first line."""
    import pty

    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execve(PY, [*CLI, "--url", url, "run", "--name", name, "--", *cmd], env())
        finally:
            os._exit(127)
    output = b""
    deadline = time.monotonic() + 30
    while not output.strip().splitlines() or not output.strip().splitlines()[0].isdigit():
        assert time.monotonic() < deadline, output
        output += os.read(fd, 1024)
    return pid, fd


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP],
                         ids=lambda s: s.name)
@pytest.mark.parametrize("to", ["jobtrail-run-alone", "its-process-group"])
def test_a_signal_outside_a_terminal_reaches_the_command_exactly_once(
        sqlite_url: str, tmp_path: Path, sig: signal.Signals, to: str) -> None:
    # Given `jobtrail run` started by a supervisor, with no terminal (its own session)
    counts = tmp_path / "counts.json"
    proc = subprocess.Popen([*CLI, "--url", sqlite_url, "run", "--name", "sup", "--", PY, "-c",
                             COUNT_SIGNALS, str(counts)], env=env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        wait_started(sqlite_url, "sup", proc)
        # When the supervisor signals jobtrail run alone, or its whole process group (killpg)
        if to == "jobtrail-run-alone":
            os.kill(proc.pid, sig)
        else:
            os.killpg(proc.pid, sig)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    # Expect the command to have had it once, and the run recorded killed by that signal
    assert json.loads(counts.read_text()) == {sig.name: 1}
    assert proc.returncode == 3
    job = only_job(sqlite_url, "sup")
    assert job.state == "killed" and f"by signal {sig.name}" in job.error["message"]  # type: ignore[index]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP],
                         ids=lambda s: s.name)
def test_a_signal_to_jobtrail_run_alone_in_a_terminal_reaches_the_command_once(
        sqlite_url: str, tmp_path: Path, sig: signal.Signals) -> None:
    # Given `jobtrail run` in the foreground of a terminal (the command shares its process group)
    counts = tmp_path / "counts.json"
    pid, fd = start_in_terminal(sqlite_url, "fg", PY, "-c", COUNT_SIGNALS, str(counts))
    try:
        # When another process (`kill -INT <pid>`, `timeout --foreground`) signals jobtrail run alone
        os.kill(pid, sig)
        _, status = os.waitpid(pid, 0)
    finally:
        _end_terminal(pid, fd)
    # Expect it forwarded to the command once
    assert json.loads(counts.read_text()) == {sig.name: 1}
    assert os.waitstatus_to_exitcode(status) == 3
    job = only_job(sqlite_url, "fg")
    assert job.state == "killed" and f"by signal {sig.name}" in job.error["message"]  # type: ignore[index]


def test_a_hangup_of_the_terminal_jobtrail_run_leads_reaches_the_command_once(
        sqlite_url: str, tmp_path: Path) -> None:
    # Given `jobtrail run` leading the session of a terminal (`docker run -t`, `script -c`)
    counts = tmp_path / "counts.json"
    pid, fd = start_in_terminal(sqlite_url, "hangup", PY, "-c", COUNT_SIGNALS, str(counts))
    try:
        # When the terminal goes away (the kernel sends SIGHUP to the session's leader only)
        os.close(fd)
        _, status = os.waitpid(pid, 0)
    finally:
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    # Expect it forwarded to the command once
    assert json.loads(counts.read_text()) == {"SIGHUP": 1}
    assert os.waitstatus_to_exitcode(status) == 3
    job = only_job(sqlite_url, "hangup")
    assert job.state == "killed" and "by signal SIGHUP" in job.error["message"]  # type: ignore[index]


def test_ctrl_c_in_a_terminal_reaches_the_command_exactly_once(
        sqlite_url: str, tmp_path: Path) -> None:
    # Given `jobtrail run` in the foreground of a terminal
    counts = tmp_path / "counts.json"
    pid, fd = start_in_terminal(sqlite_url, "ctrl-c-once", PY, "-c", COUNT_SIGNALS, str(counts))
    try:
        # When the user presses Ctrl-C (the terminal signals the whole foreground process group)
        os.write(fd, b"\x03")
        _, status = os.waitpid(pid, 0)
    finally:
        _end_terminal(pid, fd)
    # Expect the command to have had the terminal's SIGINT only, not a forwarded second one
    assert json.loads(counts.read_text()) == {"SIGINT": 1}
    assert os.waitstatus_to_exitcode(status) == 3
    job = only_job(sqlite_url, "ctrl-c-once")
    assert job.state == "killed" and "by signal SIGINT" in job.error["message"]  # type: ignore[index]


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGINT], ids=lambda s: s.name)
def test_a_signal_ignored_when_jobtrail_run_starts_stays_ignored(
        sqlite_url: str, sig: signal.Signals) -> None:
    # Given `nohup jobtrail run ...` (SIGHUP ignored), or a background job of a script (SIGINT
    # ignored): the command inherits the signal ignored, as it would without jobtrail
    ignoring = (f"import os, signal, sys; signal.signal({int(sig)}, signal.SIG_IGN); "
                "os.execv(sys.argv[1], sys.argv[1:])")
    proc = subprocess.Popen(
        [PY, "-c", ignoring, *CLI, "--url", sqlite_url, "run", "--name", "nohup", "--kill-grace",
         "0.2s", "--", PY, "-c", "import os, time; print(os.getpid(), flush=True); time.sleep(2); "
         "print('done')"],
        env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    try:
        wait_started(sqlite_url, "nohup", proc)
        # When the signal comes (the terminal closed; an interrupt to the script's group)
        os.killpg(proc.pid, sig)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    # Expect the command to run to its end, and the run to be recorded succeeded
    assert proc.returncode == 0, err
    assert out == "done\n"
    assert only_job(sqlite_url, "nohup").state == "succeeded"


@pytest.fixture
def server(sqlite_url: str) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([*CLI, "--url", sqlite_url, "serve", "--port", str(port)],
                            env=env(JOBTRAIL_TOKENS="admin+ingest:tok"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/openapi.json", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_run_through_a_server_url_records_the_job_and_declares_the_periodic(
        server: str, sqlite_url: str) -> None:
    result = subprocess.run(
        [*CLI, "--url", server, "--token", "tok", "run", "--name", "remote.hourly", "--every",
         "1h", "--", PY, "-c", "print('via server')"],
        env=env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "via server\n"
    job = only_job(sqlite_url, "remote.hourly")
    assert job.state == "succeeded"
    periodic = httpx.get(f"{server}/api/v1/periodic", headers={"Authorization": "Bearer tok"}).json()
    assert [p["name"] for p in periodic["periodic"]] == ["remote.hourly"]



def test_a_kill_request_reaches_a_run_tracked_through_a_server(server: str, sqlite_url: str) -> None:
    proc = subprocess.Popen(
        [*CLI, "--url", server, "--token", "tok", "run", "--name", "remote.long", "--", PY, "-c",
         "import os, time; print(os.getpid(), flush=True); time.sleep(60)"],
        env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        job_id, child = wait_started(sqlite_url, "remote.long", proc)
        with Trail(server, token="tok") as admin:
            admin.kill(job_id)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert proc.returncode == 128 + 15
    assert gone(child)
    deadline = time.monotonic() + 10
    while only_job(sqlite_url, "remote.long").state != "killed":
        assert time.monotonic() < deadline, only_job(sqlite_url, "remote.long").state
        time.sleep(0.05)

# ---- what is kept of the output --------------------------------------------------------------

def test_secrets_in_output_and_in_the_command_line_are_redacted() -> None:
    from jobtrail.cli.output_tail import redact_argv, redact_text

    text = redact_text('connect postgresql://bob:s3cret@db/x; password=hunter2 "api_key": "k-123" '
                       "Authorization: Bearer abcdef123456")
    assert "s3cret" not in text and "hunter2" not in text and "k-123" not in text
    assert "abcdef123456" not in text and "postgresql://bob:[redacted]@db/x" in text
    assert redact_argv(["dump", "--password", "pw", "--api-token=tk", "plain"]) == [
        "dump", "--password", "[redacted]", "--api-token=[redacted]", "plain"]


def test_pass_and_auth_are_secret_as_words_of_their_own_not_inside_author_or_passenger() -> None:
    # As for a job's args (jobtrail.events): git's `author=`, a `passenger=` field, `--author`
    from jobtrail.cli.output_tail import redact_argv, redact_text

    text = "author=alice passenger=bob authority: ca1"
    assert redact_text(text) == text
    assert redact_text("db_pass=x authToken: y basic_auth=z PASS=w") == (
        "db_pass=[redacted] authToken: [redacted] basic_auth=[redacted] PASS=[redacted]")
    assert redact_argv(["git", "commit", "--author", "Alice <a@x>", "--passenger=7",
                        "--db-pass", "p"]) == [
        "git", "commit", "--author", "Alice <a@x>", "--passenger=7", "--db-pass", "[redacted]"]


def test_a_secret_cut_by_the_tails_character_cap_is_still_redacted() -> None:
    # Given a long line whose start is cut by the cap, wherever the cut falls in the secret's key
    from jobtrail.cli.output_tail import OutputTail

    for line in ("password=hunter2", "postgresql://bob:hunter2@db/x"):
        for pad in range(40):
            tail = OutputTail(max_lines=3, max_chars=40)
            tail.feed(f"{line} {'y' * pad}\n".encode())
            # Expect the secret gone and the cap kept
            text = tail.text()
            assert "hunter2" not in text and len(text) <= 40, (line, pad, text)


def test_the_tail_keeps_the_last_lines_without_colour_codes_within_its_cap() -> None:
    from jobtrail.cli.output_tail import OutputTail

    tail = OutputTail(max_lines=3, max_chars=40)
    for i in range(1000):
        tail.feed(f"\x1b[31mline {i}\x1b[0m\n".encode())
    assert tail.text() == "line 997\nline 998\nline 999"
    tail.feed(b"progress 10%\rprogress 100%\n" + b"x" * 100 + b"\n")
    assert len(tail.text()) == 40 and tail.text().startswith("…")
    assert tail.last_line().endswith("x")
    bar = OutputTail()
    bar.feed(b"copying 10%\rcopying 55%\rcopying 100%\r\ndone\n")
    assert bar.text() == "copying 100%\ndone"
