"""A kill request made anywhere reaches the running job through the writer's heartbeats."""

from __future__ import annotations

from typing import Any

import pytest

import jobtrail
from jobtrail import NotFound, Trail


def _state(trail: Trail, job_id: str) -> str | None:
    try:
        return trail.get(job_id).state
    except NotFound:
        return None


def test_kill_requested_becomes_true_while_the_job_runs_after_another_trail_asks(
    make_trail: Any, store_url: str, eventually: Any
) -> None:
    # Given a job running under a worker's Trail, known to the store as started
    worker = make_trail(store_url, heartbeat_interval=0.1, flush_interval=0.05)
    operator = make_trail(store_url)
    with pytest.raises(jobtrail.Killed), worker.track("import.book", job_id="victim") as job:
        eventually(lambda: _state(operator, "victim") == "started", what="the start reached the store")
        assert not job.kill_requested
        # When someone else asks to kill it
        assert operator.jobs(name="import.book").request_kill(dry_run=False) == 1
        assert operator.get("victim").state == "kill_requested"
        # Then the running job learns it from the replies to its heartbeats
        eventually(lambda: job.kill_requested, timeout=5, what="job.kill_requested")
        raise jobtrail.Killed()

    assert worker.flush(10)
    got = operator.get("victim")
    assert got.state == "killed"
    assert got.kill_requested_at is not None
    assert list(got.timestamps) == ["started", "kill_requested", "killed"]


def test_a_kill_request_for_one_job_leaves_the_others_running(
    make_trail: Any, store_url: str, eventually: Any
) -> None:
    worker = make_trail(store_url)
    operator = make_trail(store_url)
    with worker.track("a", job_id="spared") as spared, worker.track("b", job_id="doomed") as doomed:
        eventually(lambda: _state(operator, "spared") == _state(operator, "doomed") == "started")
        assert operator.jobs(name="b").request_kill(dry_run=False) == 1
        eventually(lambda: doomed.kill_requested, what="doomed.kill_requested")
        assert not spared.kill_requested

    assert worker.flush(10)
    assert operator.get("spared").kill_requested_at is None
    # a job that finishes anyway keeps the flag: "finished despite kill"
    doomed_job = operator.get("doomed")
    assert doomed_job.state == "succeeded"
    assert doomed_job.kill_requested_at is not None
