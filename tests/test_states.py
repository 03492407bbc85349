"""The pure merge of events into a job record (`states.merge`), scenario by scenario.

The property that any order gives the same record is in `tests/store/test_order_free.py`; these tests
pin down what that one record is.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from jobtrail.model import Job
from jobtrail.states import ACTIVE, END_STATES, STATES, TERMINAL, derive, merge

T0 = 1_700_000_000.0


def ev(kind: str, at: float, **fields: Any) -> dict[str, Any]:
    """A validated event of job "j", `at` seconds after T0."""
    return {"job_id": "j", "type": kind, "at": T0 + at, **fields}


def fold(*events: dict[str, Any]) -> dict[str, Any]:
    record: dict[str, Any] | None = None
    for event in events:
        record = merge(record, event)
    assert record is not None
    return record


def test_state_sets_partition_the_states_sensibly() -> None:
    assert set(STATES) > TERMINAL
    assert set(STATES) == ACTIVE | TERMINAL
    assert not ACTIVE & TERMINAL
    assert TERMINAL | {"retrying"} == END_STATES


def test_a_queued_job_is_known_as_queued_with_its_time() -> None:
    record = fold(ev("queued", 0, name="reports.send"))
    assert record["state"] == "queued"
    assert record["queued_at"] == T0
    assert record["created_at"] == T0
    assert record["queue"] == "default"
    assert record["name"] == "reports.send"


def test_a_scheduled_job_is_scheduled_until_it_is_queued() -> None:
    assert fold(ev("scheduled", 0))["state"] == "scheduled"
    record = fold(ev("scheduled", 0), ev("queued", 60))
    assert record["state"] == "queued"
    assert record["scheduled_at"] == T0


def test_a_full_run_records_every_transition_and_its_durations() -> None:
    record = fold(ev("queued", 0), ev("started", 5, worker="w1"), ev("succeeded", 65))
    assert record["state"] == "succeeded"
    assert (record["queued_at"], record["started_at"], record["finished_at"]) == (T0, T0 + 5, T0 + 65)
    assert record["wait"] == 5.0
    assert record["run"] == 60.0
    assert record["attempts"]["1"]["worker"] == "w1"


def test_success_arriving_before_its_start_gives_the_same_run() -> None:
    in_order = fold(ev("queued", 0), ev("started", 5), ev("succeeded", 65))
    reversed_ = fold(ev("succeeded", 65), ev("started", 5), ev("queued", 0))
    assert reversed_ == in_order


def test_a_job_seen_only_by_its_heartbeat_is_running() -> None:
    record = fold(ev("heartbeat", 10))
    assert record["state"] == "started"
    assert record["heartbeat_at"] == T0 + 10


def test_late_heartbeat_does_not_reopen_a_succeeded_job() -> None:
    record = fold(ev("started", 0), ev("succeeded", 10), ev("heartbeat", 20))
    assert record["state"] == "succeeded"
    assert record["finished_at"] == T0 + 10
    assert record["heartbeat_at"] == T0 + 20


@pytest.mark.parametrize("end", ["failed", "killed", "cancelled"])
def test_late_start_or_progress_does_not_reopen_an_ended_job(end: str) -> None:
    record = fold(ev(end, 10), ev("started", 20), ev("progress", 30, progress={"done": 1}))
    assert record["state"] == end


def test_the_earliest_end_of_an_attempt_wins() -> None:
    record = fold(ev("started", 0), ev("failed", 20), ev("succeeded", 10))
    assert record["state"] == "succeeded"
    assert record["finished_at"] == T0 + 10


@pytest.mark.parametrize(
    ("first", "second", "winner"),
    [("succeeded", "killed", "killed"), ("failed", "succeeded", "failed"),
     ("cancelled", "failed", "failed"), ("retrying", "succeeded", "succeeded")],
)
def test_simultaneous_ends_are_decided_by_a_fixed_rank(first: str, second: str, winner: str) -> None:
    one = fold(ev("started", 0), ev(first, 10), ev(second, 10))
    other = fold(ev("started", 0), ev(second, 10), ev(first, 10))
    assert one["state"] == other["state"] == winner


def test_a_lost_job_comes_back_with_a_later_heartbeat() -> None:
    lost = fold(ev("started", 0), ev("lost", 100))
    assert lost["state"] == "lost"
    back = merge(lost, ev("heartbeat", 150))
    assert back["state"] == "started"
    assert back["lost_at"] == T0 + 100


def test_a_lost_marker_older_than_the_last_heartbeat_is_ignored() -> None:
    record = fold(ev("started", 0), ev("heartbeat", 150), ev("lost", 100))
    assert record["state"] == "started"


def test_a_terminal_event_overrides_the_lost_marker() -> None:
    record = fold(ev("started", 0), ev("lost", 100), ev("failed", 50))
    assert record["state"] == "failed"


def test_a_kill_request_shows_while_the_job_runs() -> None:
    record = fold(ev("started", 0), ev("kill_requested", 5))
    assert record["state"] == "kill_requested"
    assert record["kill_requested_at"] == T0 + 5


def test_a_job_that_finishes_despite_a_kill_request_keeps_the_flag() -> None:
    record = fold(ev("started", 0), ev("kill_requested", 5), ev("succeeded", 9))
    assert record["state"] == "succeeded"
    assert record["kill_requested_at"] == T0 + 5
    assert Job.from_record(record).timestamps == {
        "started": T0, "kill_requested": T0 + 5, "succeeded": T0 + 9,
    }


def test_the_earliest_kill_request_is_kept() -> None:
    record = fold(ev("queued", 0), ev("kill_requested", 20), ev("kill_requested", 10))
    assert record["kill_requested_at"] == T0 + 10


def test_a_retry_starts_a_new_attempt_whose_wait_counts_from_the_retry() -> None:
    record = fold(
        ev("queued", 0, attempt=1),
        ev("started", 1, attempt=1),
        ev("retrying", 11, attempt=1, error={"type": "Timeout"}),
        ev("started", 21, attempt=2),
        ev("succeeded", 51, attempt=2),
    )
    assert record["attempt"] == 2
    assert record["state"] == "succeeded"
    assert record["wait"] == 10.0  # ready again when attempt 1 ended
    assert record["run"] == 30.0
    job = Job.from_record(record)
    assert [(a.number, a.end, a.run) for a in job.attempts] == [(1, "retrying", 10.0),
                                                                 (2, "succeeded", 30.0)]
    assert job.attempts[1].queued_at == T0 + 11
    assert job.error == {"type": "Timeout"}  # the latest error of any attempt


def test_a_job_between_attempts_is_retrying() -> None:
    record = fold(ev("started", 0, attempt=1), ev("retrying", 5, attempt=1))
    assert record["state"] == "retrying"
    assert record["finished_at"] is None


def test_events_without_an_attempt_belong_to_the_first() -> None:
    assert fold(ev("started", 0), ev("succeeded", 3, attempt=1))["attempts"].keys() == {"1"}


def test_cancelled_before_running_has_no_run_time() -> None:
    record = fold(ev("queued", 0), ev("cancelled", 30))
    assert record["state"] == "cancelled"
    assert record["finished_at"] == T0 + 30
    assert record["run"] is None
    assert record["wait"] is None


def test_the_earliest_start_and_its_worker_win() -> None:
    record = fold(ev("started", 9, worker="late"), ev("started", 3, worker="early"))
    assert record["started_at"] == T0 + 3
    assert record["attempts"]["1"]["worker"] == "early"


def test_scalar_fields_keep_the_value_of_the_latest_event() -> None:
    record = fold(ev("progress", 20, progress={"done": 5}), ev("progress", 10, progress={"done": 2}),
                  ev("queued", 0, queue="high"), ev("started", 5, queue="low"))
    assert record["progress"] == {"done": 5}
    assert record["queue"] == "low"


def test_labels_merge_per_key_and_resources_accumulate() -> None:
    record = fold(
        ev("queued", 0, labels={"tenant": "a", "ws": "1"}, resources=["Book:1"]),
        ev("started", 5, labels={"ws": "2"}, resources=["User:7"]),
    )
    assert record["labels"] == {"tenant": "a", "ws": "2"}
    assert record["resources"] == ["Book:1", "User:7"]


def test_merge_leaves_its_arguments_unchanged() -> None:
    record = fold(ev("queued", 0, labels={"a": "1"}, resources=["Book:1"]), ev("started", 1))
    event = ev("failed", 9, labels={"a": "2"}, resources=["Book:2"], error={"message": "x"})
    record_before, event_before = copy.deepcopy(record), copy.deepcopy(event)
    merge(record, event)
    assert record == record_before
    assert event == event_before


def test_derive_is_idempotent() -> None:
    record = fold(ev("queued", 0), ev("started", 1), ev("retrying", 2), ev("started", 3, attempt=2))
    assert derive(copy.deepcopy(record)) == record


def test_the_created_and_updated_times_span_every_event() -> None:
    record = fold(ev("heartbeat", 50), ev("queued", 10), ev("progress", 70))
    assert (record["created_at"], record["updated_at"]) == (T0 + 10, T0 + 70)
