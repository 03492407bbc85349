"""Order does not matter (SPEC §1.3): any permutation of a job's events, with duplicates, gives the
same record, in the pure `states.merge` (the oracle) and in every store, and the same roll-up facts.
"""

from __future__ import annotations

import itertools
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobtrail import rollup
from jobtrail.events import normalize
from jobtrail.ingest import ingest
from jobtrail.states import EVENT_TYPES, apply, derive, merge, new_record

T0 = 1_700_000_000.0
NOW = T0 + 86_400.0
STORE_EXAMPLES = 100  # per backend; with the pure test's 500 the suite feeds ≥ 700 orders per run

_ERRORS = ("failed", "retrying", "killed")
_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "name": st.sampled_from(["reports.send", "ImportBook"]),
    "queue": st.sampled_from(["default", "high"]),
    "batch": st.sampled_from(["req-1", "req-2"]),
    "worker": st.sampled_from(["w", "w1", "w2"]),  # "w" looks like a stored code
    "progress": st.fixed_dictionaries(
        {}, optional={k: st.integers(0, 5) for k in ("done", "total", "failed", "skipped")}
    ),
    "labels": st.dictionaries(st.sampled_from(["tenant", "ws"]), st.sampled_from(["a", "b"]),
                              max_size=2),
    "resources": st.lists(st.sampled_from(["Book:1", "Book:2", "User:7"]), max_size=2),
    "args": st.one_of(st.just([]), st.just({}), st.fixed_dictionaries({"n": st.integers(0, 3)})),
    "result": st.one_of(st.just({}), st.integers(0, 2), st.just({"rows": 3})),
    "keep": st.sampled_from(["7d", "forever", 3600]),
}


@st.composite
def raw_event(draw: st.DrawFn) -> dict[str, Any]:
    """One event of job "j": any type, attempt 1–3 or none, times on a coarse grid so ties happen."""
    kind = draw(st.sampled_from(sorted(EVENT_TYPES)))
    at = T0 + draw(st.integers(0, 12)) * 45.0
    event: dict[str, Any] = {
        "job_id": "j",
        "type": kind,
        "at": datetime.fromtimestamp(at, UTC).isoformat() if draw(st.booleans()) else at,
    }
    attempt = draw(st.none() | st.integers(1, 3))
    if attempt is not None:
        event["attempt"] = attempt
    for field, values in _FIELDS.items():
        if draw(st.integers(0, 3)) == 0:
            event[field] = draw(values)
    if kind in _ERRORS and draw(st.booleans()):
        event["error"] = draw(st.fixed_dictionaries(
            {"type": st.sampled_from(["ValueError", "Timeout"])},
            optional={"message": st.sampled_from(["boom", "slow"])},
        ))
    return event


job_events = st.lists(raw_event(), min_size=1, max_size=8)


@st.composite
def reordered(draw: st.DrawFn, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A permutation of `events` with up to four of them repeated."""
    repeats = draw(st.lists(st.sampled_from(events), max_size=4))
    return draw(st.permutations(events + repeats))


@st.composite
def chunked(draw: st.DrawFn, events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """`events` cut into consecutive, non-empty ingest batches."""
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(events) - 1)), max_size=3)))
    bounds = [0, *(c for c in cuts if c < len(events)), len(events)]
    return [events[a:b] for a, b in itertools.pairwise(bounds) if b > a]


def fold(events: list[dict[str, Any]]) -> dict[str, Any]:
    record: dict[str, Any] | None = None
    for event in events:
        record = merge(record, event)
    assert record is not None
    return record


def as_job(record: dict[str, Any], job_id: str = "j") -> dict[str, Any]:
    return record | {"id": job_id}


def count_facts(record: dict[str, Any], times: int) -> dict[tuple[Any, ...], int]:
    """The counters `record` adds, `times` over, keyed like `rollup_counts(step=60)` rows."""
    counts, _ = rollup.facts(record)
    out: Counter[tuple[Any, ...]] = Counter()
    for key, n in counts.items():
        if key[0] == "c":
            out[key[1:]] += n * times
    return {k: v for k, v in out.items() if v}


def minus(after: dict[Any, int], before: dict[Any, int]) -> dict[Any, int]:
    keys = set(after) | set(before)
    diff = {k: after.get(k, 0) - before.get(k, 0) for k in keys}
    return {k: v for k, v in diff.items() if v}


@settings(max_examples=500, deadline=None)
@given(data=st.data(), events=job_events)
def test_any_order_with_duplicates_merges_into_the_same_record(
    data: st.DataObject, events: list[dict[str, Any]]
) -> None:
    # Given a job's validated events and the record their fold gives
    clean = [normalize(e, NOW) for e in events]
    expected = fold(clean)
    expected_facts = rollup.facts(expected)
    for _ in range(3):
        # When they are merged again in another order, with duplicates
        order = data.draw(reordered(clean))
        got = fold(order)
        # Expect the same record and the same roll-up facts
        assert got == expected
        assert rollup.facts(got) == expected_facts
        # and the same record when the batch is applied in place and derived once (ingest's path)
        batch = new_record("j")
        for event in order:
            apply(batch, event)
        assert derive(batch) == expected
    # Expect merging any event again to change nothing (idempotence)
    for event in clean:
        assert merge(expected, event) == expected


@settings(
    max_examples=STORE_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data(), events=job_events)
def test_store_record_equals_the_pure_merge_whatever_the_order(
    store: Any, snapshot: Any, data: st.DataObject, events: list[dict[str, Any]]
) -> None:
    # Given a job's events and the record the pure merge gives
    expected = fold([normalize(e, NOW) for e in events])
    before = snapshot(store)
    prefix = uuid.uuid4().hex[:12]
    copies = 3
    for k in range(copies):
        # When each copy of the job gets the events in another order, with duplicates, over
        # several ingest batches
        job_id = f"{prefix}-{k}"
        for batch in data.draw(chunked(data.draw(reordered(events)))):
            result = ingest(store, [e | {"job_id": job_id} for e in batch])
            assert result.rejected == []
        # Expect the stored record to be the pure merge's, field for field
        got = store.get(job_id)
        assert got is not None
        assert as_job(got) == expected
        assert rollup.facts(as_job(got)) == rollup.facts(expected)
    # Expect the roll-ups to have grown by exactly the facts of the copies
    after = snapshot(store)
    assert minus(after["counts/60"], before["counts/60"]) == count_facts(expected, copies)
    _, observed = rollup.facts(expected)
    for kind in ("run", "wait", "success"):
        n = sum(1 for key, _ in observed if key[4] == kind)
        assert after[kind][1] - before[kind][1] == n * copies
        assert minus(after[kind][0], before[kind][0]) == {
            b: c * copies for b, c in _hist(expected, kind).items()
        }


def _hist(record: dict[str, Any], kind: str) -> dict[int, int]:
    counts, _ = rollup.facts(record)
    out: Counter[int] = Counter()
    for key, n in counts.items():
        if key[0] == "h" and key[4] == kind:
            out[key[5]] += n
    return {k: v for k, v in out.items() if v}
