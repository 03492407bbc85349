"""How the background writer batches: it sends when a batch is full, when its interval is up, or
on flush, never once per event (each send is a request and a turn at the GIL taken from the job).

The sink is a plain function that keeps the batches it was given, so each test can see exactly
what was sent and when.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from jobtrail.client.writer import Writer


class Batches:
    """A sink that keeps every batch it receives."""

    def __init__(self) -> None:
        self.got: list[list[dict[str, Any]]] = []
        self.arrived = threading.Event()

    def __call__(self, batch: list[dict[str, Any]]) -> None:
        self.got.append(list(batch))
        self.arrived.set()


def _event(n: int) -> dict[str, Any]:
    return {"job_id": f"j{n}", "type": "heartbeat", "at": time.time(), "attempt": 1}


def test_events_wait_for_the_interval_and_then_go_as_one_batch() -> None:
    sink = Batches()
    writer = Writer(sink, batch_size=100, interval=0.4)
    try:
        for n in range(5):
            writer.put(_event(n))
            time.sleep(0.01)

        assert not sink.got, "sent before its interval was up"
        assert sink.arrived.wait(5)
        assert [[e["job_id"] for e in batch] for batch in sink.got] == [[f"j{n}" for n in range(5)]]
    finally:
        writer.close(1)


def test_a_full_batch_is_sent_without_waiting_for_the_interval() -> None:
    sink = Batches()
    writer = Writer(sink, batch_size=10, interval=3600)
    try:
        for n in range(10):
            writer.put(_event(n))

        assert sink.arrived.wait(5)
        assert len(sink.got[0]) == 10
    finally:
        writer.close(1)


def test_flush_sends_at_once_without_waiting_for_the_interval() -> None:
    sink = Batches()
    writer = Writer(sink, batch_size=100, interval=3600)
    try:
        writer.put(_event(1))
        started = time.monotonic()

        assert writer.flush(5)
        assert time.monotonic() - started < 2
        assert [e["job_id"] for e in sink.got[0]] == ["j1"]
    finally:
        writer.close(1)


class Unbuildable:
    """A record whose owner cannot build its event."""

    def event(self, record: Any) -> dict[str, Any]:
        raise ValueError("cannot build")


def test_a_record_that_cannot_be_built_is_counted_and_the_rest_are_sent() -> None:
    sink = Batches()
    writer = Writer(sink, batch_size=100, interval=3600)
    try:
        writer.put((Unbuildable(), "started", time.time(), None))
        writer.put(_event(2))

        assert writer.flush(5)
        assert [[e["job_id"] for e in batch] for batch in sink.got] == [["j2"]]
        assert writer.stats.record_errors == 1
        assert writer.stats.sent == 1
    finally:
        writer.close(1)


def test_what_close_cannot_hand_over_in_time_is_counted_dropped_and_logged(
        caplog: pytest.LogCaptureFixture) -> None:
    # Given a sink that hangs on the first batch, with more events buffered behind it
    release = threading.Event()
    taken = threading.Event()

    def hangs(batch: list[dict[str, Any]]) -> None:
        taken.set()
        release.wait(10)

    writer = Writer(hangs, batch_size=2, interval=0.01, exit_timeout=0.3)
    for n in range(5):
        writer.put(_event(n))
    assert taken.wait(5)
    # When the writer closes (no `keep` to hand them to)
    with caplog.at_level("WARNING", logger="jobtrail"):
        writer.close()
    release.set()
    # Expect the batch in flight and the rest counted, in one warning
    assert writer.stats.dropped == 5
    assert [r.getMessage() for r in caplog.records if "exit_timeout" in r.getMessage()] == [
        "jobtrail: 5 events were not recorded within exit_timeout (0.3 s) and are lost"]
