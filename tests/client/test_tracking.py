"""What `trail.track`, `@trail.job`, `trail.enqueued` and `job.progress` record, on every backend.

Each test tracks jobs through the background writer, flushes, and reads the jobs back from the
database with the same Trail.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

import jobtrail
from jobtrail import Trail


class PaymentDeclined(Exception):
    """A job's own error, to see its type recorded."""


@pytest.fixture
def fast(make_trail: Any, store_url: str) -> Trail:
    return make_trail(store_url)


def _flushed(trail: Trail) -> Trail:
    assert trail.flush(10), "the writer did not deliver within 10s"
    return trail


def test_a_tracked_block_records_started_then_succeeded_with_its_fields(fast: Trail) -> None:
    before = time.time()
    with fast.track(
        "reports.send_email",
        job_id="abc",
        queue="mail",
        batch="req-7",
        resources=["User:42", "Report:7"],
        labels={"workspace": "acme"},
        args={"to": "a@example.com", "retries": 3},
        worker="w-1",
    ) as job:
        assert job.id == "abc"
        assert not job.kill_requested
    after = time.time()

    got = _flushed(fast).get("abc")
    assert got.state == "succeeded"
    assert (got.name, got.queue, got.batch, got.worker) == ("reports.send_email", "mail", "req-7", "w-1")
    assert got.resources == ("Report:7", "User:42")
    assert dict(got.labels) == {"workspace": "acme"}
    assert got.args == {"to": "a@example.com", "retries": 3}
    assert list(got.timestamps) == ["started", "succeeded"]
    assert before <= got.started_at <= got.finished_at <= after  # type: ignore[operator]
    assert got.run == pytest.approx(got.finished_at - got.started_at)  # type: ignore[operator]
    assert got.error is None


def test_secrets_in_args_are_redacted_before_they_are_stored(fast: Trail) -> None:
    args = {"user": 42, "password": "hunter2", "options": {"api_key": "k-123", "depth": 2}}
    with fast.track("login.check", job_id="secret", args=args):
        pass

    stored = _flushed(fast).get("secret").args
    assert stored == {"user": 42, "password": "[redacted]", "options": {"api_key": "[redacted]", "depth": 2}}
    assert "hunter2" not in repr(stored) and "k-123" not in repr(stored)


def test_exception_in_job_is_recorded_as_failed_and_reraised(fast: Trail) -> None:
    def charge() -> None:
        raise PaymentDeclined("card 4242 declined")

    with (
        pytest.raises(PaymentDeclined, match="card 4242 declined"),
        fast.track("billing.charge", job_id="f1"),
    ):
        charge()

    got = _flushed(fast).get("f1")
    assert got.state == "failed"
    assert got.error is not None
    assert got.error["type"] == "PaymentDeclined"
    assert got.error["message"] == "card 4242 declined"
    assert "Traceback" in got.error["traceback"]
    assert "in charge" in got.error["traceback"]
    assert "PaymentDeclined: card 4242 declined" in got.error["traceback"]
    assert list(got.timestamps) == ["started", "failed"]


def test_raising_killed_records_the_job_as_killed(fast: Trail) -> None:
    with pytest.raises(jobtrail.Killed), fast.track("import.book", job_id="k1"):
        raise jobtrail.Killed()

    got = _flushed(fast).get("k1")
    assert got.state == "killed"
    assert "killed" in got.timestamps


def test_an_interrupt_records_the_job_as_killed_and_still_propagates(fast: Trail) -> None:
    with pytest.raises(KeyboardInterrupt), fast.track("import.book", job_id="k2"):
        raise KeyboardInterrupt

    assert _flushed(fast).get("k2").state == "killed"


def test_progress_is_stored_while_the_job_runs_and_kept_when_it_ends(fast: Trail, eventually: Any) -> None:
    with fast.track("import.book", job_id="p1") as job:
        job.progress(done=10, total=100)
        running = _flushed(fast).get("p1")
        assert running.state == "started"
        assert running.progress == {"done": 10, "total": 100}
        job.progress(done=40, failed=2)

    got = _flushed(fast).get("p1")
    assert got.state == "succeeded"
    assert got.progress == {"done": 40, "total": 100, "failed": 2}


def test_enqueued_then_tracked_gives_the_job_a_real_wait(fast: Trail) -> None:
    queued_at = time.time() - 3.0
    job_id = fast.enqueued(
        "reports.send_email", job_id="w1", queue="mail", batch="req-9", resources=["User:1"], at=queued_at
    )
    assert job_id == "w1"
    with fast.track("reports.send_email", job_id="w1"):
        pass
    after = time.time()

    got = _flushed(fast).get("w1")
    assert got.state == "succeeded"
    assert got.queued_at == queued_at
    assert list(got.timestamps) == ["queued", "started", "succeeded"]
    assert 3.0 <= got.wait <= after - queued_at  # type: ignore[operator]
    # what the producer said at enqueue time survives the run
    assert (got.queue, got.batch, got.resources) == ("mail", "req-9", ("User:1",))


