"""The store conformance suite, part 3: retention (which rows expire, in bounded steps) and roll-up
compaction, on every backend; statistics never change when rows or minute roll-ups go."""

from __future__ import annotations

import time
from typing import Any

import pytest

from jobtrail.model import RetentionRule
from jobtrail.retention import DEFAULT_RULES, parse_rules, sweep

DAY = 86400.0
HOUR = 3600.0


@pytest.fixture
def now() -> float:
    return time.time()


def finished(add: Any, job_id: str, days_ago: float, now: float, end: str = "succeeded",
             **fields: Any) -> None:
    """A job that ran for a minute and ended `days_ago` days before `now`."""
    ended = now - days_ago * DAY
    add({"type": "queued", "at": ended - 120, **fields}, {"type": "started", "at": ended - 60},
        {"type": end, "at": ended}, job_id=job_id)


def left(trail: Any) -> set[str]:
    return {job.id for job in trail.jobs()}


def test_the_default_rules_keep_successes_14_days_failures_90_and_the_rest_180(
    trail: Any, add: Any, now: float
) -> None:
    # Given jobs just inside and just outside each default period
    for state, days in (("succeeded", 14), ("failed", 90), ("killed", 180), ("cancelled", 180)):
        finished(add, f"{state}-expired", days + 0.5, now, end=state)
        finished(add, f"{state}-kept", days - 0.5, now, end=state)
    # and unfinished jobs, timed by when they were last heard of
    add({"type": "started", "at": now - 181 * DAY}, {"type": "heartbeat", "at": now - 180.5 * DAY},
        job_id="stuck-expired")
    add({"type": "queued", "at": now - 181 * DAY}, {"type": "heartbeat", "at": now - 179 * DAY},
        job_id="stuck-kept")
    # When the sweep runs with the default rules
    result = sweep(trail.store, DEFAULT_RULES, now=now)
    # Expect exactly the expired ones gone
    assert result.deleted == 5
    assert left(trail) == {"succeeded-kept", "failed-kept", "killed-kept", "cancelled-kept",
                           "stuck-kept"}


def test_a_rule_for_a_job_name_applies_to_it_in_any_state(trail: Any, add: Any, now: float) -> None:
    finished(add, "send-ok", 2, now, name="reports.send")
    finished(add, "send-failed", 2, now, end="failed", name="reports.send")
    finished(add, "other-ok", 2, now, name="reports.other")
    sweep(trail.store, parse_rules(["reports.send=1d"]), now=now)
    assert left(trail) == {"other-ok"}


def test_a_rule_for_a_state_replaces_the_default_for_that_state(
    trail: Any, add: Any, now: float
) -> None:
    finished(add, "failed-8d", 8, now, end="failed")
    finished(add, "failed-6d", 6, now, end="failed")
    finished(add, "ok-8d", 8, now)
    sweep(trail.store, parse_rules(["failed=7d"]), now=now)
    assert left(trail) == {"failed-6d", "ok-8d"}


def test_the_most_specific_rule_wins(trail: Any, add: Any, now: float) -> None:
    # Given reports.send kept 1 day, except its failures, kept forever; successes 30 days
    rules = parse_rules(["reports.send=1d", "reports.send:failed=forever", "succeeded=30d"])
    finished(add, "send-failed", 400, now, end="failed", name="reports.send")
    finished(add, "send-ok", 2, now, name="reports.send")
    finished(add, "other-ok", 20, now, name="other")
    finished(add, "other-failed", 91, now, end="failed", name="other")
    sweep(trail.store, rules, now=now)
    assert left(trail) == {"send-failed", "other-ok"}


def test_a_rule_of_forever_keeps_everything_it_covers(trail: Any, add: Any, now: float) -> None:
    finished(add, "ancient", 1000, now)
    sweep(trail.store, [RetentionRule(name=None, state=None, keep=None)], now=now)
    assert left(trail) == {"ancient"}


def test_a_jobs_own_keep_wins_over_every_rule(trail: Any, add: Any, now: float) -> None:
    finished(add, "forever", 1000, now, keep="forever")
    finished(add, "short", 2, now, keep="1d")
    finished(add, "long", 20, now, keep="30d")
    finished(add, "seconds", 2, now, keep=3 * DAY)
    finished(add, "default", 20, now)
    sweep(trail.store, DEFAULT_RULES, now=now)
    assert left(trail) == {"forever", "long", "seconds"}


def test_the_sweep_deletes_in_bounded_steps_oldest_first(trail: Any, add: Any, now: float) -> None:
    for i in range(5):
        finished(add, f"old-{i}", 20 + i, now)
    finished(add, "young", 1, now)
    assert trail.store.expired(DEFAULT_RULES, now, 2) == ["old-4", "old-3"]
    steps: list[int] = []
    result = sweep(trail.store, DEFAULT_RULES, now=now, step=2, progress=steps.append)
    assert steps == [2, 2, 1]
    assert result.deleted == 5
    assert left(trail) == {"young"}


