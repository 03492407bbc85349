"""Against a server that accepts connections and never answers, the caller's thread waits no longer
than it was told to (`flush(timeout)`, `close()` within `exit_timeout`), and at exit what could
not be delivered by then is spilled, for a later process to deliver."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from jobtrail import Trail
from jobtrail.client.spill import Spill

if TYPE_CHECKING:
    from conftest import RemoteSettings, Server  # tests/client/conftest.py


@pytest.fixture
def hung_url() -> Iterator[str]:
    """An http URL whose listener completes every TCP handshake (the kernel's backlog) and never
    reads or answers a request."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_flush_and_close_return_within_their_bounds_while_the_server_never_answers(
        hung_url: str, remote_settings: RemoteSettings) -> None:
    # Given a worker that reports itself and declares a periodic job to a server that hangs
    trail = Trail(hung_url, settings=remote_settings(exit_timeout=1.0))
    try:
        trail.worker_heartbeat("w1", queues=["q"], state="stopped")
        trail.declare_periodic("p1", every="1h")
        # When it flushes with a one-second bound
        started = time.monotonic()
        flushed = trail.flush(1.0)
        # Expect False, after about that second (not a read timeout per kind of value)
        assert not flushed
        assert time.monotonic() - started < 1.5
        trail.worker_heartbeat("w1", queues=["q"], state="stopped")
    finally:
        started = time.monotonic()
        trail.close()
        # And close() within exit_timeout
        assert time.monotonic() - started < 1.5


def _spilled(folder: Path) -> list[dict[str, Any]]:
    """Every event in the spill files a process left in `folder` (as a later process adopts them)."""
    spill = Spill(folder, max_bytes=10**9)
    spill.adopt()
    events = []
    while lines := spill.read(1000, 10**7):
        events += [json.loads(line) for line in lines]
        spill.ack()
    spill.close()
    return events


def test_at_exit_what_a_hung_server_did_not_take_is_spilled_and_what_cannot_be_is_counted(
        hung_url: str, remote_settings: RemoteSettings, tmp_path: Path) -> None:
    # Given a process whose writer is stuck in a request to a server that never answers
    trail = Trail(hung_url, settings=remote_settings(exit_timeout=1.0))
    trail.worker_heartbeat("w1", queues=["q"])
    for n in range(5):
        with trail.track("report", f"j{n}"):
            pass
    time.sleep(0.3)  # the writer has taken a batch (or the heartbeat) and waits for the answer
    for n in range(5, 8):
        with trail.track("report", f"j{n}"):
            pass
    # When it exits
    trail.close()
    # Expect every event, the one in flight included, in a spill file a later process replays,
    # each once, with an event id
    events = _spilled(tmp_path / "spill")
    assert sorted((e["job_id"], e["type"]) for e in events) == sorted(
        (f"j{n}", kind) for n in range(8) for kind in ("started", "succeeded"))
    assert len({e["event_id"] for e in events}) == 16
    # And the worker heartbeat, a register that is not spilled, counted as dropped
    assert (trail.stats.spilled, trail.stats.dropped) == (16, 1)


def test_close_sends_a_worker_heartbeat_put_just_before_it(
        server: Server, remote_settings: RemoteSettings) -> None:
    # Given a process whose writer would not take its next turn for half a minute
    trail = Trail(server.url, token="tok-i",
                  settings=remote_settings(flush_interval=30, heartbeat_interval=60))
    trail.worker_heartbeat("w-last", queues=["q"], state="stopped")
    # When it closes at once
    trail.close()
    # Expect the writer's last turn to have delivered the heartbeat
    with server.local() as local:
        assert [(w["id"], w["state"]) for w in local.workers()] == [("w-last", "stopped")]
    assert trail.stats.dropped == 0
