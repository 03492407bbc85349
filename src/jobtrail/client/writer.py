"""The background writer between job code and a sink: bounded buffer → batches → one thread.

`put` is all a job's thread ever does: append to a deque, without a lock. It never blocks on I/O
and never raises. An item is an event dict, or a job handle's compact record that the writer
thread turns into one (`JobHandle.event`), so building dicts costs the job nothing. The thread
sends when a batch is full or `interval` has passed since its last send (or on `flush`), not
after every event: fewer, larger requests, and fewer turns at the GIL taken from the job.
When the buffer is full the event is dropped and counted (logged once), because tracking must
never slow the job down. After `fork()` the child starts with an empty buffer and its own thread
(what the parent had buffered is the parent's to send), made on its first use there: a child
that never tracks runs none of this code (see `forks`).
"""

from __future__ import annotations

import atexit
import logging
import random
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jobtrail.forks import process_flag, reinit_lock

__all__ = ["Writer", "WriterStats"]

log = logging.getLogger("jobtrail")
Send = Callable[[list[dict[str, Any]]], Any]
Item = Any  # an event dict, or a JobHandle record: a tuple whose first item has `.event(record)`


@dataclass(slots=True)
class WriterStats:
    """Counters a user can read (`trail.stats`) to see that tracking is healthy."""

    sent: int = 0
    dropped: int = 0
    rejected: int = 0
    send_errors: int = 0
    record_errors: int = 0


