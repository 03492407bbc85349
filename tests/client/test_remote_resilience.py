"""Tracking over HTTP never hurts the job and loses nothing it accepted: the server stops, is killed
with SIGKILL, or is unreachable for good; the client forks; a process exits with events spilled.

The server here is uvicorn in a subprocess (`jobtrail.web:app_from_env` on a SQLite file), so it can
be stopped, killed and started again on the same port and database.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import jobtrail
from jobtrail import Settings, Trail
from jobtrail.client.spill import Spill

TOKENS = "ingest:tok-i,read:tok-r,admin:tok-a"
START_TIMEOUT = 60.0  # seconds for uvicorn to import the app and answer, on a busy machine


class ServerProcess:
    """uvicorn in a subprocess; `url` and the database stay the same across restarts."""

    def __init__(self, folder: Path, **env: str) -> None:
        self.folder = folder
        self.env = env
        self.db_url = f"sqlite:///{folder / 'jobs.db'}"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        assert self.proc is None
        self.starts += 1
        env = {**os.environ, "JOBTRAIL_URL": self.db_url, "JOBTRAIL_TOKENS": TOKENS, **self.env}
        with open(self.folder / f"server-{self.starts}.log", "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "--factory", "jobtrail.web:app_from_env",
                 "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"],
                env=env, stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the server exited: {self.log()}")
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"the server did not answer within {START_TIMEOUT}s: {self.log()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def log(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-1500:] for p in self.folder.glob("server-*.log"))

    def local(self) -> Trail:
        """A Trail on the server's database file: what actually landed."""
        return Trail(self.db_url, settings=Settings())


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_path)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def settings(tmp_path: Path, extra: dict[str, str] | None = None, **fields: Any) -> Settings:
    """Quick flushes, a spill folder in the test's tmp dir, retries at most a second apart."""
    return Settings(**{"flush_interval": 0.05, "exit_timeout": 1.0, **fields},
                    extra={"spill_dir": str(tmp_path / "spill"), "retry_max_seconds": "1", **(extra or {})})


def succeeded_rollup(local: Trail, name: str) -> int:
    """How many jobs named `name` entered `succeeded`, by the roll-ups (a double count shows here)."""
    rows = local.store.rollup_counts(None, None, names=[name], metrics=["entered:succeeded"])
    return sum(n for *_, n in rows)


@pytest.mark.slow
def test_jobs_keep_their_pace_and_every_event_arrives_once_when_the_server_goes_away(
        server: ServerProcess, tmp_path: Path) -> None:
    jobs, stop_at, restart_at = 5_000, 1_500, 3_500
    trail = Trail(server.url, token="tok-i", settings=settings(tmp_path))
    in_job_thread = 0.0
    try:
        for i in range(jobs):
            if i == stop_at:
                server.stop()
            elif i == restart_at:
                server.start()
            t0 = time.perf_counter()
            with trail.track("outage.job", job_id=f"o{i:05d}", resources=[f"User:{i % 50}"]):
                pass
            in_job_thread += time.perf_counter() - t0
            time.sleep(0.001)  # the jobs' own work; it spreads the run over the outage
        # The outage really happened: attempts failed and events went to disk
        assert trail.stats.send_errors > 0 and trail.stats.spilled > 0, trail.stats
        # The job thread never waited for the network (≈ 20 µs a job; 2.5 s would be 500 µs)
        assert in_job_thread < 2.5, f"{in_job_thread:.2f}s in track() for {jobs} jobs"
        assert trail.flush(120), trail.stats
        stats = trail.stats
    finally:
        trail.close()
    assert stats.sent == 2 * jobs and stats.dropped == stats.rejected == 0, stats
    assert not list((tmp_path / "spill").glob("*.jsonl")), "acknowledged spill files are deleted"
    with server.local() as local:
        assert local.jobs(name="outage.job").counts() == {"succeeded": jobs}
        assert {j.id for j in local.jobs(name="outage.job")} == {f"o{i:05d}" for i in range(jobs)}
        assert succeeded_rollup(local, "outage.job") == jobs
        assert local.jobs(name="outage.job").stats().run.count == jobs


SENDER = textwrap.dedent("""
    import json, os, sys, time
    from jobtrail import Settings, StoreError, Trail

    url, name, batches, ack_log, spill = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
    restarted = sys.argv[6]  # the test creates it once the server is back: keep sending until then
    trail = Trail(url, token="tok-i", settings=Settings(
        flush_interval=0.05, extra={"spill_dir": spill, "retry_max_seconds": "0.5"}))
    with open(ack_log, "a") as log:
        b = 0
        while b < batches or not os.path.exists(restarted):
            ids = [f"{name}-a{b:03d}-{k:02d}" for k in range(20)]
            now = time.time()
            events = []
            for j in ids:
                events += [{"job_id": j, "type": "queued", "at": now - 2, "name": "crash.acked"},
                           {"job_id": j, "type": "started", "at": now - 1},
                           {"job_id": j, "type": "succeeded", "at": now}]
            while True:
                try:
                    result = trail.ingest(events)
                    break
                except StoreError:
                    time.sleep(0.05)  # the server is away: send the same events again (idempotent)
            assert not result.rejected, result.rejected
            log.write("".join(j + "\\n" for j in ids))
            log.flush()
            for k in range(20):  # and jobs tracked in the background, through the spill if need be
                with trail.track("crash.tracked", job_id=f"{name}-t{b:03d}-{k:02d}"):
                    pass
            b += 1
    flushed = trail.flush(120)
    stats = trail.stats
    trail.close()
    print(json.dumps({"flushed": flushed, "sent": stats.sent, "spilled": stats.spilled,
                      "dropped": stats.dropped, "rejected": stats.rejected, "batches": b}))
""")


