"""The store conformance suite, part 1: what ingest stores and what `get` returns, on every backend.

Every test runs once per backend (`store_url` in tests/conftest.py). Queries and bulk operations are
in `test_conformance_queries.py`, retention in `test_conformance_retention.py`, and the order-free
property in `test_order_free.py`.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from jobtrail import NotFound
from jobtrail.events import MAX_ARGS_BYTES

T0 = 1_700_000_000.0


def at(seconds: float) -> float:
    return T0 + seconds


# ---- ingest, then get ------------------------------------------------------------------------


def test_ingest_then_get_returns_every_timestamp(trail: Any, add: Any) -> None:
    # Given a job that went through every stage, each event carrying its own time
    add(
        {"type": "scheduled", "at": at(0), "name": "reports.send", "queue": "mail", "batch": "req-7",
         "resources": ["User:42"], "labels": {"tenant": "acme"}, "args": {"to": "ann"}},
        {"type": "queued", "at": at(10)},
        {"type": "started", "at": at(15), "worker": "w-1"},
        {"type": "heartbeat", "at": at(30)},
        {"type": "progress", "at": at(40), "progress": {"done": 5, "total": 10}},
        {"type": "kill_requested", "at": at(45)},
        {"type": "succeeded", "at": at(75), "result": {"sent": 1}},
        job_id="abc",
    )
    # When it is read back
    job = trail.get("abc")
    # Expect every transition with its time, and every field
    assert job.timestamps == {
        "scheduled": at(0), "queued": at(10), "started": at(15), "kill_requested": at(45),
        "succeeded": at(75),
    }
    assert (job.created_at, job.updated_at, job.heartbeat_at) == (at(0), at(75), at(40))
    assert (job.state, job.wait, job.run, job.attempt) == ("succeeded", 5.0, 60.0, 1)
    assert (job.name, job.queue, job.batch, job.worker) == ("reports.send", "mail", "req-7", "w-1")
    assert job.resources == ("User:42",)
    assert job.labels == {"tenant": "acme"}
    assert job.args == {"to": "ann"}
    assert job.result == {"sent": 1}
    assert job.progress == {"done": 5, "total": 10}


def test_rfc3339_times_are_stored_as_the_same_instant(trail: Any, add: Any) -> None:
    add({"type": "queued", "at": "2023-11-14T22:13:20Z"}, job_id="a")
    assert trail.get("a").queued_at == T0


def test_an_unknown_id_is_not_found_rather_than_waiting(trail: Any, add: Any) -> None:
    add({"type": "queued", "at": at(0)}, job_id="known")
    assert trail.store.get("unknown") is None
    with pytest.raises(NotFound):
        trail.get("unknown")
    assert trail.get("known").state == "queued"


def test_a_job_is_known_from_the_moment_it_is_queued(trail: Any, add: Any) -> None:
    add({"type": "queued", "at": at(0), "name": "ImportBook"}, job_id="a")
    job = trail.get("a")
    assert (job.state, job.queued_at, job.started_at, job.wait) == ("queued", at(0), None, None)


def test_the_stored_record_is_the_pure_merge_of_its_events(trail: Any, add: Any) -> None:
    from jobtrail.events import normalize
    from jobtrail.states import merge

    events = [
        {"job_id": "a", "type": "queued", "at": at(0), "name": "n", "labels": {"k": "v"}},
        {"job_id": "a", "type": "started", "at": at(3), "worker": "w1", "attempt": 1},
        {"job_id": "a", "type": "retrying", "at": at(5), "error": {"type": "E"}, "attempt": 1},
        {"job_id": "a", "type": "started", "at": at(9), "attempt": 2, "resources": ["Book:1"]},
    ]
    add(*events)
    expected = None
    for event in events:
        expected = merge(expected, normalize(event, time.time()))
    assert trail.store.get("a") == expected


@pytest.mark.parametrize("value", [[], {}, 0, "", False])
def test_empty_args_and_results_are_kept_as_given(trail: Any, add: Any, value: Any) -> None:
    # Given events whose args, result and progress are empty but present
    add({"type": "succeeded", "at": at(0), "args": value, "result": value}, job_id="a")
    add({"type": "progress", "at": at(1), "progress": {}}, job_id="b")
    # Expect them back as given, not as "absent"
    job = trail.get("a")
    assert (job.args, job.result) == (value, value)
    assert trail.get("b").progress == {}


@pytest.mark.parametrize("worker", ["w", "s", "f", "q", "x"])
def test_any_worker_name_is_stored_as_given(trail: Any, add: Any, worker: str) -> None:
    # Given a job started on a worker whose name is one letter, while a later event names another
    add({"type": "started", "at": at(0), "worker": worker},
        {"type": "heartbeat", "at": at(5), "worker": "other"}, job_id="a")
    # Expect the attempt to keep the worker that started it
    job = trail.get("a")
    assert job.attempts[0].worker == worker
    assert job.worker == "other"


# ---- state transitions -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kinds", "state"),
    [
        (["scheduled"], "scheduled"),
        (["scheduled", "queued"], "queued"),
        (["queued", "started"], "started"),
        (["queued", "started", "succeeded"], "succeeded"),
        (["queued", "started", "failed"], "failed"),
        (["queued", "started", "killed"], "killed"),
        (["queued", "cancelled"], "cancelled"),
        (["queued", "started", "retrying"], "retrying"),
        (["queued", "started", "lost"], "lost"),
        (["queued", "kill_requested"], "kill_requested"),
    ],
)
def test_each_event_moves_the_job_to_its_state(trail: Any, add: Any, kinds: list[str],
                                               state: str) -> None:
    add(*({"type": k, "at": at(i)} for i, k in enumerate(kinds)), job_id="a")
    job = trail.get("a")
    assert job.state == state
    assert job.timestamps[state] == at(len(kinds) - 1)


def test_events_arriving_in_reverse_give_the_same_job(trail: Any, add: Any) -> None:
    events = [{"type": "queued", "at": at(0), "name": "n"}, {"type": "started", "at": at(2)},
              {"type": "progress", "at": at(3), "progress": {"done": 1}},
              {"type": "failed", "at": at(4), "error": "boom"}]
    add(*events, job_id="forward")
    for event in reversed(events):
        add(event, job_id="backward")
    forward, backward = trail.get("forward"), trail.get("backward")
    assert forward.as_dict() | {"id": None} == backward.as_dict() | {"id": None}
    assert backward.state == "failed"
    assert backward.error == {"message": "boom"}


def test_late_heartbeat_does_not_reopen_a_succeeded_job(trail: Any, add: Any) -> None:
    add({"type": "started", "at": at(0)}, {"type": "succeeded", "at": at(10)}, job_id="a")
    add({"type": "heartbeat", "at": at(20)}, job_id="a")
    job = trail.get("a")
    assert (job.state, job.finished_at) == ("succeeded", at(10))


@pytest.mark.parametrize("end", ["succeeded", "failed", "killed", "cancelled"])
def test_terminal_states_are_final_within_an_attempt(trail: Any, add: Any, end: str) -> None:
    # Given an attempt that ended
    add({"type": "started", "at": at(0)}, {"type": end, "at": at(10)}, job_id="a")
    # When later events of the same attempt arrive: another end, a restart, progress
    others = [k for k in ("succeeded", "failed", "killed", "cancelled", "retrying") if k != end]
    add(*({"type": k, "at": at(20 + i)} for i, k in enumerate(others)),
        {"type": "started", "at": at(30)}, {"type": "progress", "at": at(31), "progress": {"done": 1}},
        job_id="a")
    # Expect the first end to stand
    job = trail.get("a")
    assert (job.state, job.finished_at) == (end, at(10))


def test_an_earlier_end_arriving_late_replaces_the_later_one(trail: Any, add: Any) -> None:
    add({"type": "started", "at": at(0)}, {"type": "failed", "at": at(20)}, job_id="a")
    add({"type": "succeeded", "at": at(10)}, job_id="a")
    job = trail.get("a")
    assert (job.state, job.finished_at, job.run) == ("succeeded", at(10), 10.0)


def test_lost_marker_is_overridden_by_a_later_heartbeat(trail: Any, add: Any) -> None:
    add({"type": "started", "at": at(0)}, {"type": "lost", "at": at(100)}, job_id="a")
    assert trail.get("a").state == "lost"
    assert trail.get("a").timestamps["lost"] == at(100)
    add({"type": "heartbeat", "at": at(150)}, job_id="a")
    job = trail.get("a")
    assert job.state == "started"
    assert "lost" not in job.timestamps


def test_lost_marker_is_overridden_by_a_terminal_event(trail: Any, add: Any) -> None:
    add({"type": "started", "at": at(0)}, {"type": "lost", "at": at(100)}, job_id="a")
    add({"type": "succeeded", "at": at(60)}, job_id="a")
    assert trail.get("a").state == "succeeded"


def test_lost_marker_older_than_the_last_heartbeat_changes_nothing(trail: Any, add: Any) -> None:
    add({"type": "started", "at": at(0)}, {"type": "heartbeat", "at": at(200)}, job_id="a")
    add({"type": "lost", "at": at(100)}, job_id="a")
    assert trail.get("a").state == "started"


# ---- retries -----------------------------------------------------------------------------------


def test_retries_keep_each_attempt_with_its_own_history(trail: Any, add: Any) -> None:
    # Given a job that failed twice, then succeeded on its third attempt
    add(
        {"type": "queued", "at": at(0), "attempt": 1},
        {"type": "started", "at": at(2), "attempt": 1, "worker": "w1"},
        {"type": "retrying", "at": at(12), "attempt": 1, "error": {"type": "Timeout"}},
        {"type": "queued", "at": at(20), "attempt": 2},
        {"type": "started", "at": at(25), "attempt": 2, "worker": "w2"},
        {"type": "retrying", "at": at(30), "attempt": 2, "error": {"type": "Refused"}},
        {"type": "started", "at": at(40), "attempt": 3, "worker": "w1"},
        {"type": "succeeded", "at": at(70), "attempt": 3},
        job_id="a",
    )
    job = trail.get("a")
    # Expect the attempt number, and per attempt: queued, started, end, worker, error, run
    assert (job.attempt, job.state) == (3, "succeeded")
    assert [(a.number, a.queued_at, a.started_at, a.ended_at, a.end, a.worker, a.run)
            for a in job.attempts] == [
        (1, at(0), at(2), at(12), "retrying", "w1", 10.0),
        (2, at(20), at(25), at(30), "retrying", "w2", 5.0),
        (3, at(30), at(40), at(70), "succeeded", "w1", 30.0),
    ]
    assert [a.error for a in job.attempts] == [{"type": "Timeout"}, {"type": "Refused"}, None]
    # Expect wait and run of the last attempt: ready when attempt 2 ended, run to success
    assert (job.wait, job.run) == (10.0, 30.0)
    assert job.queued_at == at(0)
    assert (job.started_at, job.finished_at) == (at(40), at(70))


def test_a_job_waiting_for_its_next_attempt_is_retrying(trail: Any, add: Any) -> None:
    add({"type": "started", "at": at(0), "attempt": 1},
        {"type": "retrying", "at": at(5), "attempt": 1, "error": "boom"}, job_id="a")
    job = trail.get("a")
    assert (job.state, job.attempt, job.finished_at) == ("retrying", 1, None)
    assert job.error == {"message": "boom"}


# ---- idempotency ------------------------------------------------------------------------------


def test_ingesting_the_same_batch_twice_changes_nothing(trail: Any, add: Any, snapshot: Any) -> None:
    # Given a batch of events for several jobs, ingested once
    batch = [
        {"event_id": f"e{i}", "job_id": f"j{i % 3}", "type": kind, "at": at(i), "name": "n"}
        for i, kind in enumerate(["queued", "queued", "queued", "started", "started", "succeeded",
                                  "failed", "progress"])
    ]
    first = trail.ingest(batch)
    records = {j: trail.store.get(j) for j in ("j0", "j1", "j2")}
    rollups = snapshot(trail.store)
    # When the very same batch arrives again (a client retry)
    again = trail.ingest(batch)
    # Expect it accepted, and the same records and roll-up counts
    assert first.accepted == again.accepted == len(batch)
    assert {j: trail.store.get(j) for j in records} == records
    assert snapshot(trail.store) == rollups
    assert trail.jobs().count() == 3


def test_a_duplicate_inside_one_batch_counts_once(trail: Any, add: Any, snapshot: Any) -> None:
    add({"type": "queued", "at": at(0)}, {"type": "started", "at": at(1)},
        {"type": "succeeded", "at": at(5)}, job_id="once")
    add({"type": "queued", "at": at(0)}, {"type": "started", "at": at(1)},
        {"type": "succeeded", "at": at(5)}, {"type": "succeeded", "at": at(5)},
        {"type": "started", "at": at(1)}, job_id="twice")
    assert trail.get("once").as_dict() | {"id": ""} == trail.get("twice").as_dict() | {"id": ""}
    counts = snapshot(trail.store)["counts/3600"]
    assert sum(n for (_, _, _, metric), n in counts.items() if metric == "entered:succeeded") == 2
    assert snapshot(trail.store)["run"][1] == 2


# ---- invalid events ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"type": "queued", "at": at(0), "colour": "red"}, "unknown field: colour"),
        ({"type": "queued", "at": "yesterday"}, "at: 'yesterday' is not RFC 3339"),
        ({"type": "queued", "at": at(0), "name": 7}, "name: must be a string, got int"),
        ({"type": "queued", "at": time.time() + 3600}, "in the future"),
        ({"type": "queued", "at": T0 * 1000}, "looks like milliseconds"),
        ({"type": "queued", "at": at(0), "args": {"blob": "x" * MAX_ARGS_BYTES}},
         "bytes of JSON; the limit is 16384"),
        ({"type": "queued", "at": at(0), "resources": ["Book 42"]}, "is not a 'Type:id' string"),
        ({"type": "started", "at": at(0), "error": "boom"}, "error: only failed, retrying and killed"),
        ({"type": "exploded", "at": at(0)}, "type: 'exploded' is not one of"),
    ],
)
def test_an_invalid_event_is_rejected_with_its_index_while_the_rest_are_stored(
    trail: Any, bad: dict[str, Any], reason: str
) -> None:
    # Given a batch with one bad event between good ones
    result = trail.ingest([
        {"job_id": "good-1", "type": "queued", "at": at(0)},
        {"job_id": "bad"} | bad,
        {"job_id": "good-2", "type": "queued", "at": at(1)},
    ])
    # Expect the bad one rejected by index with its reason, and the others stored
    assert result.accepted == 2
    assert [r.index for r in result.rejected] == [1]
    assert reason in result.rejected[0].error
    assert result.as_dict()["rejected"] == [{"index": 1, "error": result.rejected[0].error}]
    assert trail.get("good-1").state == trail.get("good-2").state == "queued"
    assert trail.store.get("bad") is None


def test_a_batch_of_only_invalid_events_stores_nothing(trail: Any) -> None:
    result = trail.ingest(["not an event", {"job_id": "a", "type": "queued"}])
    assert result.accepted == 0
    assert [r.index for r in result.rejected] == [0, 1]
    assert trail.jobs().count() == 0


# ---- redaction ---------------------------------------------------------------------------------


def test_secrets_in_args_are_redacted_before_they_are_stored(trail: Any, add: Any) -> None:
    add({"type": "queued", "at": at(0), "args": {
        "user": "ann", "password": "hunter2", "token": "t", "api_key": "k",
        "headers": {"Authorization": "Bearer x", "Accept": "json"},
        "accounts": [{"name": "a", "api_key": "k2"}],
    }}, job_id="a")
    args = trail.get("a").args
    assert args == {
        "user": "ann", "password": "[redacted]", "token": "[redacted]", "api_key": "[redacted]",
        "headers": {"Authorization": "[redacted]", "Accept": "json"},
        "accounts": [{"name": "a", "api_key": "[redacted]"}],
    }
    assert "hunter2" not in str(trail.store.get("a"))


# ---- kill requests reach the sender ------------------------------------------------------------


def test_ingest_tells_the_sender_which_of_its_jobs_should_be_killed(trail: Any, add: Any) -> None:
    add({"type": "started", "at": at(0)}, {"type": "kill_requested", "at": at(1)}, job_id="doomed")
    add({"type": "started", "at": at(0)}, job_id="fine")
    add({"type": "started", "at": at(0)}, {"type": "kill_requested", "at": at(1)},
        {"type": "succeeded", "at": at(2)}, job_id="done")
    result = trail.ingest([{"job_id": j, "type": "heartbeat", "at": at(3)}
                           for j in ("doomed", "fine", "done")])
    assert result.control == {"doomed": {"kill_requested": True}}


# ---- the database is the truth -----------------------------------------------------------------


def test_two_stores_on_one_database_build_one_record(store_url: str, snapshot: Any) -> None:
    # Given two store instances (two server processes) on the same database
    from jobtrail.ingest import ingest
    from jobtrail.store import open_store

    first, second = open_store(store_url), open_store(store_url)
    try:
        # When a job's events arrive through both, interleaved, with new names and queues on each
        ingest(first, [{"job_id": "a", "type": "queued", "at": at(0), "name": "n1", "queue": "q1"}])
        ingest(second, [{"job_id": "a", "type": "started", "at": at(5)},
                        {"job_id": "b", "type": "queued", "at": at(1), "name": "n2", "queue": "q2"}])
        ingest(first, [{"job_id": "a", "type": "succeeded", "at": at(65)},
                       {"job_id": "b", "type": "started", "at": at(2)}])
        # Expect both to read the same complete records and roll-ups
        record = first.get("a")
        assert record == second.get("a")
        assert record is not None
        assert (record["state"], record["run"], record["wait"]) == ("succeeded", 60.0, 5.0)
        assert snapshot(first) == snapshot(second)
        counts = snapshot(first)["counts/3600"]
        assert {(name, queue) for (_, name, queue, _) in counts} == {("n1", "q1"), ("n2", "q2")}
    finally:
        first.close()
        second.close()


def test_a_reopened_store_finds_everything_it_had(store_url: str, snapshot: Any) -> None:
    from jobtrail.ingest import ingest
    from jobtrail.store import open_store

    store = open_store(store_url)
    ingest(store, [{"job_id": "a", "type": "started", "at": at(0), "name": "n"},
                   {"job_id": "a", "type": "failed", "at": at(3), "error": "boom"}])
    record, rollups = store.get("a"), snapshot(store)
    store.close()
    reopened = open_store(store_url)
    try:
        assert reopened.get("a") == record
        assert snapshot(reopened) == rollups
    finally:
        reopened.close()
