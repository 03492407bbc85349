"""Writers to one SQLite file queue for its write lock (`jobtrail.store.sql.turns`)."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from jobtrail.store.sql.turns import Turns

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")


def _take_turn(path: str, ready: object, took: object) -> None:
    """Runs in another process: ask for a turn, then report when it came."""
    turns = Turns(path)
    ready.set()  # type: ignore[attr-defined]
    with turns.turn():
        took.value = time.time()  # type: ignore[attr-defined]


def _waits_while_held(turns: Turns, other: Any, took: Any, ready: Any) -> tuple[Any, float]:
    """Hold the turn, start `other` (which asks for it), check that it waits; return the process
    and the moment the turn was released."""
    with turns.turn():
        other.start()
        assert ready.wait(30)
        time.sleep(0.3)
        assert took.value == 0.0  # still waiting while the turn is held
        released = time.time()
    other.join(30)
    return other, released


def test_another_process_waits_for_the_turn_until_the_holder_is_done(tmp_path: Path) -> None:
    # Given a process holding the turn for the database file
    path = str(tmp_path / "jt.db")
    ctx = multiprocessing.get_context("spawn")
    ready, took = ctx.Event(), ctx.Value("d", 0.0)
    # When another process asks for it, Expect it to wait while the turn is held
    other, released = _waits_while_held(
        Turns(path), ctx.Process(target=_take_turn, args=(path, ready, took)), took, ready)
    # And its turn to come once the holder is done
    assert other.exitcode == 0
    assert took.value >= released


def test_a_forked_child_queues_on_its_own_even_if_forked_during_a_turn(tmp_path: Path) -> None:
    # Given a parent that forks while it holds the turn (its thread lock held too)
    turns = Turns(str(tmp_path / "jt.db"))
    ctx = multiprocessing.get_context("fork")
    ready, took = ctx.Event(), ctx.Value("d", 0.0)

    def child() -> None:
        ready.set()
        with turns.turn():  # the same Turns object, inherited
            took.value = time.time()

    # When the child asks for the turn, Expect it to wait for the file, not the copied lock
    proc, released = _waits_while_held(turns, ctx.Process(target=child), took, ready)
    # And to get its turn after the parent's, not to hang
    assert proc.exitcode == 0
    assert took.value >= released


def test_threads_take_turns_one_at_a_time(tmp_path: Path) -> None:
    turns = Turns(str(tmp_path / "jt.db"))
    inside, most = [0], [0]
    guard = threading.Lock()

    def write() -> None:
        for _ in range(200):
            with turns.turn():
                with guard:
                    inside[0] += 1
                    most[0] = max(most[0], inside[0])
                time.sleep(0)
                with guard:
                    inside[0] -= 1

    threads = [threading.Thread(target=write) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert most[0] == 1


def test_without_a_file_to_lock_threads_still_queue_and_nothing_fails(tmp_path: Path) -> None:
    # Given a database path whose folder does not exist (so no lock file can be made)
    turns = Turns(str(tmp_path / "missing" / "jt.db"))
    # When a writer takes its turn, Expect it to get it
    with turns.turn():
        entered = True
    assert entered
    assert not (tmp_path / "missing").exists()
