"""Tracking never hurts the job: a store that cannot be written, is locked, or falls behind never
raises into job code nor blocks it; what cannot be delivered is counted in `trail.stats`."""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from jobtrail import NotFound, Trail

PROMPT = 1.0  # seconds: "promptly", generous for a loaded 2-core machine


def _writer_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "jobtrail-writer" and t.is_alive()}


def _migrated_sqlite(path: Path) -> str:
    """A SQLite file that already holds the schema (so only writes can fail)."""
    url = f"sqlite:///{path}"
    with Trail(url) as trail:
        trail.store  # noqa: B018 - create and migrate
    return url


def _read_only_sqlite(path: Path) -> str:
    # Opened with mode=ro: even root cannot write through it (chmod would not stop root).
    _migrated_sqlite(path)
    return f"sqlite:///file:{path}?mode=ro&uri=true"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _unwritable(kind: str, tmp_path: Path) -> str:
    if kind == "sqlite read-only":
        return _read_only_sqlite(tmp_path / "ro.db")
    if kind == "sqlite not a directory":
        (tmp_path / "file").write_text("not a directory")
        return f"sqlite:///{tmp_path / 'file' / 'jobs.db'}"
    return f"postgresql://postgres@127.0.0.1:{_closed_port()}/postgres?connect_timeout=2"


UNWRITABLE = ["sqlite read-only", "sqlite not a directory", "postgres wrong port"]


@pytest.mark.parametrize("kind", UNWRITABLE)
def test_a_store_that_cannot_be_written_never_raises_into_the_job_and_counts_send_errors(
    kind: str, tmp_path: Path, make_trail: Any, eventually: Any
) -> None:
    trail = make_trail(_unwritable(kind, tmp_path))
    ran: list[str] = []

    trail.enqueued("reports.send", job_id="j1")
    with trail.track("reports.send", job_id="j1") as job:
        job.progress(done=1, total=2)
        ran.append("body")

    @trail.job("reports.nightly")
    def nightly(n: int) -> int:
        return n * 2

    assert nightly(21) == 42
    with pytest.raises(ZeroDivisionError), trail.track("reports.send"):
        ran.append("failing body")
        _ = 1 / 0

    assert ran == ["body", "failing body"]
    eventually(lambda: trail.stats.send_errors >= 1, timeout=10, what="a counted send error")
    assert not trail.flush(0.3), "nothing could be delivered, so flush must report it"
    assert trail.stats.sent == 0


def test_a_read_only_database_keeps_nothing_and_the_readable_copy_is_unchanged(
    tmp_path: Path, make_trail: Any, eventually: Any
) -> None:
    url = _read_only_sqlite(tmp_path / "ro.db")
    trail = make_trail(url)
    with trail.track("x", job_id="lost-cause"):
        pass
    eventually(lambda: trail.stats.send_errors >= 1, what="a counted send error")
    assert trail.jobs().count() == 0  # reads still work on the read-only database
    with pytest.raises(NotFound):
        trail.get("lost-cause")


@pytest.mark.slow
def test_close_stops_the_writer_promptly_even_while_it_backs_off_from_a_dead_store(
    tmp_path: Path, make_trail: Any, eventually: Any
) -> None:
    before = _writer_threads()
    trail = make_trail(_unwritable("sqlite read-only", tmp_path), exit_timeout=0.2)
    with trail.track("x"):
        pass
    # Let the back-off grow to seconds, as it does in any outage longer than a few seconds
    # (0.05 s doubling: the 7th failure is followed by a wait of 3.2 to 6.4 s).
    eventually(lambda: trail.stats.send_errors >= 7, timeout=20, what="seven failed sends")

    started = time.monotonic()
    trail.close()
    assert time.monotonic() - started < PROMPT
    errors_at_close = trail.stats.send_errors
    eventually(
        lambda: not (_writer_threads() - before),
        timeout=PROMPT,
        what="the writer thread stopped after close()",
    )
    assert trail.stats.send_errors == errors_at_close, "a closed Trail kept trying to reach the store"


def test_tracking_does_not_touch_the_database_in_the_jobs_thread(
    tmp_path: Path, make_trail: Any, eventually: Any
) -> None:
    # Given the database is locked for writing by another connection
    url = _migrated_sqlite(tmp_path / "jobs.db")
    trail = make_trail(url)
    trail.store  # noqa: B018 - opened before the lock, as in a worker that already tracked jobs
    locker = sqlite3.connect(tmp_path / "jobs.db", isolation_level=None, timeout=0)
    locker.execute("BEGIN IMMEDIATE")
    try:
        # When jobs are tracked, they finish promptly however long the lock is held
        started = time.monotonic()
        trail.enqueued("locked.out", job_id="L0")
        for i in range(50):
            with trail.track("locked.out", job_id=f"L{i}") as job:
                job.progress(done=i)
        assert time.monotonic() - started < PROMPT
        assert not trail.flush(0.3), "nothing can be written while the lock is held"
        with pytest.raises(NotFound):
            trail.get("L0")
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    # Then everything arrives once the lock is released
    assert trail.flush(30)
    assert trail.jobs(name="locked.out").counts() == {"succeeded": 50}
    assert trail.get("L0").queued_at is not None
    assert trail.stats.dropped == trail.stats.send_errors == 0


def test_a_full_buffer_drops_and_counts_events_without_blocking_the_job(
    tmp_path: Path, make_trail: Any
) -> None:
    url = _migrated_sqlite(tmp_path / "jobs.db")
    trail = make_trail(url, buffer_size=10, batch_size=5)
    trail.store  # noqa: B018
    locker = sqlite3.connect(tmp_path / "jobs.db", isolation_level=None, timeout=0)
    locker.execute("BEGIN IMMEDIATE")  # the writer can deliver nothing meanwhile
    try:
        started = time.monotonic()
        for i in range(500):
            with trail.track("flood", job_id=f"F{i}"):
                pass
        assert time.monotonic() - started < PROMPT
        emitted = 1000  # started + succeeded per job
        assert trail.stats.dropped >= emitted - 10 - 5  # at most a buffer and a batch survive
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert trail.flush(30)
    stats = trail.stats
    assert stats.sent + stats.dropped == emitted, "every event is either sent or counted as dropped"
    stored = trail.jobs(name="flood").count()
    assert 0 < stored <= 15