def test_a_second_sweep_finds_nothing_more(trail: Any, add: Any, now: float) -> None:
    finished(add, "old", 20, now)
    assert sweep(trail.store, now=now).deleted == 1
    assert sweep(trail.store, now=now).deleted == 0


def test_statistics_are_the_same_after_the_sweep(trail: Any, add: Any, now: float,
                                                 snapshot: Any) -> None:
    for i in range(4):
        finished(add, f"old-{i}", 20 + i, now, name="n")
    finished(add, "young", 1, now, name="n")
    stats = trail.jobs(name="n").stats()
    counts = trail.store.rollup_counts(None, None, metrics=["entered:succeeded"])
    assert sweep(trail.store, now=now, minute_rollup_days=365).deleted == 4
    assert trail.jobs(name="n").stats() == stats
    assert trail.store.rollup_counts(None, None, metrics=["entered:succeeded"]) == counts
    assert trail.jobs().count() == 1


# ---- compaction ----------------------------------------------------------------------------


@pytest.fixture
def history(add: Any, now: float) -> float:
    """Ten runs ending over the day before `now`; returns an hour boundary well before them."""
    start = (now - 2 * DAY) // HOUR * HOUR
    for i in range(10):
        ended = start + 3 * HOUR + i * 1000 + 17
        add({"type": "queued", "at": ended - 100, "name": "n"},
            {"type": "started", "at": ended - 10 * (i + 1)},
            {"type": "succeeded", "at": ended}, job_id=f"j{i}")
    return start


def test_compact_drops_minute_rollups_and_keeps_the_statistics(
    trail: Any, now: float, history: float
) -> None:
    # Given roll-ups of runs at per-minute and hourly resolution
    store = trail.store
    windows = [(None, None), (history, None), (history, history + 6 * HOUR)]
    stats = [trail.jobs(since=a, until=b).stats() for a, b in windows]
    hourly = store.rollup_counts(None, None, step=3600)
    assert store.rollup_counts(None, None, step=60) != []
    assert stats[0].run.count == 10
    # When minute roll-ups older than now are compacted
    assert store.compact(now) > 0
    # Expect the minute rows gone, the hourly ones and every statistic over whole hours unchanged
    assert store.rollup_counts(None, None, step=60) == []
    assert store.rollup_counts(None, None, step=3600) == hourly
    assert [trail.jobs(since=a, until=b).stats() for a, b in windows] == stats


def test_compact_keeps_recent_minute_rollups(trail: Any, history: float) -> None:
    minutes = trail.store.rollup_counts(None, None, step=60)
    assert trail.store.compact(history) == 0
    assert trail.store.rollup_counts(None, None, step=60) == minutes


def test_a_sweep_compacts_minute_rollups_older_than_its_setting(
    trail: Any, now: float, history: float
) -> None:
    stats = trail.jobs().stats()
    assert sweep(trail.store, now=now, minute_rollup_days=7).compacted == 0
    result = sweep(trail.store, now=now, minute_rollup_days=0)
    assert result.compacted > 0
    assert result.deleted == 0
    assert trail.jobs().stats() == stats


def test_statistics_over_part_of_an_hour_use_minute_rollups(trail: Any, history: float) -> None:
    # Runs end at history + 3h + i·1000s + 17s: a window of [3h, 3h 20m) holds i = 0 and 1
    since, until = history + 3 * HOUR, history + 3 * HOUR + 1200
    stats = trail.jobs(since=since, until=until).stats()
    assert stats.source == "rollup"
    assert stats.run.count == 2
    assert (stats.run.min, stats.run.max) == (10.0, 20.0)


def test_after_compaction_a_window_ending_mid_hour_still_counts_its_last_partial_hour(
    trail: Any, now: float, history: float
) -> None:
    # Runs end at history + 3h 00m 17s + i·1000 s; [history, history + 4h 10m) holds i = 0…4, and
    # widened to whole hours, [history, history + 5h), i = 0…7 (the 8th ends at 4h 56m 57s).
    since, until = history, history + 4 * HOUR + 600
    assert trail.jobs(since=since, until=until).stats().run.count == 5
    # When the minute roll-ups of that time are compacted
    trail.store.compact(now)
    # Expect the edge hour counted whole (the finest data left), never dropped
    assert trail.jobs(since=since, until=until).stats().run.count in (5, 8)
    assert trail.jobs(since=since + 600, until=until).stats().run.count in (5, 8)
