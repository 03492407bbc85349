"""Rule kinds: what each measures, its parameters (with units and defaults), and its evaluator.

An evaluator returns a `Finding` for every subject whose condition holds at `ctx.now`; a subject it
does not return is clear. Failure rates divide counts of one roll-up read, so the ratio is defined
whenever jobs finished (the trap of dividing two series with different `status` labels, which left
an alert that could never fire, cannot happen here); a minimum volume keeps one failure out of two
runs from paging anyone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from jobtrail.alerts.context import Context
from jobtrail.alerts.model import Finding, Rule
from jobtrail.durations import format_duration

__all__ = ["KINDS", "Kind", "Param"]

DAY = 86400.0


@dataclass(frozen=True, slots=True)
class Param:
    """A numeric parameter: `unit` is "seconds" (YAML may say "10m"), "fraction" (0..1, or "5%"),
    or "count"."""

    unit: str
    default: float
    help: str


@dataclass(frozen=True, slots=True)
class Kind:
    subject: str  # what a rule instance is about: "name", "queue" or "worker"
    params: dict[str, Param]
    evaluate: Callable[[Context, Rule], list[Finding]]
    help: str


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def failure_rate(ctx: Context, rule: Rule) -> list[Finding]:
    out = []
    for name, c in sorted(ctx.by_name(rule.params["window"]).items()):
        if not rule.applies_to(name):
            continue
        failed, finished = c["entered:failed"], c["entered:succeeded"] + c["entered:failed"]
        if finished < rule.param(name, "min_finished") or not finished:
            continue
        rate = failed / finished
        if rate > rule.param(name, "threshold"):
            window = format_duration(rule.params["window"])
            out.append(Finding(name, rate, f"{_pct(rate)} of {finished} finished jobs failed in {window}"
                               f" (threshold {_pct(rule.param(name, 'threshold'))})"))
    return out


def item_failure_rate(ctx: Context, rule: Rule) -> list[Finding]:
    out = []
    for name, c in sorted(ctx.by_name(rule.params["window"]).items()):
        if not rule.applies_to(name):
            continue
        failed = c["items:failed"]
        processed = max(c["items:done"], failed)  # `done` counts every processed item
        if processed < rule.param(name, "min_items") or not processed:
            continue
        rate = failed / processed
        if rate > rule.param(name, "threshold"):
            out.append(Finding(name, rate, f"{_pct(rate)} of {processed} items failed in "
                               f"{format_duration(rule.params['window'])}"))
    return out


def run_time(ctx: Context, rule: Rule) -> list[Finding]:
    out = []
    window = rule.params["window"]
    for name, (runs, _p50, p95) in sorted(ctx.recent_runs(window).items()):
        if not rule.applies_to(name) or p95 is None or runs < rule.param(name, "min_runs"):
            continue
        if p95 > rule.param(name, "threshold"):
            out.append(Finding(name, p95, f"p95 run time {format_duration(p95)} over {runs} runs in "
                               f"{format_duration(window)} (threshold "
                               f"{format_duration(rule.param(name, 'threshold'))})"))
    return out


def _anomaly(ctx: Context, rule: Rule, long: bool) -> list[Finding]:
    out = []
    window = rule.params["window"]
    baselines = ctx.baseline_runs(window, rule.params["baseline"])
    for name, (runs, p50, _p95) in sorted(ctx.recent_runs(window).items()):
        if not rule.applies_to(name) or p50 is None or runs < rule.param(name, "min_runs"):
            continue
        base_runs, base_p50, base_p95 = baselines.get(name, (0, None, None))
        if base_p50 is None or base_p95 is None or base_runs < rule.param(name, "min_baseline_runs"):
            continue
        factor = rule.param(name, "factor")
        usual = (f"usual p50 {format_duration(base_p50)}, p95 {format_duration(base_p95)} over "
                 f"{format_duration(rule.params['baseline'])}")
        if long and p50 > max(base_p95, factor * base_p50):
            out.append(Finding(name, p50, f"p50 run time {format_duration(p50)} over {runs} runs "
                               f"is unusually long ({usual})"))
        if not long and p50 < base_p50 / factor:
            out.append(Finding(name, p50, f"p50 run time {format_duration(p50)} over {runs} runs "
                               f"is unusually short ({usual})"))
    return out


def run_time_long(ctx: Context, rule: Rule) -> list[Finding]:
    return _anomaly(ctx, rule, long=True)


def run_time_short(ctx: Context, rule: Rule) -> list[Finding]:
    return _anomaly(ctx, rule, long=False)


def _queued(ctx: Context) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for level in ctx.queue_levels():
        sizes[level["queue"]] = sizes.get(level["queue"], 0) + int(level["queued"])
    return sizes


def queue_size(ctx: Context, rule: Rule) -> list[Finding]:
    out = []
    for queue, size in sorted(_queued(ctx).items()):
        if rule.applies_to(queue) and size > rule.param(queue, "threshold"):
            out.append(Finding(queue, float(size), f"{size} jobs queued (threshold "
                               f"{rule.param(queue, 'threshold'):g})"))
    return out


def queue_growing(ctx: Context, rule: Rule) -> list[Finding]:
    out = []
    window = rule.params["window"]
    growth = ctx.by_queue(window)
    for queue, size in sorted(_queued(ctx).items()):
        if not rule.applies_to(queue) or size <= rule.param(queue, "min_size"):
            continue
        counter = growth.get(queue)
        grew = counter["load:queued"] if counter is not None else 0  # net change of its size
        if grew >= rule.param(queue, "min_growth"):
            out.append(Finding(queue, float(size), f"{size} jobs queued, {grew} more than "
                               f"{format_duration(window)} ago"))
    return out


def stalled_jobs(ctx: Context, rule: Rule) -> list[Finding]:
    out = []
    window = rule.params["window"]
    for name, c in sorted(ctx.by_name(window).items()):
        lost = c["entered:lost"]
        if rule.applies_to(name) and lost >= rule.param(name, "threshold") and lost > 0:
            out.append(Finding(name, float(lost), f"{lost} jobs went silent past their stall "
                               f"timeout (marked lost) in {format_duration(window)}"))
    return out


def worker_lost(ctx: Context, rule: Rule) -> list[Finding]:
    out = []
    for worker in ctx.workers():
        wid = str(worker["id"])
        if worker.get("state") == "stopped" or not rule.applies_to(wid):
            continue
        silent = ctx.now - float(worker["last_seen"])
        if rule.param(wid, "lost_after") < silent < rule.param(wid, "forget_after"):
            out.append(Finding(wid, silent, f"no heartbeat for {format_duration(silent)} "
                               f"(host {worker.get('host') or '?'}, pid {worker.get('pid') or '?'})"))
    return sorted(out, key=lambda f: f.subject)


def _periodic(ctx: Context, rule: Rule, state: str) -> list[Finding]:
    from jobtrail.periodic import status

    specs = [s for s in ctx.periodics() if rule.applies_to(str(s["name"]))]
    if not specs:
        return []
    last = ctx.last_success()
    out = []
    for spec in specs:
        st = status(spec, last.get(spec["name"]), ctx.now)
        if st.state == state:  # value: seconds overdue
            out.append(Finding(str(spec["name"]), ctx.now - st.due_at, st.reason))
    return sorted(out, key=lambda f: f.subject)


def periodic_late(ctx: Context, rule: Rule) -> list[Finding]:
    return _periodic(ctx, rule, "late")


def periodic_down(ctx: Context, rule: Rule) -> list[Finding]:
    return _periodic(ctx, rule, "down")


_WINDOW = "seconds of recent history looked at"
KINDS: dict[str, Kind] = {
    "failure_rate": Kind("name", {
        "window": Param("seconds", 600, _WINDOW),
        "threshold": Param("fraction", 0.05, "failed ÷ (succeeded + failed) above which it fires"),
        "min_finished": Param("count", 10, "fewer finished jobs in the window never fire"),
    }, failure_rate, "share of a job name's finished runs that failed"),
    "item_failure_rate": Kind("name", {
        "window": Param("seconds", 600, _WINDOW),
        "threshold": Param("fraction", 0.2, "failed items ÷ processed items above which it fires"),
        "min_items": Param("count", 10, "fewer processed items never fire"),
    }, item_failure_rate, "share of a job name's processed items that failed"),
    "run_time": Kind("name", {
        "window": Param("seconds", 600, _WINDOW),
        "threshold": Param("seconds", 300, "p95 run time above which it fires"),
        "min_runs": Param("count", 1, "fewer runs in the window never fire"),
    }, run_time, "p95 run time of a job name"),
    "run_time_long": Kind("name", {
        "window": Param("seconds", 600, _WINDOW),
        "baseline": Param("seconds", 7 * DAY, "history (whole days before today) compared with"),
        "factor": Param("number", 2, "fires when recent p50 > max(usual p95, factor × usual p50)"),
        "min_runs": Param("count", 5, "fewer recent runs never fire"),
        "min_baseline_runs": Param("count", 50, "less history never fires"),
    }, run_time_long, "recent p50 run time far above the name's own history"),
    "run_time_short": Kind("name", {
        "window": Param("seconds", 600, _WINDOW),
        "baseline": Param("seconds", 7 * DAY, "history (whole days before today) compared with"),
        "factor": Param("number", 5, "fires when recent p50 < usual p50 ÷ factor"),
        "min_runs": Param("count", 5, "fewer recent runs never fire"),
        "min_baseline_runs": Param("count", 50, "less history never fires"),
    }, run_time_short, "recent p50 run time far below the name's own history (work skipped?)"),
    "queue_size": Kind("queue", {
        "threshold": Param("count", 1000, "queued jobs above which it fires"),
    }, queue_size, "jobs waiting in a queue now"),
    "queue_growing": Kind("queue", {
        "window": Param("seconds", 600, _WINDOW),
        "min_size": Param("count", 100, "smaller queues never fire"),
        "min_growth": Param("count", 1, "net growth over the window at or above which it fires"),
    }, queue_growing, "a queue that is large and got larger over the window"),
    "stalled_jobs": Kind("name", {
        "window": Param("seconds", 900, _WINDOW),
        "threshold": Param("count", 1, "jobs marked lost in the window at which it fires"),
    }, stalled_jobs, "jobs that stopped sending heartbeats (marked lost)"),
    "worker_lost": Kind("worker", {
        "lost_after": Param("seconds", 120, "heartbeat silence after which a worker is lost"),
        "forget_after": Param("seconds", DAY, "longer silence: the worker is gone, not lost"),
    }, worker_lost, "a worker (not stopped) that stopped sending heartbeats"),
    "periodic_late": Kind("name", {}, periodic_late,
                          "a declared periodic job past its interval + grace without a success"),
    "periodic_down": Kind("name", {}, periodic_down,
                          "a declared periodic job past its down threshold without a success"),
}
