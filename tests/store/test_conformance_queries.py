"""The store conformance suite, part 2: filters, counts, pages, kill requests, deletes, batches and
statistics, on every backend."""

from __future__ import annotations

import math
import random
import time
from typing import Any

import numpy as np
import pytest

from jobtrail import InvalidInput, NotFound

T0 = 1_700_000_000.0


def at(seconds: float) -> float:
    return T0 + seconds


def run(add: Any, job_id: str, start: float, *, end: str | None = "succeeded", wait: float = 1.0,
        seconds: float = 10.0, **fields: Any) -> None:
    """A job queued at `start`, started `wait` later, ended `seconds` after that (unless `end` is
    None: still running)."""
    events: list[dict[str, Any]] = [
        {"type": "queued", "at": at(start), **fields},
        {"type": "started", "at": at(start + wait)},
    ]
    if end is not None:
        events.append({"type": end, "at": at(start + wait + seconds)})
    add(*events, job_id=job_id)


def ids(query: Any) -> list[str]:
    return [job.id for job in query]


@pytest.fixture
def mixed(add: Any) -> None:
    """Six jobs over two names, two queues, two batches, resources and labels, created a minute
    apart (f is the newest)."""
    run(add, "a", 0, name="ImportBook", queue="default", batch="b1", resources=["Book:1"],
        labels={"tenant": "acme", "ws": "1"})
    run(add, "b", 60, end="failed", name="ImportBook", queue="high", batch="b1",
        resources=["Book:2"], labels={"tenant": "acme", "ws": "2"})
    run(add, "c", 120, end=None, name="SendMail", queue="default", batch="b2",
        resources=["Book:1", "User:7"], labels={"tenant": "globex"})
    run(add, "d", 180, name="SendMail", queue="high", resources=["User:7"])
    add({"type": "queued", "at": at(240), "name": "ImportBook"}, job_id="e")
    run(add, "f", 300, end="killed", name="ImportBook", queue="default", batch="b2",
        labels={"tenant": "acme", "ws": "1"})


# ---- filters -------------------------------------------------------------------------------


@pytest.mark.usefixtures("mixed")
@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["f", "e", "d", "c", "b", "a"]),
        ({"state": "succeeded"}, ["d", "a"]),
        ({"state": "failed,killed"}, ["f", "b"]),
        ({"state": ["queued", "started"]}, ["e", "c"]),
        ({"name": "ImportBook"}, ["f", "e", "b", "a"]),
        ({"name": ["SendMail", "ImportBook"]}, ["f", "e", "d", "c", "b", "a"]),
        ({"queue": "high"}, ["d", "b"]),
        ({"batch": "b2"}, ["f", "c"]),
        ({"resource": "Book:1"}, ["c", "a"]),
        ({"resource": "User:7"}, ["d", "c"]),
        ({"resource": "Book:99"}, []),
        ({"labels": {"tenant": "acme"}}, ["f", "b", "a"]),
        ({"labels": {"tenant": "acme", "ws": "1"}}, ["f", "a"]),
        ({"labels": ["tenant=acme", "ws:2"]}, ["b"]),
        ({"since": at(120)}, ["f", "e", "d", "c"]),
        ({"until": at(120)}, ["b", "a"]),
        ({"since": at(60), "until": at(240)}, ["d", "c", "b"]),
        ({"name": "ImportBook", "queue": "default", "state": "succeeded"}, ["a"]),
        ({"resource": "Book:1", "labels": {"tenant": "globex"}, "state": "started"}, ["c"]),
        ({"batch": "b1", "since": at(30), "labels": {"ws": "2"}}, ["b"]),
        ({"name": "SendMail", "labels": {"tenant": "acme"}}, []),
    ],
)
def test_filters_select_exactly_the_matching_jobs_newest_first(
    trail: Any, filters: dict[str, Any], expected: list[str]
) -> None:
    query = trail.jobs(**filters)
    assert ids(query) == expected
    assert query.count() == len(expected)