def test_enqueued_without_an_id_generates_a_distinct_one_each_time(fast: Trail) -> None:
    ids = {fast.enqueued("reports.send_email") for _ in range(50)}
    assert len(ids) == 50
    assert _flushed(fast).jobs(name="reports.send_email", state="queued").count() == 50


def test_the_job_decorator_tracks_each_call_with_its_arguments_and_resources(fast: Trail) -> None:
    @fast.job("reports.nightly", every="1h", resources=lambda user_id, **_: [f"User:{user_id}"])
    def nightly(user_id: int, *, token: str, limit: int = 10) -> str:
        return f"sent {limit} to {user_id}"

    assert nightly(42, token="s3cret", limit=5) == "sent 5 to 42"
    assert nightly(7, token="other") == "sent 10 to 7"

    jobs = sorted(_flushed(fast).jobs(name="reports.nightly"), key=lambda j: j.resources)
    assert [j.state for j in jobs] == ["succeeded", "succeeded"]
    assert [j.resources for j in jobs] == [("User:42",), ("User:7",)]
    assert jobs[0].args == {"args": [42], "kwargs": {"token": "[redacted]", "limit": 5}}
    [declared] = fast.periodics()
    assert (declared.name, declared.every, declared.state) == ("reports.nightly", 3600.0, "ok")
    assert declared.last_success_at == max(j.finished_at for j in jobs)


def test_the_job_decorator_records_a_failure_and_reraises_it(fast: Trail) -> None:
    @fast.job("billing.charge")
    def charge() -> None:
        raise PaymentDeclined("no funds")

    with pytest.raises(PaymentDeclined):
        charge()

    (got,) = list(_flushed(fast).jobs(name="billing.charge"))
    assert got.state == "failed"
    assert got.error is not None and got.error["type"] == "PaymentDeclined"
    assert got.args is None  # called without arguments


def test_oversize_args_are_capped_so_the_job_is_still_recorded(fast: Trail) -> None:
    # Given args far over the store's 16 KB limit
    with fast.track("bulk", job_id="big", args={"rows": ["x" * 100] * 1000}):
        pass
    # Expect the job recorded in full, its args replaced by a marker with a preview
    job = _flushed(fast).get("big")
    assert job.state == "succeeded"
    assert "_truncated" in job.args and job.args["preview"].startswith('{"rows"')
    assert fast.stats.rejected == 0


def test_args_are_recorded_as_they_were_when_the_job_started(fast: Trail) -> None:
    """A job that changes its own argument objects must not rewrite what was tracked."""
    payload = {"ids": [1, 2, 3]}
    with fast.track("cleanup", job_id="mut", args=payload):
        payload["ids"].clear()
        payload["extra"] = "added while running"  # type: ignore[assignment]

    assert _flushed(fast).get("mut").args == {"ids": [1, 2, 3]}


def test_resources_and_labels_are_recorded_as_they_were_when_the_job_started(fast: Trail) -> None:
    """The writer thread builds the event later: the lists and dicts given must be copies by then."""
    resources, labels = ["Book:1"], {"team": "a"}
    with fast.track("cleanup", job_id="mut-fields", resources=resources, labels=labels):
        resources.append("Book:2")
        labels["team"] = "b"

    got = _flushed(fast).get("mut-fields")
    assert got.resources == ("Book:1",)
    assert dict(got.labels) == {"team": "a"}


def test_an_ended_job_is_no_longer_heartbeated(make_trail: Any, store_url: str) -> None:
    trail = make_trail(store_url, heartbeat_interval=0.05)
    with trail.track("short", job_id="ended"):
        pass
    _flushed(trail)
    time.sleep(0.3)  # several heartbeat rounds

    got = _flushed(trail).get("ended")
    assert got.state == "succeeded"
    assert got.heartbeat_at is None or got.heartbeat_at <= got.finished_at  # type: ignore[operator]
    assert not trail._live


def test_healthy_tracking_counts_every_event_sent_and_nothing_dropped_or_failed(fast: Trail) -> None:
    for i in range(20):
        with fast.track("a", job_id=f"ok-{i}"):
            pass

    assert _flushed(fast).jobs(name="a").counts() == {"succeeded": 20}
    stats = fast.stats
    assert stats.sent == 40  # started + succeeded per job
    assert stats.dropped == stats.rejected == stats.send_errors == stats.record_errors == 0
