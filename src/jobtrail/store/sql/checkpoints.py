"""Checkpoint an SQLite file's WAL on a thread of its own, not in the writer's commit.

SQLite's automatic checkpoint runs inside the commit that fills the WAL past its threshold, so one
ingest batch in every few dozen copies ~40 MB back into the database and syncs it: about 12 % of
ingest time (`bench/RESULTS.md`). Here, after a write, a background thread runs a PASSIVE
checkpoint within `INTERVAL` seconds. A PASSIVE checkpoint waits for no reader or writer, and
Python's `sqlite3` lets go of the GIL while SQLite copies and syncs, so writers go on merging and
committing meanwhile. The writers' own automatic checkpoint stays on at a higher threshold
(`engine.WAL_AUTOCHECKPOINT_PAGES`): if this thread cannot keep up, the WAL still stays bounded.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import urllib.parse

from jobtrail.forks import process_flag, reinit_lock

__all__ = ["Checkpointer"]

log = logging.getLogger(__name__)

INTERVAL = 0.5
"""Seconds between a write and its checkpoint: writes in that time share one copy of a page."""


class Checkpointer:
    """The WAL checkpoints of the SQLite file at `path` (None: an in-memory database, none)."""

    def __init__(self, path: str | None, interval: float = INTERVAL) -> None:
        # Absolute now: a later chdir must not point the thread at another file.
        self.path = None if not path or path == ":memory:" else os.path.abspath(path)
        self.interval = interval
        self.passes = 0
        """Checkpoints run so far (tests and diagnostics)."""
        self._here: list[bool] = []
        self._wrote = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def wrote(self) -> None:
        """A write transaction committed: checkpoint soon. Starts the thread in this process."""
        if self.path is None:
            return
        if not self._here:
            self._start()
        self._wrote.set()

    def _start(self) -> None:
        """Start this process's thread; a forked child starts its own (threads do not survive
        `fork()`, and the parent's events may have been mid-use)."""
        with reinit_lock():
            if self._here:
                return
            self._wrote, self._stop = threading.Event(), threading.Event()
            self._thread = threading.Thread(target=self._run, name="jobtrail-wal-checkpoint",
                                            daemon=True)
            self._thread.start()
            self._here = process_flag()

    def _run(self) -> None:
        wrote, stop, path = self._wrote, self._stop, self.path
        assert path is not None  # `wrote` starts no thread without a file
        try:
            # mode=rw: never create a file (the store made it; one gone since stays gone).
            conn = sqlite3.connect(f"file:{urllib.parse.quote(path)}?mode=rw", uri=True,
                                   isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            log.warning("jobtrail: WAL checkpoints stay with the writers (%s)", exc)
            return
        try:
            while not stop.is_set():
                wrote.wait()
                if stop.wait(self.interval):
                    break
                wrote.clear()  # before the checkpoint: a write during it asks for the next one
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.passes += 1
                except sqlite3.Error as exc:  # the file went away, a disk error: writers still checkpoint
                    log.debug("jobtrail: WAL checkpoint failed: %s", exc)
        finally:
            conn.close()

    def close(self) -> None:
        """Stop this process's thread (the last connection's close checkpoints what is left)."""
        if self._here and self._thread is not None:
            self._stop.set()
            self._wrote.set()
            self._thread.join(timeout=10)
        self._here, self._thread = [], None