def test_since_accepts_a_span_back_from_now(trail: Any, add: Any) -> None:
    now = time.time()
    add({"type": "queued", "at": now - 10 * 86400}, job_id="old")
    add({"type": "queued", "at": now - 3 * 86400}, job_id="recent")
    add({"type": "queued", "at": now - 60}, job_id="new")
    assert ids(trail.jobs(since="7d")) == ["new", "recent"]
    assert ids(trail.jobs(since="1h")) == ["new"]
    assert ids(trail.jobs(until="1d")) == ["recent", "old"]


def test_a_job_is_filed_under_when_it_became_known(trail: Any, add: Any) -> None:
    # Given a job queued long ago whose success arrives first
    add({"type": "succeeded", "at": at(1000)}, job_id="a")
    add({"type": "queued", "at": at(0)}, {"type": "started", "at": at(900)}, job_id="a")
    # Expect it filed under its queued time, not its first-received event
    assert ids(trail.jobs(until=at(1))) == ["a"]
    assert ids(trail.jobs(since=at(1))) == []


def test_resources_and_labels_follow_later_events(trail: Any, add: Any) -> None:
    add({"type": "queued", "at": at(0), "resources": ["Book:1"], "labels": {"ws": "1"}}, job_id="a")
    add({"type": "started", "at": at(5), "resources": ["User:2"], "labels": {"ws": "2"}}, job_id="a")
    assert ids(trail.jobs(resource="User:2")) == ids(trail.jobs(resource="Book:1")) == ["a"]
    assert ids(trail.jobs(labels={"ws": "2"})) == ["a"]
    assert ids(trail.jobs(labels={"ws": "1"})) == []


def test_an_earlier_event_arriving_late_moves_the_job_in_time_filters(trail: Any, add: Any) -> None:
    add({"type": "started", "at": at(500), "resources": ["Book:1"], "labels": {"k": "v"}},
        job_id="a")
    add({"type": "queued", "at": at(0)}, job_id="a")
    assert ids(trail.jobs(resource="Book:1", until=at(100))) == ["a"]
    assert ids(trail.jobs(labels={"k": "v"}, since=at(100))) == []


def test_an_unknown_state_in_a_filter_is_refused(trail: Any) -> None:
    with pytest.raises(InvalidInput, match="unknown state 'finished'"):
        trail.jobs(state="finished")


# ---- counts --------------------------------------------------------------------------------


@pytest.mark.usefixtures("mixed")
def test_counts_group_matching_jobs_by_state_name_or_queue(trail: Any) -> None:
    assert trail.jobs().counts() == {"succeeded": 2, "failed": 1, "started": 1, "queued": 1,
                                     "killed": 1}
    assert trail.jobs().counts(by="state") == trail.jobs().counts()
    assert trail.jobs().counts(by="name") == {"ImportBook": 4, "SendMail": 2}
    assert trail.jobs().counts(by="queue") == {"default": 4, "high": 2}
    assert trail.jobs(name="ImportBook").counts(by="queue") == {"default": 3, "high": 1}
    assert trail.jobs(labels={"tenant": "acme"}).counts() == {"succeeded": 1, "failed": 1,
                                                             "killed": 1}


def test_counts_of_nothing_are_empty(trail: Any) -> None:
    assert trail.jobs().count() == 0
    assert trail.jobs().counts() == {}


def test_counts_by_anything_else_is_refused(trail: Any) -> None:
    with pytest.raises(InvalidInput, match="cannot count by 'worker'"):
        trail.jobs().counts(by="worker")


# ---- pagination ----------------------------------------------------------------------------


