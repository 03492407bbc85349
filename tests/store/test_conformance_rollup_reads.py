"""The store conformance suite, roll-up reads: span totals and histograms per time bucket, checked
against brute force over the jobs each test generates, on every backend."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from jobtrail.sketch import ZERO_BUCKET, bucket_of

H = 3600
T0 = 1_700_000_000 // H * H  # an hour boundary


def _jobs(seed: int, n: int = 120) -> list[dict[str, Any]]:
    """`n` finished jobs over three hours, two names on two queues, with known times."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        queued = T0 + rng.uniform(0, 3 * H)
        started = queued + rng.uniform(0, 90)
        ended = started + rng.choice([0.5, 3.0, 40.0, 700.0]) * rng.uniform(0.8, 1.2)
        out.append({
            "id": f"j{i:03d}", "name": "a" if i % 3 else "b", "queue": "q1" if i % 2 else "q2",
            "queued": queued, "started": started, "ended": ended,
            "end": "failed" if i % 7 == 0 else "succeeded",
        })
    return out


def _ingest(trail: Any, jobs: list[dict[str, Any]]) -> None:
    events = []
    for j in jobs:
        common = {"job_id": j["id"]}
        events += [
            {**common, "type": "queued", "at": j["queued"], "name": j["name"], "queue": j["queue"]},
            {**common, "type": "started", "at": j["started"]},
            {**common, "type": j["end"], "at": j["ended"]},
        ]
    assert trail.ingest(events).rejected == []


@pytest.mark.parametrize(
    ("since", "until"),
    [(None, None), (T0 + 1234.5, T0 + 2 * H + 77), (T0 + 600, T0 + 1800), (None, T0 + H + 90)],
)
def test_totals_over_a_span_count_what_happened_inside_it_to_the_minute(
    trail: Any, since: float | None, until: float | None
) -> None:
    # Given jobs with known times
    jobs = _jobs(1)
    _ingest(trail, jobs)
    # When counters are summed over a span with edges inside hours
    got = trail.store.rollup_totals(since, until, metrics=["entered:failed", "entered:started"])
    # Expect each (name, queue, metric) to count the transitions in that span's whole minutes
    lo = -float("inf") if since is None else since // 60 * 60
    hi = float("inf") if until is None else until

    def inside(at: float) -> bool:
        return lo <= at // 60 * 60 < hi

    expected: Counter[tuple[str, str, str]] = Counter()
    for j in jobs:
        if inside(j["started"]):
            expected[(j["name"], j["queue"], "entered:started")] += 1
        if j["end"] == "failed" and inside(j["ended"]):
            expected[(j["name"], j["queue"], "entered:failed")] += 1
    assert got == sorted((*k, n) for k, n in expected.items())


def test_totals_filter_by_name_and_queue(trail: Any) -> None:
    jobs = _jobs(2)
    _ingest(trail, jobs)
    got = trail.store.rollup_totals(None, None, names=["a"], queues=["q1"],
                                    metrics=["entered:succeeded"])
    n = sum(1 for j in jobs if (j["name"], j["queue"], j["end"]) == ("a", "q1", "succeeded"))
    assert got == [("a", "q1", "entered:succeeded", n)]
    assert trail.store.rollup_totals(None, None, names=["nobody"]) == []


def test_totals_count_old_edges_by_whole_hours_once_minutes_are_compacted(trail: Any) -> None:
    # Given jobs whose per-minute roll-ups are compacted away
    jobs = _jobs(3)
    _ingest(trail, jobs)
    trail.store.compact(T0 + 10 * H)
    # When a span with edges inside hours is read
    got = trail.store.rollup_totals(T0 + 1800, T0 + H + 60, metrics=["entered:started"])
    # Expect the edges widened to the hours that hold them
    expected: Counter[tuple[str, str, str]] = Counter()
    for j in jobs:
        if T0 <= j["started"] < T0 + 2 * H:
            expected[(j["name"], j["queue"], "entered:started")] += 1
    assert got == sorted((*k, n) for k, n in expected.items())