@pytest.mark.slow
def test_every_acknowledged_event_survives_a_server_killed_mid_send(
        server: ServerProcess, tmp_path: Path) -> None:
    batches = 60
    script = tmp_path / "sender.py"
    script.write_text(SENDER)
    logs = [tmp_path / f"acked-{n}.txt" for n in ("p", "q")]
    restarted = tmp_path / "restarted"
    senders = [
        subprocess.Popen([sys.executable, str(script), server.url, name, str(batches), str(log),
                          str(tmp_path / f"spill-{name}"), str(restarted)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for name, log in zip(("p", "q"), logs, strict=True)
    ]
    try:
        # Given both senders are well under way
        deadline = time.monotonic() + 60
        while not all(log.exists() and len(log.read_text().split()) >= 300 for log in logs):
            assert time.monotonic() < deadline, "the senders did not get going"
            assert all(s.poll() is None for s in senders), "a sender finished before the crash"
            time.sleep(0.01)
        # When the server is killed mid-stream, and comes back a moment later
        server.stop(signal.SIGKILL)
        time.sleep(1.0)
        server.start()
        restarted.touch()
        outcomes = []
        for sender in senders:
            out, err = sender.communicate(timeout=300)
            assert sender.returncode == 0, err.decode()[-3000:]
            outcomes.append(json.loads(out.decode().strip().splitlines()[-1]))
    finally:
        for sender in senders:
            if sender.poll() is None:
                sender.kill()
            sender.communicate()  # reap it and close its pipes
    sent = sum(o["batches"] for o in outcomes) * 20  # jobs of each kind, both senders
    assert sent >= 2 * batches * 20
    acked = {line for log in logs for line in log.read_text().split()}
    assert len(acked) == sent
    # Then every job the server acknowledged is there, and finished
    with server.local() as local:
        states = {j.id: j.state for j in local.jobs(name="crash.acked")}
        assert acked <= set(states), f"{len(acked - set(states))} acknowledged jobs are missing"
        assert set(states.values()) == {"succeeded"}
        # and so is every job tracked in the background, exactly once
        assert all(o["flushed"] and o["dropped"] == o["rejected"] == 0 for o in outcomes), outcomes
        assert local.jobs(name="crash.tracked").counts() == {"succeeded": sent}
        assert succeeded_rollup(local, "crash.tracked") == sent
        assert succeeded_rollup(local, "crash.acked") == sent


def test_a_later_process_delivers_what_an_exited_one_spilled(server: ServerProcess, tmp_path: Path) -> None:
    # Given a process that tracked jobs while the server was away, then exited
    server.stop()
    first = Trail(server.url, token="tok-i", settings=settings(tmp_path))
    for i in range(30):
        with first.track("orphan.job", job_id=f"orphan-{i}"):
            pass
    assert not first.flush(0.5)
    assert first.stats.spilled == 60
    first.close()
    assert list((tmp_path / "spill").glob("*.jsonl")), "the spill stays on disk for someone else"
    # When another process sends to the same server once it is back
    server.start()
    second = Trail(server.url, token="tok-i", settings=settings(tmp_path))
    try:
        with second.track("orphan.job", job_id="newcomer"):
            pass
        # Then it adopts the spill and delivers it too
        assert second.flush(30)
    finally:
        second.close()
    with server.local() as local:
        assert local.jobs(name="orphan.job").counts() == {"succeeded": 31}
    assert not list((tmp_path / "spill").glob("*.jsonl"))


def test_batches_over_the_servers_limits_are_split_until_they_fit(tmp_path: Path) -> None:
    # Given a server that takes at most 30 events per request
    server = ServerProcess(tmp_path, JOBTRAIL_MAX_EVENTS="30")
    server.start()
    try:
        # When one batch of 400 events is sent
        trail = Trail(server.url, token="tok-i", settings=settings(tmp_path, flush_interval=3600))
        try:
            for i in range(200):
                with trail.track("split.job", job_id=f"s{i}"):
                    pass
            assert trail.flush(30)
            stats = trail.stats
        finally:
            trail.close()
        # Then it arrives whole, in halves of halves
        assert (stats.sent, stats.rejected, stats.send_errors) == (400, 0, 0), stats
        with server.local() as local:
            assert local.jobs(name="split.job").counts() == {"succeeded": 200}
    finally:
        server.stop()


def test_the_spill_is_bounded_and_counts_what_it_drops(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{ServerProcess(tmp_path).port}"
    trail = Trail(dead, token="t", settings=settings(tmp_path, {"spill_max_bytes": "20000"}, batch_size=20))
    try:
        for i in range(200):
            with trail.track("bounded.job", job_id=f"b{i}"):
                pass
        trail.flush(1.0)
        stats = trail.stats
        assert stats.spilled > 0 and stats.dropped > 0
        assert stats.spilled + stats.dropped == 400, stats
        assert sum(p.stat().st_size for p in (tmp_path / "spill").glob("*.jsonl")) <= 20_000
    finally:
        trail.close()


def test_a_forked_child_tracks_over_its_own_connection(server: ServerProcess, tmp_path: Path) -> None:
    trail = Trail(server.url, token="tok-i", settings=settings(tmp_path))
    try:
        with trail.track("fork.job", job_id="parent-before"):
            pass
        assert trail.flush(10)
        pid = os.fork()
        if pid == 0:  # the child: track, flush, and leave without running the parent's cleanup
            code = 1
            try:
                with trail.track("fork.job", job_id="child"):
                    pass
                code = 0 if trail.flush(20) and trail.stats.sent >= 1 else 3
            finally:
                os._exit(code)
        with trail.track("fork.job", job_id="parent-after"):
            pass
        assert trail.flush(10)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        trail.close()
    with server.local() as local:
        assert {j.id: j.state for j in local.jobs(name="fork.job")} == {
            "parent-before": "succeeded", "child": "succeeded", "parent-after": "succeeded"}


def test_a_forked_child_that_does_not_track_runs_none_of_the_clients_code(
    server: ServerProcess, tmp_path: Path
) -> None:
    # Given a parent whose Trail has sent events (writer thread, connection and ids in use)
    trail = Trail(server.url, token="tok-i", settings=settings(tmp_path))
    try:
        with trail.track("fork.job", job_id="parent-before"):
            pass
        assert trail.flush(10)
        package = Path(jobtrail.__file__).parent
        client = (str(package / "client"), str(package / "integrations"))  # what a worker holds
        called: list[str] = []

        def record(frame: Any, event: str, _: Any) -> None:
            if event == "call" and frame.f_code.co_filename.startswith(client):
                called.append(frame.f_code.co_qualname)

        read, write = os.pipe()
        # When it forks a child (an RQ work horse) while every Python call into the client and
        # the integrations is recorded
        sys.setprofile(record)
        pid = os.fork()
        sys.setprofile(None)
        if pid == 0:  # the child: report what ran at fork, then leave without any cleanup
            try:
                os.write(write, ",".join(called).encode() or b"-")
            finally:
                os._exit(0)
        os.close(write)
        _, status = os.waitpid(pid, 0)
        with os.fdopen(read) as pipe:
            ran = pipe.read()
        # Expect none of their functions ran in the child (each would cost it copy-on-write
        # faults); a child that does track starts over on first use (the test above)
        assert os.waitstatus_to_exitcode(status) == 0
        assert ran == "-", f"jobtrail code ran in the forked child: {ran}"
    finally:
        trail.close()


# ---- the spill on its own ----------------------------------------------------------------------


def test_the_spill_replays_oldest_first_and_deletes_what_was_acknowledged(tmp_path: Path) -> None:
    spill = Spill(tmp_path, max_bytes=10**6)
    for i in range(5):
        assert spill.append([f'{{"n":{i}.{k}}}'.encode() for k in range(3)])
    assert spill.read(4, 10**6) == [b'{"n":0.0}', b'{"n":0.1}', b'{"n":0.2}', b'{"n":1.0}']
    assert spill.read(4, 10**6)[0] == b'{"n":0.0}', "nothing is forgotten before an ack"
    spill.ack()
    rest = spill.read(100, 10**6)
    assert rest[0] == b'{"n":1.1}' and len(rest) == 11
    spill.ack()
    assert spill.empty and not list(tmp_path.glob("*.jsonl"))


def test_a_torn_last_line_of_an_adopted_spill_is_dropped_and_counted(tmp_path: Path) -> None:
    (tmp_path / "123-1-ab.jsonl").write_bytes(b'{"a":1}\n{"a":2}\n{"a":')
    spill = Spill(tmp_path, max_bytes=10**6)
    assert spill.adopt() == 1
    assert spill.read(10, 10**6) == [b'{"a":1}', b'{"a":2}']
    spill.ack()
    assert spill.read(10, 10**6) == []
    assert spill.dropped == 1 and spill.empty


def test_a_spill_held_by_a_live_owner_is_not_adopted(tmp_path: Path) -> None:
    owner = Spill(tmp_path, max_bytes=10**6)
    owner.append([b'{"x":1}'])
    other = Spill(tmp_path, max_bytes=10**6)
    assert other.adopt() == 0
    owner.close()  # the owner goes away with its events unsent
    assert other.adopt() == 1
    assert other.read(10, 10**6) == [b'{"x":1}']
    other.close()