def test_pages_walk_every_job_newest_first_without_duplicates_or_gaps(trail: Any) -> None:
    # Given 237 jobs, many sharing a creation time (so the id breaks ties)
    rng = random.Random(7)
    events = [{"job_id": f"job-{i:03d}", "type": "queued", "at": at(rng.randrange(40))}
              for i in range(237)]
    assert trail.ingest(events).accepted == 237
    expected = sorted(((e["at"], e["job_id"]) for e in events), reverse=True)
    # When they are read 10 at a time
    seen: list[tuple[float, str]] = []
    cursor = None
    pages = 0
    while True:
        page = trail.jobs().page(limit=10, cursor=cursor)
        pages += 1
        assert len(page.jobs) == (10 if page.next_cursor else 7)
        seen.extend((j.created_at, j.id) for j in page.jobs)
        cursor = page.next_cursor
        if cursor is None:
            break
    # Expect each exactly once, newest first, in 24 pages
    assert seen == expected
    assert pages == 24


def test_pages_respect_the_filter(trail: Any, add: Any) -> None:
    for i in range(30):
        add({"type": "queued", "at": at(i), "name": "even" if i % 2 == 0 else "odd"}, job_id=f"j{i:02d}")
    first = trail.jobs(name="odd").page(limit=10)
    second = trail.jobs(name="odd").page(limit=10, cursor=first.next_cursor)
    assert [j.id for j in first.jobs + second.jobs] == [f"j{i:02d}" for i in range(29, 0, -2)]
    assert second.next_cursor is None


def test_a_page_that_exactly_fits_has_no_next_cursor(trail: Any, add: Any) -> None:
    for i in range(5):
        add({"type": "queued", "at": at(i)}, job_id=f"j{i}")
    assert trail.jobs().page(limit=5).next_cursor is None
    assert trail.jobs().page(limit=4).next_cursor is not None


def test_new_jobs_do_not_shift_the_pages_already_being_read(trail: Any, add: Any) -> None:
    for i in range(6):
        add({"type": "queued", "at": at(i)}, job_id=f"j{i}")
    first = trail.jobs().page(limit=3)
    add({"type": "queued", "at": at(100)}, job_id="newer")
    second = trail.jobs().page(limit=3, cursor=first.next_cursor)
    assert [j.id for j in first.jobs + second.jobs] == ["j5", "j4", "j3", "j2", "j1", "j0"]


@pytest.mark.parametrize("limit", [0, 1001])
def test_a_page_size_out_of_range_is_refused(trail: Any, limit: int) -> None:
    with pytest.raises(InvalidInput):
        trail.jobs().page(limit=limit)


def test_a_garbled_cursor_is_refused(trail: Any) -> None:
    with pytest.raises(InvalidInput, match="invalid cursor"):
        trail.jobs().page(cursor="not-a-cursor")


# ---- kill requests -------------------------------------------------------------------------


@pytest.mark.usefixtures("mixed")
def test_a_dry_run_kill_counts_unfinished_jobs_and_changes_nothing(trail: Any) -> None:
    before = {j.id: j.as_dict() for j in trail.jobs()}
    assert trail.jobs().request_kill(dry_run=True) == 2  # c (started) and e (queued)
    assert trail.jobs(name="SendMail").request_kill() == 1  # dry run is the default
    assert {j.id: j.as_dict() for j in trail.jobs()} == before


@pytest.mark.usefixtures("mixed")
def test_a_kill_request_flags_only_unfinished_jobs(trail: Any) -> None:
    # When every job is asked to stop
    before = time.time()
    assert trail.jobs().request_kill(dry_run=False) == 2
    # Expect the unfinished ones flagged and shown as kill_requested, with the time of the request
    for job_id in ("c", "e"):
        job = trail.get(job_id)
        assert job.state == "kill_requested"
        assert job.kill_requested_at is not None
        assert before - 1 <= job.kill_requested_at <= time.time() + 1
    # and the finished ones left in their state, without the flag
    for job_id, state in (("a", "succeeded"), ("b", "failed"), ("d", "succeeded"), ("f", "killed")):
        job = trail.get(job_id)
        assert (job.state, job.kill_requested_at) == (state, None)
    # and nothing left to flag a second time
    assert trail.jobs().request_kill(dry_run=True) == 0


