"""Spread senders over a server's worker processes by asking one to reconnect now and then.

Each sender keeps one connection alive, and the worker that accepted it serves all its requests.
Two senders often land on the same worker of `jobtrail serve --workers 2` while the other idles,
halving ingest. A worker that is already busy with another sender's batch when one arrives answers
it with `Connection: close` (at most once per `interval`); the sender's next batch opens a new
connection, which the idle worker is the likeliest to accept. Once the senders are spread (no
more of them than workers), no worker sees two at a time and nothing is closed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["SHED_INTERVAL", "Balancer"]

SHED_INTERVAL = 0.25
"""Seconds between two connections one worker closes: a reconnect costs about 0.1 ms on loopback,
one round trip (plus a TLS handshake) on a network, so four a second are noise either way, and
senders that started on one worker are spread within a second."""


class Balancer:
    """Counts the ingest requests one worker is handling. Used from its event loop only, so it
    needs no lock. With `shared` False (the worker is alone) it never closes a connection: the
    sender would only reconnect to the same process."""

    def __init__(self, shared: bool, interval: float = SHED_INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.shared = shared
        self.interval = interval
        self.active = 0
        self._clock = clock
        self._last_shed = float("-inf")

    @contextmanager
    def handling(self) -> Iterator[bool]:
        """Around one ingest request; yields True when its connection should close after the
        reply because another request is in progress here."""
        self.active += 1
        try:
            yield self._shed()
        finally:
            self.active -= 1

    def _shed(self) -> bool:
        if not self.shared or self.active < 2:
            return False
        now = self._clock()
        if now - self._last_shed < self.interval:
            return False
        self._last_shed = now
        return True
