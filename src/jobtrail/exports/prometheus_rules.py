"""The default alerts as Prometheus alerting rules over our metrics.

Ratios are built with `sum by (job_name, queue)` on both sides, so numerator and denominator
always have the same labels (a failure rate whose two `status` selections kept different label
sets could never fire). Each rate alert also needs a minimum volume, so one failure out of two runs
pages nobody. Periodic jobs are judged by their own schedule through the deadline gauges that
`/metrics` computes per declared job, so a 6-hourly job is late after 6 hours plus its grace.
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["GROUP", "THRESHOLDS", "rule_groups", "to_yaml"]

GROUP = "jobtrail"
THRESHOLDS: dict[str, float] = {
    "failure_warning": 0.05,  # share of executions failed over 10 minutes
    "failure_critical": 0.5,  # over 5 minutes
    "min_executions": 5,  # in that window, for either failure alert
    "p95_warning_seconds": 300,
    "p95_critical_seconds": 600,
    "queue_critical": 1000,
    "queue_growing_above": 100,
    "item_failure": 0.2,
    "min_items": 10,
    "oldest_queued_seconds": 3600,
}

ENDED = 'status=~"success|failed|killed"'
FAILED = 'status="failed"'
BY = "job_name, queue"


def _executions(window: str, status: str = ENDED) -> str:
    return f"sum by ({BY}) (increase(job_execution_total{{{status}}}[{window}]))"


def _failure_rate(window: str, threshold: float, minimum: float) -> str:
    failed, ended = _executions(window, FAILED), _executions(window)
    return f"(\n  {failed}\n/\n  {ended}\n) > {threshold:g}\nand\n{ended} >= {minimum:g}"


def _p95(threshold: float) -> str:
    return ("histogram_quantile(0.95,\n  sum by (job_name, queue, le) "
            f"(rate(job_execution_duration_seconds_bucket[1h]))\n) > {threshold}")


def _alert(name: str, expr: str, severity: str, summary: str, description: str,
           for_: str | None = None) -> dict[str, Any]:
    rule: dict[str, Any] = {"alert": name, "expr": expr}
    if for_:
        rule["for"] = for_
    rule["labels"] = {"severity": severity}
    rule["annotations"] = {"summary": summary, "description": description}
    return rule


def rule_groups() -> dict[str, Any]:
    """The rules file as a mapping: `{"groups": [{"name": "jobtrail", "rules": [...]}]}`."""
    t = THRESHOLDS
    queued = "sum by (queue) (job_queue_size)"
    live = "sum by (queue) (job_worker_busy + job_worker_idle)"
    rules = [
        _alert("JobFailureRateHigh",
               _failure_rate("10m", t["failure_warning"], t["min_executions"]), "warning",
               "{{ $labels.job_name }} on {{ $labels.queue }}: over 5 % of runs failed (10 min)",
               "More than 5 % of the executions that ended in the last 10 minutes failed "
               f"(at least {t['min_executions']:g} ended).", "5m"),
        _alert("JobFailureRateCritical",
               _failure_rate("5m", t["failure_critical"], t["min_executions"]), "critical",
               "{{ $labels.job_name }} on {{ $labels.queue }}: over half the runs failed (5 min)",
               "More than 50 % of the executions that ended in the last 5 minutes failed.", "2m"),
        _alert("JobPeriodicLate", "time() > job_periodic_late_timestamp_seconds", "warning",
               "Periodic job {{ $labels.job_name }} is late",
               "No success within its interval plus grace (its own schedule)."),
        _alert("JobPeriodicDown", "time() > job_periodic_down_timestamp_seconds", "critical",
               "Periodic job {{ $labels.job_name }} is down",
               "No success for a whole further interval past the late threshold."),
        _alert("JobDurationP95High", _p95(t["p95_warning_seconds"]), "warning",
               "{{ $labels.job_name }}: p95 run time above 5 minutes",
               "The 95th percentile of its run times over the last hour is above 300 s.", "15m"),
        _alert("JobDurationP95Critical", _p95(t["p95_critical_seconds"]), "critical",
               "{{ $labels.job_name }}: p95 run time above 10 minutes",
               "The 95th percentile of its run times over the last hour is above 600 s.", "15m"),
        _alert("JobQueueSizeCritical", f"sum by ({BY}) (job_queue_size) > {t['queue_critical']:g}",
               "critical", "{{ $labels.job_name }}: over 1,000 jobs queued on {{ $labels.queue }}",
               "More than 1,000 jobs have been waiting for 5 minutes.", "5m"),
        _alert("JobQueueGrowing",
               f"sum by ({BY}) (job_queue_size) > {t['queue_growing_above']:g}\n"
               f"and\nsum by ({BY}) (delta(job_queue_size[15m])) > 0", "warning",
               "{{ $labels.job_name }}: the queue on {{ $labels.queue }} keeps growing",
               "Over 100 jobs queued, and more than 15 minutes ago.", "15m"),
        _alert("JobWaitingTooLong",
               f"max by ({BY}) (job_oldest_queued_age_seconds) > {t['oldest_queued_seconds']:g}",
               "warning", "{{ $labels.job_name }}: a job has waited over an hour on {{ $labels.queue }}",
               "The oldest job still queued was queued over an hour ago.", "5m"),
        _alert("JobItemFailureRateHigh",
               "(\n  sum by (job_name) (increase(job_items_processed_total{status=\"failed\"}[30m]))\n/\n"
               "  sum by (job_name) (increase(job_items_processed_total{status=~\"success|failed\"}[30m]))\n"
               f") > {t['item_failure']}\nand\n"
               "sum by (job_name) (increase(job_items_processed_total{status=~\"success|failed\"}[30m])) "
               f">= {t['min_items']:g}", "warning",
               "{{ $labels.job_name }}: over 20 % of items failed (30 min)",
               "More than 20 % of the items processed in the last 30 minutes failed.", "5m"),
        _alert("JobWorkersLost", f"({live} == 0)\nand on (queue)\n({queued} > 0)", "critical",
               "No live worker serves {{ $labels.queue }}, and jobs are waiting",
               "Every worker of this queue stopped sending heartbeats or stopped.", "5m"),
        _alert("JobWorkersIdleWithBacklog",
               "(sum by (queue) (job_worker_busy) == 0)\nand on (queue)\n"
               "(sum by (queue) (job_worker_idle) > 0)\nand on (queue)\n"
               f"({queued} > 0)", "warning",
               "Workers of {{ $labels.queue }} are idle while jobs wait",
               "Live workers report idle for 15 minutes although jobs are queued.", "15m"),
        _alert("JobStalled", f"sum by ({BY}) (increase(job_lost_total[15m])) > 0", "warning",
               "{{ $labels.job_name }}: executions stalled (no heartbeat) on {{ $labels.queue }}",
               "Jobs were marked lost: started, then silent past the stall timeout."),
        _alert("JobtrailUnhealthy", "jobtrail_health_status >= 2", "critical",
               "jobtrail health is unhealthy", "See GET /api/v1/health for the failing checks.",
               "5m"),
    ]
    return {"groups": [{"name": GROUP, "rules": rules}]}


class _Literal(str):
    """A multi-line expression, written as a YAML block so the rules file reads like PromQL."""


def _literal(dumper: yaml.SafeDumper, value: _Literal) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Literal, _literal)


def to_yaml(groups: dict[str, Any] | None = None) -> str:
    """The rules file Prometheus loads (`rule_files:`), with expressions as YAML blocks."""
    groups = rule_groups() if groups is None else groups
    for group in groups["groups"]:
        for rule in group["rules"]:
            if "\n" in rule["expr"]:
                rule["expr"] = _Literal(rule["expr"] + "\n")
    header = "# Prometheus alerting rules over jobtrail's /metrics (`jobtrail export prometheus-rules`).\n"
    return header + yaml.dump(groups, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)