@pytest.mark.usefixtures("mixed")
def test_a_kill_request_honours_the_filter(trail: Any) -> None:
    assert trail.jobs(name="ImportBook").request_kill(dry_run=False) == 1
    assert trail.get("e").state == "kill_requested"
    assert trail.get("c").state == "started"


@pytest.mark.usefixtures("mixed")
def test_a_kill_request_for_finished_states_only_flags_nothing(trail: Any) -> None:
    assert trail.jobs(state="succeeded").request_kill(dry_run=False) == 0
    assert trail.jobs().counts().get("kill_requested", 0) == 0


@pytest.mark.usefixtures("mixed")
def test_a_job_that_finishes_after_a_kill_request_keeps_the_flag(trail: Any, add: Any) -> None:
    # Given a kill request for the running job c
    trail.jobs(batch="b2", state="started").request_kill(dry_run=False)
    flagged = trail.get("c").kill_requested_at
    # When it succeeds anyway
    add({"type": "succeeded", "at": time.time()}, job_id="c")
    # Expect it succeeded, and still carrying when the kill was asked ("finished despite kill")
    job = trail.get("c")
    assert (job.state, job.kill_requested_at) == ("succeeded", flagged)
    assert list(job.timestamps)[-2:] == ["kill_requested", "succeeded"]


def test_a_kill_request_in_bulk_flags_every_match_in_steps(trail: Any) -> None:
    # Given more unfinished jobs than one step holds, and one finished job
    trail.ingest([{"job_id": f"j{i:04d}", "type": "queued", "at": at(i)} for i in range(2300)]
                 + [{"job_id": "done", "type": "succeeded", "at": at(0)}])
    # When all are asked to stop
    steps: list[int] = []
    assert trail.jobs().request_kill(dry_run=False, progress=steps.append) == 2300
    # Expect every unfinished job flagged, step by step, and reading them back walks every page
    assert steps == [1000, 1000, 300]
    assert trail.jobs().counts() == {"kill_requested": 2300, "succeeded": 1}
    assert len({job.id for job in trail.jobs(state="kill_requested")}) == 2300


def test_a_killed_job_after_a_request_is_killed(trail: Any, add: Any) -> None:
    add({"type": "started", "at": at(0)}, job_id="a")
    trail.jobs().request_kill(dry_run=False)
    add({"type": "killed", "at": time.time()}, job_id="a")
    job = trail.get("a")
    assert job.state == "killed"
    assert job.kill_requested_at is not None


# ---- delete --------------------------------------------------------------------------------


@pytest.mark.usefixtures("mixed")
def test_a_dry_run_delete_counts_and_keeps_every_row(trail: Any) -> None:
    assert trail.jobs(name="ImportBook").delete(dry_run=True) == 4
    assert trail.jobs().delete() == 6  # dry run is the default
    assert trail.jobs().count() == 6


@pytest.mark.usefixtures("mixed")
def test_delete_removes_exactly_the_matching_rows(trail: Any) -> None:
    assert trail.jobs(name="ImportBook").delete(dry_run=False) == 4
    assert ids(trail.jobs()) == ["d", "c"]
    with pytest.raises(NotFound):
        trail.get("a")
    assert ids(trail.jobs(resource="Book:1")) == ["c"]
    assert ids(trail.jobs(labels={"tenant": "acme"})) == []


@pytest.mark.usefixtures("mixed")
def test_statistics_survive_deletion_of_rows(trail: Any, snapshot: Any) -> None:
    # Given the roll-up statistics of every job
    stats = trail.jobs().stats()
    by_name = trail.jobs(name="ImportBook").stats()
    rollups = snapshot(trail.store)
    assert stats.source == "rollup"
    assert stats.run.count == 4
    # When every row is deleted
    assert trail.jobs().delete(dry_run=False) == 6
    # Expect the same statistics, read from the same roll-ups, and exact ones now empty
    assert trail.jobs().count() == 0
    assert trail.jobs().stats() == stats
    assert trail.jobs(name="ImportBook").stats() == by_name
    assert snapshot(trail.store) == rollups
    assert trail.jobs().stats(exact=True).run.count == 0