@pytest.mark.parametrize("step", [60, 300, 3600, 2 * H, 86400])
def test_histograms_per_step_bucket_each_run_by_when_it_ended(trail: Any, step: int) -> None:
    # Given jobs with known run times
    jobs = _jobs(4)
    _ingest(trail, jobs)
    # When run histograms are read per step over a span
    since, until = T0 + H, T0 + 3 * H
    got = trail.store.rollup_histograms("run", since, until, names=["a"], step=step)
    # Expect (bucket start, name, queue, duration bucket, n) exactly as brute force gives them
    expected: Counter[tuple[int, str, str, int]] = Counter()
    res = 86400 if step % 86400 == 0 else 60 if step < H else H
    for j in jobs:
        if j["name"] == "a" and since // res * res <= j["ended"] // res * res < until:
            expected[(int(j["ended"] // step * step), j["name"], j["queue"],
                      bucket_of(j["ended"] - j["started"]))] += 1
    assert got == sorted((*k, n) for k, n in expected.items())


def test_a_whole_span_histogram_is_the_merged_histogram_per_series(trail: Any) -> None:
    # Given jobs on two names
    jobs = _jobs(5)
    _ingest(trail, jobs)
    since, until = T0 + 1000.5, T0 + 2 * H + 900
    # When one histogram per series is read over a span with edges inside hours
    got = trail.store.rollup_histograms("wait", since, until)
    # Expect it to start at `since` and, merged, equal the store's merged histogram
    assert {row[0] for row in got} == {int(since)}
    merged: Counter[int] = Counter()
    for _, _, _, bucket, n in got:
        merged[bucket] += n
    assert dict(merged) == trail.store.rollup_histogram("wait", since, until)[0]
    per_name: Counter[tuple[str, str]] = Counter()
    for _, name, queue, _, n in got:
        per_name[(name, queue)] += n
    lo, hi = since // 60 * 60, until
    expected = Counter((j["name"], j["queue"]) for j in jobs if lo <= j["started"] // 60 * 60 < hi)
    assert per_name == expected


def test_histograms_of_nothing_are_empty(trail: Any) -> None:
    assert trail.store.rollup_histograms("run", None, None) == []
    assert trail.store.rollup_histograms("run", T0, T0 + H, step=60) == []
    assert trail.store.rollup_totals(None, None) == []


def test_find_values_reads_named_fields_of_matching_jobs_newest_first(trail: Any) -> None:
    # Given jobs with known times
    jobs = _jobs(6, n=30)
    _ingest(trail, jobs)
    # When three fields of the failed jobs of name "a" are read, five at a time
    from jobtrail.model import JobFilter

    flt = JobFilter(names=("a",), states=("failed",))
    first = trail.store.find_values(flt, ("id", "run", "finished_at"), 5, None)
    # Expect exactly what the full records hold, in `find`'s order
    records = trail.store.find(flt, 5, None)
    assert first == [(r["id"], r["run"], r["finished_at"]) for r in records]
    expected = sorted((j for j in jobs if j["name"] == "a" and j["end"] == "failed"),
                      key=lambda j: (j["queued"], j["id"]), reverse=True)
    assert [row[0] for row in first] == [j["id"] for j in expected][:5]
    assert first[0][1] == pytest.approx(expected[0]["ended"] - expected[0]["started"])


def test_find_values_refuses_a_field_that_is_not_a_column(trail: Any) -> None:
    from jobtrail import InvalidInput
    from jobtrail.model import JobFilter

    with pytest.raises(InvalidInput, match="cannot read field 'doc'"):
        trail.store.find_values(JobFilter(), ("id", "doc"), 5, None)


@pytest.mark.parametrize("step", [None, 600])
def test_merged_histograms_count_adjacent_buckets_as_their_middle_one(
    trail: Any, step: int | None
) -> None:
    # Given runs from 0 s (the zero bucket) and under a second to minutes
    jobs = _jobs(7)
    jobs[0]["ended"] = jobs[0]["started"]
    _ingest(trail, jobs)
    # When histograms are read with three buckets merged into one
    since, until = T0, T0 + 4 * H
    got = trail.store.rollup_histograms("run", since, until, step=step, merge=3)
    # Expect each group of three reported as its middle bucket, the zero bucket kept apart
    expected: Counter[tuple[int, str, str, int]] = Counter()
    for j in jobs:
        b = bucket_of(j["ended"] - j["started"])
        middle = b if b == ZERO_BUCKET else (b + 1000) // 3 * 3 - 1000 + 1
        t = int(since) if step is None else int(j["ended"] // step * step)
        expected[(t, j["name"], j["queue"], middle)] += 1
    assert got == sorted((*k, n) for k, n in expected.items())
    assert any(k[3] == ZERO_BUCKET for k in expected) and any(k[3] < 0 < n for *k, n in got)
