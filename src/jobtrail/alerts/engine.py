"""One evaluation: every enabled rule against the roll-ups at one instant, then the state steps and
the notifications they cause.

A rule that fails (a store hiccup, a bug in one kind) is logged and skipped: its alerts stay as they
were, and the other rules are still evaluated.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence

from jobtrail.alerts import state
from jobtrail.alerts.context import BaselineCache, Context
from jobtrail.alerts.defaults import DEFAULT_RULES
from jobtrail.alerts.kinds import KINDS
from jobtrail.alerts.model import Finding, Rule, Transition
from jobtrail.alerts.notify import LogNotifier, Notifier, deliver_due
from jobtrail.store.base import Store

__all__ = ["Evaluator"]

log = logging.getLogger("jobtrail.alerts")
PRUNE_EVERY = 3600.0  # seconds between prunes of old alert history


class Evaluator:
    """Rules and notifiers; holds no alert state (the database does), only a baseline cache."""

    def __init__(
        self,
        rules: Sequence[Rule] = DEFAULT_RULES,
        notifiers: Sequence[Notifier] = (LogNotifier(),),
        keep: float | None = 90 * 86400.0,
    ) -> None:
        self.rules = tuple(rules)
        self.notifiers = tuple(notifiers)
        self.keep = keep
        """Seconds of alert history to keep (None: forever); `tick` prunes older history hourly."""
        self._pruned_at = -math.inf
        self.baselines = BaselineCache()
        self.span = max((r.params.get("window", 0.0) for r in self.rules if r.enabled), default=0.0)
        """The longest window a rule reads counters over: one read serves them all."""

    def findings(self, store: Store, now: float) -> dict[str, list[Finding]]:
        """What each enabled rule finds at `now`; rules that failed are absent."""
        ctx = Context(store, now, self.baselines, self.span)
        out: dict[str, list[Finding]] = {}
        for rule in self.rules:
            if not rule.enabled:
                continue
            try:
                out[rule.id] = KINDS[rule.kind].evaluate(ctx, rule)
            except Exception:  # one broken rule must not stop the others
                log.exception("alert rule %s could not be evaluated", rule.id)
        return out

    def evaluate(self, store: Store, now: float | None = None) -> list[Transition]:
        """Evaluate at `now` and store the transitions (with their outbox rows); returns them."""
        now = time.time() if now is None else now
        found = self.findings(store, now)
        channels = [n.channel for n in self.notifiers]
        return state.advance(store, self.rules, found, now, channels)

    def deliver(self, store: Store, now: float | None = None) -> int:
        """Send the notifications that are due; returns how many were sent."""
        return deliver_due(store, self.notifiers, time.time() if now is None else now)

    def tick(self, store: Store, now: float | None = None) -> list[Transition]:
        """One scheduler step: evaluate, deliver what is due, and (hourly) prune old history. The
        delivery pass starts at `now` plus the time the evaluation took, so its leases are not
        shortened by it."""
        now = time.time() if now is None else now
        started = time.monotonic()
        transitions = self.evaluate(store, now)
        self.deliver(store, now + (time.monotonic() - started))
        if self.keep is not None and now - self._pruned_at >= PRUNE_EVERY:
            state.prune(store, now - self.keep)
            self._pruned_at = now
        return transitions