def test_a_deleted_job_that_reports_again_starts_over(trail: Any, add: Any) -> None:
    add({"type": "queued", "at": at(0), "resources": ["Book:1"]}, job_id="a")
    trail.jobs().delete(dry_run=False)
    add({"type": "started", "at": at(5)}, job_id="a")
    job = trail.get("a")
    assert (job.state, job.queued_at, job.resources) == ("started", None, ())
    assert ids(trail.jobs(resource="Book:1")) == []


def test_delete_in_bulk_reports_progress_in_steps(trail: Any) -> None:
    trail.ingest([{"job_id": f"j{i:04d}", "type": "queued", "at": at(i)} for i in range(2300)])
    steps: list[int] = []
    assert trail.jobs().delete(dry_run=False, progress=steps.append) == 2300
    assert steps == [1000, 1000, 300]
    assert trail.jobs().count() == 0


# ---- batches -------------------------------------------------------------------------------


def test_a_batch_summary_counts_states_and_sums_times(trail: Any, add: Any) -> None:
    # Given a job request of three jobs, all finished
    run(add, "j1", 0, wait=10, seconds=60, batch="req-7")                  # 10 → 70
    run(add, "j2", 5, wait=15, seconds=30, end="failed", batch="req-7")   # 20 → 50
    run(add, "j3", 6, wait=24, seconds=100, batch="req-7")                # 30 → 130
    run(add, "other", 0, wait=1, seconds=1000, batch="req-8")
    # When it is summarised
    summary = trail.batch("req-7")
    # Expect the counts, the summed run time, first start → last finish, first queued → first start
    assert summary.total == 3
    assert summary.counts == {"succeeded": 2, "failed": 1}
    assert summary.runtime == pytest.approx(190.0)
    assert summary.wall_time == pytest.approx(120.0)
    assert summary.queue_time == pytest.approx(10.0)
    assert (summary.first_queued_at, summary.first_started_at, summary.last_finished_at) == (
        at(0), at(10), at(130))
    assert summary.finished is True


def test_an_unfinished_batch_has_no_wall_time_yet(trail: Any, add: Any) -> None:
    run(add, "j1", 0, batch="req-7")
    run(add, "j2", 0, end=None, batch="req-7")
    add({"type": "queued", "at": at(3)}, job_id="j3", batch="req-7")
    summary = trail.batch("req-7")
    assert summary.counts == {"succeeded": 1, "started": 1, "queued": 1}
    assert (summary.finished, summary.wall_time, summary.last_finished_at) == (False, None, None)
    assert summary.runtime == pytest.approx(10.0)
    assert summary.queue_time == pytest.approx(1.0)


def test_a_batch_counts_the_first_start_of_a_retried_job(trail: Any, add: Any) -> None:
    add({"type": "queued", "at": at(0), "attempt": 1}, {"type": "started", "at": at(4), "attempt": 1},
        {"type": "retrying", "at": at(10), "attempt": 1}, {"type": "started", "at": at(20), "attempt": 2},
        {"type": "succeeded", "at": at(50), "attempt": 2}, job_id="j1", batch="req")
    summary = trail.batch("req")
    assert summary.queue_time == pytest.approx(4.0)
    assert summary.wall_time == pytest.approx(46.0)


def test_an_unknown_batch_is_not_found(trail: Any) -> None:
    with pytest.raises(NotFound):
        trail.batch("nope")


# ---- statistics ----------------------------------------------------------------------------


