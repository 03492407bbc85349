"""Retention rules from text, and the sweep's bounded steps (the rows themselves: tests/store/)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from jobtrail.errors import InvalidInput
from jobtrail.model import RetentionRule
from jobtrail.retention import DEFAULT_RULES, parse_rules, sweep

DAY = 86400.0


def as_map(rules: Sequence[RetentionRule]) -> dict[tuple[str | None, str | None], float | None]:
    return {(r.name, r.state): r.keep for r in rules}


def test_the_defaults_keep_successes_14_days_failures_90_and_everything_else_180() -> None:
    assert as_map(DEFAULT_RULES) == {
        (None, "succeeded"): 14 * DAY,
        (None, "failed"): 90 * DAY,
        (None, None): 180 * DAY,
    }


def test_no_specs_give_the_defaults() -> None:
    assert parse_rules([]) == DEFAULT_RULES


@pytest.mark.parametrize(
    ("spec", "key", "keep"),
    [
        ("succeeded=7d", (None, "succeeded"), 7 * DAY),
        ("killed=30d", (None, "killed"), 30 * DAY),
        ("reports.send=1d", ("reports.send", None), DAY),
        ("TaskPlan.publish:failed=forever", ("TaskPlan.publish", "failed"), None),
        ("*=365d", (None, None), 365 * DAY),
        ("*:failed=30d", (None, "failed"), 30 * DAY),
        ("reports.send:*=2d", ("reports.send", None), 2 * DAY),
        ("module:task:failed=1h", ("module:task", "failed"), 3600.0),
        (" lost = 12h ", (None, "lost"), 12 * 3600.0),
        ("succeeded=3600", (None, "succeeded"), 3600.0),
    ],
)
def test_a_rule_names_a_state_a_job_name_or_both(
    spec: str, key: tuple[str | None, str | None], keep: float | None
) -> None:
    rules = as_map(parse_rules([spec]))
    assert rules[key] == keep


def test_a_rule_replaces_the_default_with_the_same_name_and_state() -> None:
    rules = parse_rules(["succeeded=1d", "*=forever"])
    assert len(rules) == len(DEFAULT_RULES)
    assert as_map(rules)[(None, "succeeded")] == DAY
    assert as_map(rules)[(None, None)] is None
    assert as_map(rules)[(None, "failed")] == 90 * DAY


def test_a_later_rule_wins_over_an_earlier_one() -> None:
    assert as_map(parse_rules(["failed=1d", "failed=2d"], base=())) == {(None, "failed"): 2 * DAY}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("succeeded", "must look like succeeded=14d"),
        ("=7d", "must look like succeeded=14d"),
        ("failed=", "must look like succeeded=14d"),
        ("reports.send:finished=1d", "unknown state 'finished'"),
        ("failed=a while", "not a duration"),
    ],
)
def test_a_malformed_rule_is_refused_with_the_reason(spec: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_rules([spec])


def test_specificity_orders_name_and_state_over_name_over_state_over_any() -> None:
    ranks = [RetentionRule(n, s, 1.0).specificity
             for n, s in (("n", "failed"), ("n", None), (None, "failed"), (None, None))]
    assert ranks == sorted(ranks, reverse=True)
    assert len(set(ranks)) == 4


class _Store:
    """Only what `sweep` calls; `expired` hands out ids until none are left."""

    def __init__(self, ids: list[str], deletes: bool = True) -> None:
        self.ids = ids
        self.deletes = deletes
        self.compacted_before: float | None = None
        self.limits: list[int] = []

    def expired(self, rules: Sequence[RetentionRule], now: float, limit: int) -> list[str]:
        self.limits.append(limit)
        return self.ids[:limit]

    def delete(self, ids: Sequence[str]) -> int:
        if not self.deletes:
            return 0
        self.ids = [i for i in self.ids if i not in ids]
        return len(ids)

    def compact(self, before: float) -> int:
        self.compacted_before = before
        return 3


def test_the_sweep_asks_for_at_most_one_step_at_a_time() -> None:
    store = _Store([f"j{i}" for i in range(7)])
    steps: list[int] = []
    result = sweep(store, now=1000 * DAY, step=3, progress=steps.append)  # type: ignore[arg-type]
    assert steps == [3, 3, 1]
    assert set(store.limits) == {3}
    assert (result.deleted, result.compacted) == (7, 3)


def test_the_sweep_compacts_minute_rollups_older_than_its_setting() -> None:
    store = _Store([])
    sweep(store, now=1000 * DAY, minute_rollup_days=7)  # type: ignore[arg-type]
    assert store.compacted_before == 993 * DAY


def test_the_sweep_stops_when_nothing_could_be_deleted() -> None:
    store = _Store(["j1"], deletes=False)  # e.g. another sweeper got there first
    assert sweep(store, now=1000 * DAY).deleted == 0  # type: ignore[arg-type]
