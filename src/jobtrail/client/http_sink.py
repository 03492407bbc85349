"""`HttpSink`: how the background writer delivers batches to a jobtrail server.

Retrying lives here, not in the writer. `send` never raises: when a POST fails in a way that may
pass (no connection, a timeout, 408, 429, 5xx) the batch goes to the on-disk spill and the next
attempt waits an exponential, jittered backoff. While anything is spilled, new batches queue behind
it on disk, so the writer keeps emptying its memory buffer, nothing is reordered, and the spill is
replayed oldest first (in bounded slices, so new events keep flowing) once the server answers. A
4xx that retrying cannot fix is counted as rejected and logged once. Every event carries an
`event_id`, added here on the writer thread, so a replay of an event the server already took is a
no-op. After `fork()` the child opens its own connection and spill files, on its first use there.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobtrail.client.connection import NoAnswer, Reply, ServerConnection
from jobtrail.client.ids import new_job_id
from jobtrail.client.remote import (
    MAX_REQUEST_BYTES,
    MAX_REQUEST_EVENTS,
    chunks,
    encode_event,
    events_body,
    ingest_result,
    request_headers,
)
from jobtrail.client.spill import Spill
from jobtrail.client.writer import WriterStats
from jobtrail.forks import process_flag, reinit_lock
from jobtrail.ingest import IngestResult

__all__ = ["BACKOFF_MAX", "SPILL_MAX_BYTES", "HttpSink", "RemoteStats", "default_spill_dir"]

log = logging.getLogger("jobtrail")

BACKOFF_START = 0.5  # seconds before the first retry; doubles per failure
BACKOFF_MAX = 30.0  # seconds: the longest wait between attempts
SPILL_MAX_BYTES = 256 * 1024 * 1024
REPLAY_BUDGET = 0.25  # seconds of replay per writer turn, so the memory buffer keeps draining
REPLAY_EVENTS = 2_000  # events per replayed request: short requests, well inside the read timeout
ADOPT_EVERY = 60.0  # seconds between looks for spill files left by processes that are gone


@dataclass(slots=True)
class RemoteStats(WriterStats):
    """`trail.stats` for a server URL. `sent`: events the server acknowledged; `spilled`: events
    written to the spill file (they count as sent once replayed); `send_errors`: failed attempts."""

    spilled: int = 0


def default_spill_dir(url: str) -> Path:
    """One folder per server under the user cache dir: a spill is only ever replayed to its server."""
    from platformdirs import user_cache_dir

    key = hashlib.sha256(url.rstrip("/").encode()).hexdigest()[:16]
    return Path(user_cache_dir("jobtrail", appauthor=False)) / "spill" / key


class HttpSink:
    """Sends batches to POST /api/v1/events from the writer thread; see the module docstring."""

    def __init__(
        self,
        url: str,
        token: str | None,
        *,
        spill_dir: Path | None = None,
        spill_max_bytes: int = SPILL_MAX_BYTES,
        backoff_max: float = BACKOFF_MAX,
        on_result: Callable[[IngestResult], None] | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.backoff_max = backoff_max
        self.on_result = on_result
        self.spill = Spill(spill_dir or default_spill_dir(self.url), spill_max_bytes)
        self.sent = self.rejected = self.dropped = self.send_errors = self.spilled = 0
        self._warned: set[str] = set()
        self._init_state()

    def _init_state(self) -> None:
        self._here = process_flag()  # emptied in a forked child: `_forked()` starts over there
        self._lock = threading.RLock()
        self._client: ServerConnection | None = None
        self._delay = 0.0  # the current backoff; 0 while the server answers
        self._next_try = 0.0  # monotonic time before which no request is made
        self._next_adopt = 0.0
        self._kept = False  # `keep` took over at exit: whatever this thread would spill is there
        self._closed = False

    def _forked(self) -> None:
        """The first use in a forked child: the parent's segments, socket and lock stay the
        parent's (our copies of its segment files are closed; its locks survive)."""
        with reinit_lock():
            if not self._here:
                self.spill.after_fork_in_child()
                self._init_state()

    def _warn(self, key: str, message: str, *args: Any) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(message, *args)

    def stats(self, writer: WriterStats) -> RemoteStats:
        """The writer's counters joined with the sink's and the spill's."""
        return RemoteStats(
            sent=self.sent,
            dropped=writer.dropped + self.dropped + self.spill.dropped,
            rejected=writer.rejected + self.rejected,
            send_errors=writer.send_errors + self.send_errors,
            record_errors=writer.record_errors,
            spilled=self.spilled,
        )

    @property
    def backlog(self) -> bool:
        """True while spilled events wait for the server."""
        if not self._here:
            self._forked()
        return not self.spill.empty

    # ---- the writer thread ---------------------------------------------------------------------

    def send(self, events: list[dict[str, Any]]) -> IngestResult:
        """Deliver or spill a batch; never raises. The result holds the control replies, if any."""
        if not self._here:
            self._forked()
        _with_ids(events)
        with self._lock:
            try:
                return self._send(events)
            finally:
                if self._closed:  # close() came while this request hung: let go of the files now
                    self._release()

    def _send(self, events: list[dict[str, Any]]) -> IngestResult:
        if self.backlog or time.monotonic() < self._next_try:
            self._to_spill(self._encode(events))  # behind what waits there; `tick` replays it
            return IngestResult(accepted=0)
        body = self._one_body(events)
        if body is not None:  # the usual batch: one json.dumps, one POST
            response = self._request(body)
            if response is None:
                self._to_spill(self._encode(events))
                return IngestResult(accepted=0)
            if response.status != 413:
                return self._result(response, len(events))
        lines = self._encode(events)
        accepted, control = 0, {}
        for offset, part in chunks(lines):
            result = self._post(part)
            if result is None:
                self._to_spill(lines[offset:])
                break
            accepted += result.accepted
            control.update(result.control)
        return IngestResult(accepted=accepted, control=control)

    @staticmethod
    def _one_body(events: list[dict[str, Any]]) -> bytes | None:
        """The whole batch as one request body, or None when it is over a request's limits or
        holds an event that cannot be encoded (then each event is encoded on its own)."""
        if len(events) > MAX_REQUEST_EVENTS:
            return None
        try:
            body = encode_event({"events": events})
        except (TypeError, ValueError, RecursionError):
            return None
        return body if len(body) <= MAX_REQUEST_BYTES else None

    def tick(self) -> None:
        """Called every writer turn: adopt orphaned spill files now and then, replay when due."""
        if not self._here:
            self._forked()
        with self._lock:
            now = time.monotonic()
            if now >= self._next_adopt:
                self._next_adopt = now + ADOPT_EVERY
                with contextlib.suppress(OSError):
                    self.spill.adopt()
            self._replay(REPLAY_BUDGET)

    def _encode(self, events: list[dict[str, Any]]) -> list[bytes]:
        lines = []
        for event in events:
            try:
                lines.append(encode_event(event))
            except (TypeError, ValueError, RecursionError) as exc:
                self.dropped += 1
                self._warn("encode", "jobtrail: dropped an event that cannot be encoded: %s", exc)
        return lines

    def _to_spill(self, lines: Sequence[bytes]) -> None:
        if not lines or self._kept:
            return
        if self.spill.append(lines):
            self.spilled += len(lines)
            self._warn("spill", "jobtrail: spilling events to %s until %s answers",
                       self.spill.folder, self.url)
        else:
            self._warn("spill-full", "jobtrail: the spill at %s is full or unwritable; dropping events",
                       self.spill.folder)

    def _replay(self, budget: float) -> None:
        """Send spilled events oldest first, for up to `budget` seconds, while the server takes them."""
        deadline = time.monotonic() + budget
        while self.backlog:
            now = time.monotonic()
            if now >= deadline or now < self._next_try:
                return
            lines = self.spill.read(REPLAY_EVENTS, MAX_REQUEST_BYTES)
            if not lines:
                return
            result = self._post(lines)
            if result is None:
                return
            self.spill.ack()
            if self.on_result is not None and result.control:
                with contextlib.suppress(Exception):  # a callback must not stop the replay
                    self.on_result(result)

    def _http(self) -> ServerConnection:
        if self._client is None:
            self._client = ServerConnection(self.url, request_headers(self.token))
        return self._client

    def _post(self, lines: Sequence[bytes]) -> IngestResult | None:
        """One POST. None when it should be retried later (the backoff is then scheduled)."""
        response = self._request(events_body(lines))
        if response is None:
            return None
        if response.status == 413 and len(lines) > 1:  # the server's limits are lower: halve
            return self._post_halves(lines)
        return self._result(response, len(lines))

    def _request(self, body: bytes) -> Reply | None:
        """POST a body of events. None when it should be retried later (backoff scheduled)."""
        try:
            response = self._http().request("POST", "/api/v1/events", body)
        except (NoAnswer, ValueError) as exc:  # ValueError: a proxy setting it cannot use
            self._failed(str(exc))
            return None
        status = response.status
        if status in (408, 429) or status >= 500:
            self._failed(f"HTTP {status}", response.retry_after)
            return None
        self._answered()
        return response

    def _result(self, response: Reply, count: int) -> IngestResult:
        """What the server's answer to `count` events says (a refusal is counted and logged)."""
        status = response.status
        if not response.is_success:
            self.rejected += count
            hint = " (the token needs the ingest scope)" if status in (401, 403) else ""
            self._warn(f"http-{status}", "jobtrail: %s refused %d events with HTTP %d%s: %s",
                       self.url, count, status, hint, response.text[:200])
            return IngestResult(accepted=0)
        try:
            result = ingest_result(response.json())
        except (ValueError, KeyError, TypeError, AttributeError):
            result = IngestResult(accepted=count)  # acknowledged, just not readable
        self.sent += result.accepted
        if result.rejected:
            self.rejected += len(result.rejected)
            self._warn("rejected", "jobtrail: the server rejected an event: %s", result.rejected[0].error)
        return result

    def _post_halves(self, lines: Sequence[bytes]) -> IngestResult | None:
        mid = len(lines) // 2
        first = self._post(lines[:mid])
        second = self._post(lines[mid:]) if first is not None else None
        if first is None or second is None:
            return None  # all of it is retried; the half that arrived is a harmless replay
        return IngestResult(accepted=first.accepted + second.accepted,
                            control={**first.control, **second.control})

    def _failed(self, reason: str, retry_after: str | None = None) -> None:
        self.send_errors += 1
        self._delay = BACKOFF_START if self._delay == 0 else min(self._delay * 2, self.backoff_max)
        wait = self._delay * (0.5 + random.random() / 2)
        if retry_after is not None and retry_after.isdigit():
            wait = max(wait, min(float(retry_after), self.backoff_max))
        self._next_try = time.monotonic() + wait
        self._warn("send", "jobtrail: cannot deliver events to %s (%s); will retry", self.url, reason)

    def _answered(self) -> None:
        if self._delay:
            log.info("jobtrail: %s answers again", self.url)
        self._delay = 0.0
        self._next_try = 0.0

    # ---- other threads -------------------------------------------------------------------------

    def keep(self, events: list[dict[str, Any]]) -> int:
        """At exit, events the writer could not hand over in time (the thread may be stuck in a
        request, holding the lock): a segment of their own, left for a later process to replay.
        Their `event_id`s are the ones already sent, if any, so that replay counts nothing twice.
        Returns how many were kept."""
        if not self._here:
            self._forked()
        _with_ids(events)
        self._kept = True
        lines = self._encode(events)
        aside = Spill(self.spill.folder, self.spill.max_bytes)
        try:
            kept = len(lines) if aside.append(lines) else 0
        finally:
            aside.close()
        self.spilled += kept
        if kept:
            self._warn("spill-exit", "jobtrail: %d events not yet delivered to %s are kept in %s "
                       "for the next process", kept, self.url, self.spill.folder)
        return kept

    def drain(self, timeout: float) -> bool:
        """Replay the spill now, retrying about every half second, until it is empty or `timeout`
        passes (then False). Used by `Trail.flush`; waits for the writer thread's turn."""
        if not self._here:
            self._forked()
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if not self._lock.acquire(timeout=max(left, 0)):
                return not self.backlog
            try:
                self._next_try = min(self._next_try, time.monotonic())
                self._replay(max(left, 0))
            finally:
                self._lock.release()
            if not self.backlog:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(0.5, left))

    def close(self, timeout: float = 0.0) -> None:
        """Replay what the budget allows (only if the server was answering), then let go of the
        connection and the spill files; what is left there is adopted by a later process."""
        if not self._here:
            self._forked()
        self._closed = True
        if not self._lock.acquire(timeout=max(timeout, 0.01)):
            return  # the writer thread is in a request: it lets go of the files when that ends
        try:
            if timeout > 0 and self._delay == 0 and not self._kept:
                self._replay(timeout)
            self._release()
        finally:
            self._lock.release()

    def _release(self) -> None:
        self.spill.close()
        if self._client is not None:
            self._client.close()
            self._client = None


def _with_ids(events: list[dict[str, Any]]) -> None:
    """Give each event without one an `event_id` (in place, so a resend carries the same id)."""
    for event in events:
        if "event_id" not in event:
            event["event_id"] = new_job_id()  # unique, without uuid4's system call