def test_statistics_give_count_min_avg_max_and_percentiles(trail: Any, add: Any) -> None:
    runs = [1, 2, 3, 4, 100]
    for i, seconds in enumerate(runs):
        run(add, f"j{i}", i * 7, wait=i + 1, seconds=seconds, name="n")
    for exact in (False, True):
        # Expect exact counts and extremes, and percentiles as numpy's (roll-ups: within 1 %)
        stats = trail.jobs(name="n").stats(exact=exact)
        assert (stats.run.count, stats.run.min, stats.run.max) == (5, 1.0, 100.0)
        assert stats.run.avg == pytest.approx(22.0)
        for q in (50, 95, 99):
            assert getattr(stats.run, f"p{q}") == pytest.approx(np.percentile(runs, q), rel=0.01)
        assert (stats.wait.count, stats.wait.min, stats.wait.max) == (5, 1.0, 5.0)
    assert trail.jobs(name="n").stats().source == "rollup"
    assert trail.jobs(state="succeeded").stats().source == "exact"


def test_rollup_percentiles_stay_within_two_percent_of_the_exact_ones(trail: Any) -> None:
    rng = random.Random(3)
    events = []
    for i in range(300):
        start = i * 3.0
        seconds = math.exp(rng.gauss(2, 1.2))
        events += [{"job_id": f"j{i}", "type": "started", "at": at(start)},
                   {"job_id": f"j{i}", "type": "succeeded", "at": at(start + seconds)}]
    trail.ingest(events)
    rollup, exact = trail.jobs().stats(), trail.jobs().stats(exact=True)
    assert rollup.run.count == exact.run.count == 300
    assert rollup.run.min == pytest.approx(exact.run.min)
    assert rollup.run.max == pytest.approx(exact.run.max)
    assert rollup.run.avg == pytest.approx(exact.run.avg)
    for q in ("p50", "p95", "p99"):
        assert getattr(rollup.run, q) == pytest.approx(getattr(exact.run, q), rel=0.02)


def test_statistics_of_nothing_are_empty(trail: Any) -> None:
    for exact in (False, True):
        stats = trail.jobs().stats(exact=exact)
        assert stats.run.count == stats.wait.count == 0
        assert stats.run.p50 is None


def test_a_corrected_run_time_replaces_the_old_one_in_statistics(trail: Any, add: Any) -> None:
    # Given a job whose failure at 20 s was recorded first
    add({"type": "started", "at": at(0)}, {"type": "failed", "at": at(20)}, job_id="a", name="n")
    # When its earlier success at 10 s arrives (the earliest end wins)
    add({"type": "succeeded", "at": at(10)}, job_id="a")
    # Expect statistics of the one run it now has: 10 s (roll-ups: within their 1 % buckets)
    assert trail.get("a").run == 10.0
    for exact in (False, True):
        run = trail.jobs(name="n").stats(exact=exact).run
        assert (run.count, run.avg) == (1, 10.0)
        assert run.min == pytest.approx(10.0, rel=0.01)
        assert run.max == pytest.approx(10.0, rel=0.01)
        assert run.p99 == pytest.approx(10.0, rel=0.01)


def test_counts_by_state_over_a_time_span_match_the_rows(store: Any, add: Any) -> None:
    import random

    from jobtrail.model import JobFilter

    rng = random.Random(5)
    t0 = 1_790_000_000.0
    expected: list[tuple[float, str]] = []
    events = []
    for i in range(300):
        at = t0 + rng.uniform(0, 10_000)
        end = rng.choice(["succeeded", "failed", "started", "queued", "cancelled"])
        events.append({"job_id": f"s{i}", "type": "queued", "at": at, "name": f"n{i % 3}"})
        if end != "queued":
            events.append({"job_id": f"s{i}", "type": end, "at": at + 5})
        expected.append((at, end))
    add(*events)
    for since, until, states in [(t0 + 2_500, None, ()), (None, t0 + 4_000, ()),
                                 (t0 + 1_000, t0 + 9_000, ("failed", "queued")), (t0 + 20_000, None, ())]:
        want: dict[str, int] = {}
        for at, state in expected:
            if (since is None or at >= since) and (until is None or at < until) and (
                    not states or state in states):
                want[state] = want.get(state, 0) + 1
        got = store.counts(JobFilter(states=states, since=since, until=until), "state")
        assert got == want, (since, until, states)