class Writer:
    def __init__(
        self,
        send: Send,
        *,
        capacity: int = 100_000,
        batch_size: int = 500,
        interval: float = 0.5,
        on_result: Callable[[Any], None] | None = None,
        tick: Callable[[], None] | None = None,
        exit_timeout: float = 5.0,
        keep: Callable[[list[dict[str, Any]]], int] | None = None,
    ) -> None:
        self._send = send
        self.capacity = capacity
        self.batch_size = batch_size
        self.interval = interval
        self._on_result = on_result
        self._tick = tick
        self.exit_timeout = exit_timeout
        self._keep = keep
        self.stats = WriterStats()
        self._init_state()
        atexit.register(_call, weakref.ref(self), "close")

    def _init_state(self) -> None:
        self._here = process_flag()  # emptied in a forked child: `_forked()` starts over there
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        # Appended to without the lock (deque appends are atomic), so a job's thread never waits
        # for the writer; the writer takes batches under the lock, which flush() also holds.
        self._buffer: deque[Item] = deque()
        self._limit = self.capacity  # 0 once closed: one comparison in `put`
        self._inflight = 0
        self._taken: list[Item] = []  # what the thread took from the buffer and has not handed off
        self._flushing = 0  # flush() calls waiting: the thread sends without waiting its interval
        self._turns = 0  # turns the thread started (each calls `tick` first)
        self._turned = 0  # turns it finished
        self._wanted = 0  # the turn a flush(turn=True) waits for: taken without waiting the interval
        self._thread: threading.Thread | None = None
        self._closed = False
        self._stop = threading.Event()
        self._warned: set[str] = set()

    def _forked(self) -> None:
        """The first use in a forked child: a new buffer, lock and thread (never the parent's)."""
        with reinit_lock():
            if not self._here:
                self._init_state()

    def warn_once(self, key: str, message: str, *args: Any) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(message, *args)

    def put(self, item: Item) -> None:
        if not self._here:
            self._forked()
        buffer = self._buffer
        size = len(buffer)
        if size >= self._limit:
            with self._lock:
                self.stats.dropped += 1
            self.warn_once("dropped", "jobtrail: buffer full or closed; dropping events")
            return
        buffer.append(item)
        if size + 1 == self.batch_size:  # once per batch: wake the writer early
            with self._lock:
                self._wake.notify()
        if self._thread is None:
            self._start()

    def start(self) -> None:
        """Start the background thread if it is not running (it also starts on the first event)."""
        if not self._here:
            self._forked()
        if self._thread is None:
            self._start()

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None or self._closed:
                return
            self._thread = threading.Thread(target=self._run, name="jobtrail-writer", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        delay = self.interval
        last = time.monotonic()
        while True:
            with self._lock:
                # Sleep until a batch is full, the interval since the last turn is up, a flush
                # waits or close() was called; the lock is released while waiting.
                while len(self._buffer) < self.batch_size and not self._closed \
                        and not (self._flushing and self._buffer) and self._wanted <= self._turns:
                    left = last + self.interval - time.monotonic()
                    if left <= 0:
                        break
                    self._wake.wait(left)
                if self._closed and not self._buffer and self._wanted <= self._turns:
                    return
                buffer = self._buffer
                items = [buffer.popleft() for _ in range(min(len(buffer), self.batch_size))]
                self._taken = items
                self._inflight = len(items)
                self._turns += 1
            last = time.monotonic()
            if self._tick is not None:
                try:
                    self._tick()
                except Exception:  # noqa: BLE001 - the writer thread must outlive any sink or callback failure
                    self.stats.record_errors += 1
            batch = self._events(items)
            if not batch:
                self._done_turn()
                continue
            self._taken = batch
            if self._deliver(batch):
                delay = self.interval
            else:
                with self._lock:  # put the batch back in front, then back off
                    self._taken = []
                    room = self.capacity - len(self._buffer)
                    keep = batch[:max(room, 0)]
                    self.stats.dropped += len(batch) - len(keep)
                    self._buffer.extendleft(reversed(keep))
                    closing = self._closed
                if closing:
                    return
                if self._stop.wait(delay * (1 + random.random())):  # close() cuts the back-off short
                    return  # and gave up waiting: no more attempts once closed
                delay = min(delay * 2, 30.0)
            self._done_turn()

    def _done_turn(self) -> None:
        with self._lock:
            self._inflight = 0
            self._taken = []
            self._turned = self._turns
            self._wake.notify_all()

    def _events(self, items: list[Item]) -> list[dict[str, Any]]:
        """Event dicts from buffered items (records are built here, off the job's thread)."""
        out = []
        for item in items:
            if type(item) is dict:
                out.append(item)
                continue
            try:
                event = item[0].event(item)
            except Exception:  # noqa: BLE001 - a record that cannot be built is counted, not sent
                self.stats.record_errors += 1
                continue
            if event is not None:
                out.append(event)
        return out

    def _deliver(self, batch: list[dict[str, Any]]) -> bool:
        try:
            result = self._send(batch)
        except Exception as exc:  # noqa: BLE001 - never let the sink's failure escape
            self.stats.send_errors += 1
            self.warn_once("send", "jobtrail: could not record events (will retry): %s", exc)
            return False
        self.stats.sent += len(batch)
        if self._on_result is not None:
            try:
                self._on_result(result)
            except Exception:  # noqa: BLE001 - the writer thread must outlive any sink or callback failure
                self.stats.record_errors += 1
        return True

    def flush(self, timeout: float = 5.0, turn: bool = False) -> bool:
        """Wait until everything put so far was handed to the sink (and, with `turn`, until a
        whole turn of the thread started after this call, its `tick` included); False on
        timeout. Only the thread does I/O: the caller waits at most `timeout`."""
        if not self._here:
            self._forked()
        deadline = time.monotonic() + timeout
        with self._lock:
            if not self._buffer and not self._inflight and not turn:
                return True
        self._start()
        with self._lock:
            want = self._turns + 1 if turn else 0
            self._wanted = max(self._wanted, want)
            self._flushing += 1
            try:
                while self._buffer or self._inflight or self._turned < want:
                    self._wake.notify_all()
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    self._wake.wait(min(left, 0.05))
            finally:
                self._flushing -= 1
        return True

    def close(self, timeout: float | None = None) -> None:
        """Flush with a bounded wait, including one last turn (whose `tick` sends what waits
        besides events, also when no event does), then stop accepting events."""
        if not self._here:
            self._forked()
        timeout = self.exit_timeout if timeout is None else timeout
        if self._closed:
            return
        deadline = time.monotonic() + timeout
        self.flush(timeout, turn=self._thread is not None)
        with self._lock:
            self._closed = True
            self._limit = 0
            self._stop.set()
            self._wake.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=min(0.5, max(deadline - time.monotonic(), 0.0)))
        self._abandon(thread is not None and thread.is_alive())

    def _abandon(self, stuck: bool) -> None:
        """What is still buffered at close, and the batch a stuck thread holds, goes to `keep`
        (a spill a later process delivers); what that cannot keep is counted dropped and logged."""
        with self._lock:
            items = list(self._buffer)
            self._buffer.clear()
            taken = list(self._taken) if stuck else []
        left = self._events(taken + items)
        if not left:
            return
        kept = 0
        if self._keep is not None:
            try:
                kept = self._keep(left)
            except Exception:  # noqa: BLE001 - closing must not raise either
                kept = 0
        self.lost_at_exit(len(left) - kept, "events")

    def lost_at_exit(self, count: int, what: str) -> None:
        """Count (as dropped) and log what close() leaves unsent."""
        if count <= 0:
            return
        with self._lock:
            self.stats.dropped += count
        self.warn_once("exit-" + what, "jobtrail: %d %s were not recorded within exit_timeout "
                       "(%.1f s) and are lost", count, what, self.exit_timeout)

    @property
    def pending(self) -> int:
        if not self._here:
            self._forked()
        with self._lock:
            return len(self._buffer) + self._inflight


def _call(ref: weakref.ref[Writer], method: str) -> None:
    obj = ref()
    if obj is not None:
        getattr(obj, method)()
