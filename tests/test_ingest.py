"""`ingest` over the Store protocol's one write method, with an in-memory stand-in for `update`.

Backends themselves are checked in tests/store/; here: what ingest hands the store (one atomic
update per batch, a pure change, nothing written when nothing changed) and what it answers.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from jobtrail.ingest import IngestResult, ingest
from jobtrail.rollup import Delta

T0 = 1_700_000_000.0


class MemoryStore:
    """`update` as the protocol describes it, over a dict; records every call."""

    url = "memory://"
    parallel_writes = True

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[list[str], Mapping[str, Any], Delta]] = []

    def update(self, job_ids: Sequence[str], change: Any) -> Mapping[str, Any]:
        current = {j: copy.deepcopy(self.records[j]) for j in job_ids if j in self.records}
        snapshot = copy.deepcopy(current)
        new, delta = change(current)
        # The protocol may call `change` again on retry: it must not have touched `current`
        # and must give the same answer.
        assert current == snapshot
        again, again_delta = change(copy.deepcopy(snapshot))
        assert again == new
        assert again_delta == delta
        self.records.update(copy.deepcopy(dict(new)))
        self.calls.append((list(job_ids), new, delta))
        return new

    def get(self, job_id: str) -> dict[str, Any] | None:
        return self.records.get(job_id)


def ev(job_id: str, kind: str, seconds: float, **fields: Any) -> dict[str, Any]:
    return {"job_id": job_id, "type": kind, "at": T0 + seconds, **fields}


def test_a_batch_is_one_update_covering_every_job_it_names() -> None:
    store = MemoryStore()
    result = ingest(store, [ev("a", "queued", 0), ev("b", "queued", 1), ev("a", "started", 2)])
    assert result == IngestResult(accepted=3)
    assert len(store.calls) == 1
    job_ids, written, delta = store.calls[0]
    assert sorted(job_ids) == ["a", "b"]
    assert set(written) == {"a", "b"}
    assert delta.counts  # new jobs add to the roll-ups
    assert store.records["a"]["state"] == "started"


def test_replaying_a_batch_writes_nothing_and_changes_no_rollup() -> None:
    store = MemoryStore()
    batch = [ev("a", "queued", 0), ev("a", "started", 1), ev("a", "succeeded", 9)]
    ingest(store, batch)
    ingest(store, batch)
    _, written, delta = store.calls[1]
    assert written == {}
    assert (delta.counts, delta.observed, delta.retracted) == ({}, [], [])


def test_a_heartbeat_rewrites_the_record_but_not_the_rollups() -> None:
    store = MemoryStore()
    ingest(store, [ev("a", "started", 0)])
    ingest(store, [ev("a", "heartbeat", 30)])
    _, written, delta = store.calls[1]
    assert written["a"]["heartbeat_at"] == T0 + 30
    assert (delta.counts, delta.observed, delta.retracted) == ({}, [], [])


def test_a_late_end_moves_the_rollups_from_the_old_facts_to_the_new() -> None:
    # Given a job that ended at 20 s
    store = MemoryStore()
    ingest(store, [ev("a", "started", 0), ev("a", "failed", 20)])
    # When an earlier end arrives
    ingest(store, [ev("a", "succeeded", 10)])
    # Expect the failure retracted and the success counted, with the run observed anew
    delta = store.calls[1][2]
    by_metric: dict[str, int] = {}
    for key, n in delta.counts.items():
        if key[0] == "c":
            by_metric[key[4]] = by_metric.get(key[4], 0) + n
    assert by_metric["entered:failed"] == -1
    assert by_metric["entered:succeeded"] == 1
    assert [(k[4], v) for k, v in delta.retracted] == [("run", 20.0)]
    assert sorted((k[4], v) for k, v in delta.observed) == [("run", 10.0), ("success", T0 + 10)]


def test_invalid_events_are_listed_by_index_and_the_rest_applied() -> None:
    store = MemoryStore()
    result = ingest(store, [ev("a", "queued", 0), {"job_id": "b"}, ev("c", "queued", 0, colour=1),
                            ev("d", "queued", 0)])
    assert result.accepted == 2
    assert [(r.index, r.error.split(":")[0]) for r in result.rejected] == [(1, "type"),
                                                                           (2, "unknown field")]
    assert set(store.records) == {"a", "d"}


def test_a_batch_with_nothing_valid_never_reaches_the_store() -> None:
    store = MemoryStore()
    result = ingest(store, [{"nope": 1}])
    assert result.accepted == 0
    assert len(result.rejected) == 1
    assert store.calls == []
    assert ingest(store, []) == IngestResult(accepted=0)


def test_the_answer_names_jobs_with_a_pending_kill_request() -> None:
    store = MemoryStore()
    ingest(store, [ev("a", "started", 0), ev("a", "kill_requested", 1), ev("b", "started", 0),
                   ev("c", "kill_requested", 1), ev("c", "killed", 2)])
    result = ingest(store, [ev("a", "heartbeat", 5), ev("b", "heartbeat", 5), ev("c", "heartbeat", 5)])
    assert result.control == {"a": {"kill_requested": True}}
    assert result.as_dict() == {"accepted": 3, "rejected": [],
                                "control": {"a": {"kill_requested": True}}}


def test_events_are_validated_against_the_time_ingest_is_given() -> None:
    store = MemoryStore()
    result = ingest(store, [ev("a", "queued", 1000)], now=T0)
    assert result.accepted == 0
    assert "in the future" in result.rejected[0].error
    assert ingest(store, [ev("a", "queued", 1000)], now=T0 + 1000).accepted == 1


def test_a_number_too_large_for_a_float_rejects_only_its_event() -> None:
    store = MemoryStore()
    result = ingest(store, [ev("a", "queued", 0), {"job_id": "b", "type": "queued", "at": 10**400},
                            ev("c", "queued", 0, keep=10**400)])
    assert result.accepted == 1
    assert [r.index for r in result.rejected] == [1, 2]
    assert set(store.records) == {"a"}


def test_an_event_validation_cannot_handle_is_rejected_alone() -> None:
    # Events from Python callers can hold anything: a list as the type, args nested past recursion
    store = MemoryStore()
    deep: Any = 1
    for _ in range(100_000):
        deep = [deep]
    result = ingest(store, [ev("a", "queued", 0), {"job_id": "b", "type": ["queued"], "at": T0},
                            ev("c", "queued", 0, args=deep), ev("d", "queued", 0)])
    assert result.accepted == 2
    assert [(r.index, r.error) for r in result.rejected][1] == (2, "args: is nested too deeply")
    assert result.rejected[0].index == 1 and result.rejected[0].error.startswith("type:")
    assert set(store.records) == {"a", "d"}


def test_refused_types_are_rejected_by_index_with_the_reason() -> None:
    store = MemoryStore()
    result = ingest(store, [ev("a", "started", 0), ev("a", "kill_requested", 1)],
                    refuse={"kill_requested": "needs the admin scope"})
    assert result.accepted == 1
    assert [(r.index, r.error) for r in result.rejected] == [(1, "type: needs the admin scope")]
    assert store.records["a"]["kill_requested_at"] is None


def test_lone_surrogates_in_free_text_become_replacement_characters() -> None:
    store = MemoryStore()
    result = ingest(store, [ev("a", "failed", 0, args={"k\ud800": ["\udcff", "\U0001f600"]},
                               error={"message": "no \udcff", "traceback": "\ud800"})])
    assert result.accepted == 1
    record = store.records["a"]
    assert record["args"] == {"k\ufffd": ["\ufffd", "\U0001f600"]}
    assert record["error"] == {"message": "no \ufffd", "traceback": "\ufffd"}
    # a name is an identifier, not free text: it is refused rather than altered
    named = ingest(store, [ev("b", "queued", 0, name="bad \ud800")])
    assert named.accepted == 0 and "lone surrogate" in named.rejected[0].error
