"""The default rules: the nine alerts teams usually write for background jobs, and a few more.

Staleness is judged per periodic job by its own interval and grace (`periodic_late`), not by one
global "no success for 2 hours", which can never see a 6-hourly job go missing in time.
"""

from __future__ import annotations

from collections.abc import Mapping

from jobtrail.alerts.kinds import KINDS
from jobtrail.alerts.model import Rule

__all__ = ["DEFAULT_RULES", "make_rule"]

MINUTE = 60.0


def make_rule(
    rule_id: str,
    kind: str,
    severity: str,
    for_: float,
    description: str,
    **params: float,
) -> Rule:
    """A rule whose unspecified parameters take the kind's defaults."""
    merged: dict[str, float] = {k: p.default for k, p in KINDS[kind].params.items()}
    merged.update(params)
    return Rule(rule_id, kind, severity, for_, merged, description)


DEFAULT_RULES: tuple[Rule, ...] = (
    make_rule("failure_rate_warning", "failure_rate", "warning", 5 * MINUTE,
              "more than 5% of a job's runs failed in 10 minutes",
              window=10 * MINUTE, threshold=0.05, min_finished=10),
    make_rule("failure_rate_critical", "failure_rate", "critical", 0,
              "more than 50% of a job's runs failed in 5 minutes",
              window=5 * MINUTE, threshold=0.5, min_finished=10),
    make_rule("periodic_late", "periodic_late", "warning", 0,
              "a periodic job has not succeeded within its interval + grace"),
    make_rule("periodic_down", "periodic_down", "critical", 0,
              "a periodic job has not succeeded for its down threshold"),
    make_rule("run_time_p95_warning", "run_time", "warning", 5 * MINUTE,
              "p95 run time over 5 minutes", threshold=300),
    make_rule("run_time_p95_critical", "run_time", "critical", 5 * MINUTE,
              "p95 run time over 10 minutes", threshold=600),
    make_rule("run_time_long", "run_time_long", "warning", 10 * MINUTE,
              "runs take far longer than this job's own 7 days before today"),
    make_rule("run_time_short", "run_time_short", "warning", 10 * MINUTE,
              "runs finish far sooner than this job's own 7 days before today"),
    make_rule("queue_size_critical", "queue_size", "critical", 2 * MINUTE,
              "more than 1,000 jobs queued"),
    make_rule("queue_growing", "queue_growing", "warning", 10 * MINUTE,
              "a queue of more than 100 jobs keeps growing"),
    make_rule("item_failure_rate", "item_failure_rate", "warning", 5 * MINUTE,
              "more than 20% of processed items failed in 10 minutes"),
    make_rule("worker_lost", "worker_lost", "warning", 0,
              "a worker stopped sending heartbeats without saying it stopped"),
    make_rule("stalled_jobs", "stalled_jobs", "warning", 0,
              "jobs went silent past their stall timeout (marked lost)"),
)


def by_id(rules: tuple[Rule, ...] = DEFAULT_RULES) -> Mapping[str, Rule]:
    return {r.id: r for r in rules}
