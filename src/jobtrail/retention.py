"""How long jobs are kept, and the sweep that deletes expired rows in bounded steps.

Statistics live in roll-ups, so deleting rows never changes counts or percentiles. The sweep also
compacts per-minute roll-ups older than `minute_rollup_days` (hourly ones keep the history).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from jobtrail.durations import parse_duration
from jobtrail.errors import InvalidInput
from jobtrail.model import RetentionRule
from jobtrail.states import STATES
from jobtrail.store.base import Store

__all__ = ["DEFAULT_RULES", "SweepResult", "parse_rules", "sweep"]

DAY = 86400.0
DEFAULT_RULES = (
    RetentionRule(name=None, state="succeeded", keep=14 * DAY),
    RetentionRule(name=None, state="failed", keep=90 * DAY),
    RetentionRule(name=None, state=None, keep=180 * DAY),
)
"""Succeeded jobs matter briefly, failures longer, anything else (killed, lost, stuck) longest."""


def parse_rules(specs: Iterable[str], base: Iterable[RetentionRule] = DEFAULT_RULES) -> tuple[
    RetentionRule, ...
]:
    """Rules from "succeeded=7d", "reports.send=1d", "TaskPlan.publish:failed=forever", "*=180d".

    A bare word left of "=" is a state if it names one, else a job name; "name:state" gives both,
    either of which may be "*" (any).
    Later rules replace earlier ones with the same name and state.
    """
    rules = {(r.name, r.state): r for r in base}
    for spec in specs:
        left, sep, right = spec.partition("=")
        if not sep or not left.strip() or not right.strip():
            raise InvalidInput(f"retention rule {spec!r} must look like succeeded=14d or name=30d")
        left, right = left.strip(), right.strip()
        keep = None if right == "forever" else parse_duration(right)
        name: str | None
        state: str | None
        if ":" in left:
            # "*" on either side means any: "*:failed" is the failed rule, "name:*" the name rule.
            name_part, _, state_part = left.rpartition(":")
            name = None if name_part.strip() in ("", "*") else name_part.strip()
            state = None if state_part.strip() == "*" else state_part.strip()
            if state is not None and state not in STATES:
                raise InvalidInput(f"retention rule {spec!r}: unknown state {state!r}")
        elif left == "*":
            name, state = None, None
        elif left in STATES:
            name, state = None, left
        else:
            name, state = left, None
        rules[(name, state)] = RetentionRule(name=name, state=state, keep=keep)
    return tuple(rules.values())


@dataclass(frozen=True, slots=True)
class SweepResult:
    deleted: int
    compacted: int


def sweep(
    store: Store,
    rules: Iterable[RetentionRule] = DEFAULT_RULES,
    *,
    now: float | None = None,
    step: int = 1000,
    minute_rollup_days: float = 7,
    progress: Callable[[int], None] | None = None,
) -> SweepResult:
    """Delete expired jobs `step` at a time (short transactions; writers keep going meanwhile)."""
    now = time.time() if now is None else now
    rules = tuple(rules)
    deleted = 0
    while True:
        ids = store.expired(rules, now, step)
        if not ids:
            break
        n = store.delete(ids)
        deleted += n
        if progress:
            progress(n)
        if n == 0:
            break
    compacted = store.compact(now - minute_rollup_days * DAY)
    return SweepResult(deleted=deleted, compacted=compacted)
