"""Against a server that accepts connections and never answers, the caller's thread waits no longer
than it was told to (`flush(timeout)`, `close()` within `exit_timeout`), and at exit what could
not be delivered by then is spilled, for a later process to deliver."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from jobtrail import Trail

if TYPE_CHECKING:
    from conftest import RemoteSettings  # tests/client/conftest.py


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
