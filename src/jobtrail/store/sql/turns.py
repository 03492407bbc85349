"""Writers to one SQLite file take turns here before they ask SQLite for its write lock.

SQLite has one write lock per file, and a writer that finds it taken polls: its busy handler sleeps
1, 2, 5, 10 … up to 100 ms between tries, so the lock often sits free while the next writer sleeps
(two server processes ingesting into one file lost a third of their throughput to it). Here the
threads of a process queue on a lock, and processes on `flock` of a file beside the database
(`<database>-writers`), which the kernel hands to the next waiter as soon as it is released. It is
only a queue in front of SQLite's lock, never a replacement: a writer that does not use it (the
`sqlite3` shell, an old version) is still kept out by SQLite itself. Where the file cannot be made
(a read-only folder, no `fcntl` on the platform), threads still queue and processes poll as before.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from jobtrail.forks import process_flag, reinit_lock

try:
    import fcntl
except ImportError:  # Windows: processes fall back to SQLite's busy handler
    fcntl = None  # type: ignore[assignment]

__all__ = ["Turns"]

log = logging.getLogger(__name__)


class Turns:
    """The queue of writers to the SQLite file at `path` (None: an in-memory database)."""

    def __init__(self, path: str | None) -> None:
        self.path = None if not path or path == ":memory:" else f"{path}-writers"
        self._here: list[bool] = []  # `forks.process_flag` once set up in this process
        self._fd: int | None = None
        self._lock = threading.Lock()

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Wait for this writer's turn and hold it for the block. Not reentrant."""
        lock, fd = self._state()
        with lock:
            if fd is None:
                yield
                return
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def _state(self) -> tuple[threading.Lock, int | None]:
        """This process's lock and file. A forked child makes its own: the parent's lock may have
        been held at the fork, and an inherited descriptor shares the parent's `flock`."""
        if not self._here:
            with reinit_lock():
                if not self._here:
                    self._lock = threading.Lock()
                    self._fd = self._open()
                    self._here = process_flag()
        return self._lock, self._fd

    def _open(self) -> int | None:
        if self.path is None or fcntl is None:
            return None
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            log.debug("writers poll SQLite's lock: cannot open %s (%s)", self.path, exc)
            return None

    def close(self) -> None:
        if self._fd is not None and self._here:
            os.close(self._fd)
        self._fd, self._here = None, []
