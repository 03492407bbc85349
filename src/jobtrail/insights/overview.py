"""The overview page's numbers over a span: counts per state, a health table per job name (seed
002's details table), queue sizes, and the throughput, failure-rate and load charts."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from jobtrail.durations import format_duration, parse_instant
from jobtrail.insights import kept
from jobtrail.insights.fleet import QueueRow, queue_rows
from jobtrail.insights.series import Series, choose_step, counts_and_load, ratio_series
from jobtrail.periodic import status
from jobtrail.rollup import METRICS
from jobtrail.sketch import quantiles
from jobtrail.store.base import Store

__all__ = ["NameRow", "Overview", "Thresholds", "level_of", "overview"]

ENTERED = tuple(m for m in METRICS if m.startswith("entered:"))
LEVELS = ("ok", "warn", "bad")


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When a name's row turns yellow (warn) or red (bad): seed 002's panels. Rates per minute,
    failure rate as a fraction, durations in seconds; a value above a threshold crosses it."""

    failures_per_min_warn: float = 0.1
    failures_per_min_bad: float = 1.0
    failure_rate_warn: float = 0.05
    failure_rate_bad: float = 0.20
    p95_run_warn: float = 300.0
    p95_run_bad: float = 600.0
    since_success_warn: float | None = 120 * 60.0
    since_success_bad: float | None = 360 * 60.0
    """For names not declared periodic (None: never); a periodic name is judged by its own
    schedule instead: late is warn, down is bad."""


@dataclass(frozen=True, slots=True)
class NameRow:
    """One job name over the span. `failure_rate` is failed ÷ (succeeded + failed), None with
    neither; `level` is the worst of the thresholds it crosses, which `reasons` name."""

    name: str
    succeeded_per_min: float
    failed_per_min: float
    failure_rate: float | None
    p50_run: float | None
    p95_run: float | None
    last_success_at: float | None
    level: str
    succeeded: int = 0
    failed: int = 0
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Overview:
    """`counts` are transitions into each state during the span (a job that was queued and then
    succeeded counts once in each), from the roll-ups; queues are as of now."""

    since: float
    until: float
    now: float
    counts: dict[str, int]
    names: list[NameRow]
    queues: list[QueueRow]
    throughput: Series
    failure_rate: Series
    load: Series

    def to_dict(self) -> dict[str, Any]:
        return {
            "since": self.since,
            "until": self.until,
            "now": self.now,
            "counts": dict(self.counts),
            "names": [r.to_dict() for r in self.names],
            "queues": [q.to_dict() for q in self.queues],
            "throughput": self.throughput.to_dict(),
            "failure_rate": self.failure_rate.to_dict(),
            "load": self.load.to_dict(),
        }


def level_of(
    failed_per_min: float,
    failure_rate: float | None,
    p95_run: float | None,
    since_success: float | None,
    t: Thresholds,
) -> tuple[str, list[str]]:
    """("ok" | "warn" | "bad", why), the worst over seed 002's four thresholds."""
    checks: list[tuple[float | None, float | None, float | None, Callable[[float], str]]] = [
        (failed_per_min, t.failures_per_min_warn, t.failures_per_min_bad,
         lambda v: f"{v:.2g} failures/min"),
        (failure_rate, t.failure_rate_warn, t.failure_rate_bad,
         lambda v: f"{v:.0%} of runs failed"),
        (p95_run, t.p95_run_warn, t.p95_run_bad, lambda v: f"p95 run {format_duration(v)}"),
        (since_success, t.since_success_warn, t.since_success_bad,
         lambda v: f"last success {format_duration(v)} ago"),
    ]
    worst = 0
    reasons = []
    for value, warn, bad, say in checks:
        if value is None:
            continue
        level = 2 if bad is not None and value > bad else 1 if warn is not None and value > warn else 0
        if level:
            reasons.append(say(value))
        worst = max(worst, level)
    return LEVELS[worst], reasons


def overview(
    store: Store,
    since: float | str,
    until: float | str | None = None,
    now: float | None = None,
    thresholds: Thresholds | None = None,
) -> Overview:
    """The overview over [since, until) (Unix seconds, or spans back from now such as "6h"; until
    defaults to now), all from roll-ups but the queue sizes, at a step giving 100–300 points.
    Whole past hours are kept a few minutes per process (`insights.kept`), so a refresh re-reads
    only the edges of the span."""
    now = time.time() if now is None else now
    t = thresholds or Thresholds()
    start = parse_instant(since, now)
    end = now if until is None else parse_instant(until, now)
    minutes = max(end - start, 1.0) / 60
    counts: dict[str, int] = defaultdict(int)
    per_name: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for name, _, metric, n in kept.totals(store, start, end, metrics=ENTERED):
        counts[metric.removeprefix("entered:")] += n
        per_name[name][metric] += n
    hist: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for _, name, _, bucket, n in kept.histograms(store, "run", start, end):
        hist[name][bucket] += n
    names = sorted(set(per_name) | set(hist))
    last = store.last_success(names) if names else {}
    periodic = {d["name"]: d for d in store.periodics()}
    rows = []
    for name in names:
        ok = per_name[name]["entered:succeeded"]
        failed = per_name[name]["entered:failed"]
        q = quantiles(hist[name], (0.5, 0.95)) if name in hist else {0.5: None, 0.95: None}
        rate = failed / (ok + failed) if ok + failed else None
        last_ok = last.get(name)
        since_ok = None if last_ok is None or name in periodic else max(0.0, now - last_ok)
        level, reasons = level_of(failed / minutes, rate, q[0.95], since_ok, t)
        if name in periodic:
            judged = status(periodic[name], last_ok, now)
            if judged.state in ("late", "down"):
                reasons.append(judged.reason)
                level = max(level, "warn" if judged.state == "late" else "bad", key=LEVELS.index)
        rows.append(NameRow(
            name=name, succeeded=ok, failed=failed, succeeded_per_min=ok / minutes,
            failed_per_min=failed / minutes, failure_rate=rate, p50_run=q[0.5], p95_run=q[0.95],
            last_success_at=last_ok, level=level, reasons=reasons,
        ))
    step = choose_step(start, end, now)
    throughput, levels = counts_and_load(store, start, end, step,
                                         ("entered:succeeded", "entered:failed"),
                                         columns=("succeeded", "failed"))
    return Overview(
        since=start,
        until=end,
        now=now,
        counts={k: v for k, v in counts.items() if v},
        names=rows,
        queues=queue_rows(store.queue_levels(), now),
        throughput=throughput,
        failure_rate=ratio_series(throughput, "failed"),
        load=levels,
    )
