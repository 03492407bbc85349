"""Events a server could not take yet, kept on disk so the in-memory buffer never fills while it is down.

The spill is a queue of JSON-lines segment files (one encoded event per line) in one folder per server
URL. A process appends only to segments it created and holds locked (`flock`); when it exits or
crashes the lock goes with it, and the next process sending to the same server adopts the files and
replays them, so events a process accepted still arrive (a replay is harmless: the server's merge is
idempotent). Segments are capped at SEGMENT_BYTES so that a consumed one is deleted whole; the bytes
not yet acknowledged are capped at `max_bytes`, beyond which a batch is dropped and counted.

Only the sink calls this, under its lock, so nothing here is thread-safe on its own. Without `fcntl`
(Windows) files are still written and replayed by their own process, but never adopted.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["SEGMENT_BYTES", "Spill"]

SEGMENT_BYTES = 8 * 1024 * 1024
"""A segment takes appends until it holds this many bytes, then a new one starts."""


def _try_lock(file: BinaryIO) -> bool:
    if fcntl is None:  # pragma: no cover - Windows
        return True
    try:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _write_at(file: BinaryIO, data: bytes, offset: int) -> None:
    """All of `data` at `offset`, straight to the file: no buffer in between that could keep the
    bytes of a failed write (disk full) and put them on disk with a later one, past the known size."""
    if not hasattr(os, "pwrite"):  # pragma: no cover - Windows
        file.seek(offset)
        file.write(data)
        file.flush()
        return
    view = memoryview(data)
    while view:
        written = os.pwrite(file.fileno(), view, offset)
        view, offset = view[written:], offset + written


class _Segment:
    __slots__ = ("adopted", "file", "path", "read_pos", "size")

    def __init__(self, path: Path, file: BinaryIO, *, adopted: bool) -> None:
        self.path = path
        self.file = file
        self.adopted = adopted
        self.read_pos = 0
        self.size = os.fstat(file.fileno()).st_size

    def discard(self) -> None:
        """Empty, unlink, unlock. Emptied first, so a process that opened it meanwhile replays nothing."""
        try:
            self.file.truncate(0)
            self.path.unlink(missing_ok=True)
        except OSError:
            pass
        finally:
            self.file.close()


class Spill:
    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self.dropped = 0
        """Events lost here: over `max_bytes`, a failed write, or a torn last line of an adopted file."""
        self._segments: deque[_Segment] = deque()
        self._lease: tuple[_Segment, int] | None = None

    @property
    def empty(self) -> bool:
        return not self._segments

    @property
    def live_bytes(self) -> int:
        """Bytes this process spilled and the server has not acknowledged (adopted files excluded)."""
        return sum(s.size - s.read_pos for s in self._segments if not s.adopted)

    def append(self, lines: Sequence[bytes]) -> bool:
        """Queue encoded events behind everything already spilled; False (and counted) if dropped."""
        data = b"".join(line + b"\n" for line in lines)
        if self.live_bytes + len(data) > self.max_bytes:
            self.dropped += len(lines)
            return False
        tail = self._segments[-1] if self._segments else None
        try:
            if tail is None or tail.adopted or tail.size >= SEGMENT_BYTES:
                tail = self._create()
                self._segments.append(tail)
            _write_at(tail.file, data, tail.size)
        except OSError:
            self.dropped += len(lines)
            if tail is not None and not tail.file.closed:
                with contextlib.suppress(OSError):  # cut a partial write off, so no line glues onto it
                    os.ftruncate(tail.file.fileno(), tail.size)
            return False
        tail.size += len(data)
        return True

    def _create(self) -> _Segment:
        """A new locked segment. Locked before it gets its adoptable name, so nobody adopts it live."""
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{os.getpid()}-{time.time_ns()}-{secrets.token_hex(4)}.jsonl"
        tmp = self.folder / f".{name}.tmp"
        file = open(tmp, "x+b")  # noqa: SIM115 - the segment owns the handle until it is discarded
        if not _try_lock(file):  # pragma: no cover - a fresh file cannot be locked by anyone else
            file.close()
            raise OSError(f"cannot lock {tmp}")
        os.rename(tmp, self.folder / name)
        return _Segment(self.folder / name, file, adopted=False)

    def read(self, max_events: int, max_bytes: int) -> list[bytes]:
        """The oldest unacknowledged events (at most `max_events` / about `max_bytes`); `ack()`
        after the server took them. Without an ack the next read returns them again."""
        self._lease = None
        while self._segments:
            seg = self._segments[0]
            lines: list[bytes] = []
            pos, total = seg.read_pos, 0
            try:
                seg.file.seek(pos)
                while len(lines) < max_events and total < max_bytes and pos < seg.size:
                    line = seg.file.readline(seg.size - pos)
                    if not line:
                        break
                    pos += len(line)
                    if not line.endswith(b"\n"):  # torn by a crash mid-write: not a whole event
                        self.dropped += 1
                    elif len(line) > 1:
                        lines.append(line[:-1])
                        total += len(line)
            except OSError:
                pos = seg.size  # unreadable: give it up rather than retry it forever
                self.dropped += len(lines) + 1
                lines = []
            if lines:
                self._lease = (seg, pos)
                return lines
            seg.read_pos = pos
            if pos >= seg.size:
                self._remove(seg)
        return []

    def ack(self) -> None:
        """The events of the last `read` reached the server: forget them (delete a consumed segment)."""
        if self._lease is None:
            return
        seg, pos = self._lease
        self._lease = None
        seg.read_pos = pos
        if pos >= seg.size:
            self._remove(seg)

    def _remove(self, seg: _Segment) -> None:
        seg.discard()
        with contextlib.suppress(ValueError):  # already gone
            self._segments.remove(seg)

    def adopt(self) -> int:
        """Queue the segments of processes that are gone (their lock is free) first; returns how many."""
        if fcntl is None:  # pragma: no cover - Windows
            return 0
        mine = {s.path.name for s in self._segments}
        try:
            paths = sorted(self.folder.glob("*.jsonl"))
        except OSError:
            return 0
        adopted = 0
        for path in paths:
            if path.name in mine:
                continue
            try:
                file = open(path, "r+b")  # noqa: SIM115 - kept open (and locked) while queued
            except OSError:
                continue
            if not _try_lock(file) or os.fstat(file.fileno()).st_nlink == 0:
                file.close()  # alive elsewhere, or drained and unlinked since we listed it
                continue
            seg = _Segment(path, file, adopted=True)
            if seg.size == 0:
                seg.discard()
                continue
            self._segments.insert(adopted, seg)
            adopted += 1
        return adopted

    def after_fork_in_child(self) -> None:
        """The parent's segments stay the parent's: close our copies (its locks survive) and start over."""
        for seg in self._segments:
            with contextlib.suppress(OSError):
                seg.file.close()
        self._segments = deque()
        self._lease = None

    def close(self) -> None:
        """Delete what was consumed; leave the rest on disk, unlocked, for a later process to adopt."""
        for seg in list(self._segments):
            if seg.read_pos >= seg.size:
                self._remove(seg)
            else:
                seg.file.close()
        self._segments = deque()
        self._lease = None
