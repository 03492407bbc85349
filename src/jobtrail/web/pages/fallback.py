"""Small stand-ins for `jobtrail.insights`, with the same field names, used while it is missing.

They read only roll-ups and bounded row samples, so a page stays cheap on a large history; the
insights package computes the same views more thoroughly and wins whenever it can be imported.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jobtrail.model import BatchSummary, Job, JobFilter
from jobtrail.query import batch_summary, load_series
from jobtrail.sketch import quantiles
from jobtrail.states import TERMINAL
from jobtrail.store.base import Store

__all__ = [
    "BatchTimeline",
    "BusyContext",
    "GanttRow",
    "NameRow",
    "Overview",
    "QueueRow",
    "RunComparison",
    "Series",
    "batch_timeline",
    "busy_context",
    "compare_run",
    "overview",
    "step_for",
]

SAMPLE = 2000  # rows read at most for a chart that needs exact per-job values


@dataclass(frozen=True, slots=True)
class Series:
    step: int
    names: tuple[str, ...]
    points: tuple[tuple[float, Mapping[str, float | None]], ...]


@dataclass(frozen=True, slots=True)
class NameRow:
    name: str
    succeeded_per_min: float
    failed_per_min: float
    failure_rate: float | None
    p50_run: float | None
    p95_run: float | None
    last_success_at: float | None
    level: str


@dataclass(frozen=True, slots=True)
class QueueRow:
    queue: str
    queued: int
    running: int
    oldest_queued_at: float | None


@dataclass(frozen=True, slots=True)
class Overview:
    counts: Mapping[str, int]
    names: tuple[NameRow, ...]
    queues: tuple[QueueRow, ...]
    throughput: Series
    failure_rate: Series
    load: Series


@dataclass(frozen=True, slots=True)
class RunComparison:
    points: tuple[tuple[float, float | None, float | None, str], ...]
    usual_run: float | None
    run_ratio: float | None
    run_percentile: float | None
    usual_wait: float | None
    wait_percentile: float | None
    sentence: str


@dataclass(frozen=True, slots=True)
class BusyContext:
    load: Series
    queued_at_start: int | None
    running_at_start: int | None
    marks: Mapping[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class GanttRow:
    job_id: str
    name: str | None
    state: str
    queued_at: float | None
    started_at: float | None
    finished_at: float | None


@dataclass(frozen=True, slots=True)
class BatchTimeline:
    summary: BatchSummary
    rows: tuple[GanttRow, ...]
    eta: float | None


def step_for(span: float) -> int:
    """A bucket size the roll-ups can answer (60 s or whole hours) giving at most ~360 points."""
    if span <= 6 * 3600:
        return 60
    if span <= 4 * 86400:
        return 3600
    if span <= 31 * 86400:
        return 4 * 3600
    return 86400


def level_of(failure_rate: float | None) -> str:
    """Green under 5% failures, yellow to 20%, red above (the operations dashboard's thresholds)."""
    if failure_rate is None or failure_rate < 0.05:
        return "ok"
    return "warn" if failure_rate <= 0.2 else "bad"


def _load(store: Store, since: float, until: float, names: Sequence[str] = ()) -> Series:
    step = step_for(until - since)
    rows = load_series(store, since, until, step, names=names)
    return Series(step, ("queued", "running"),
                  tuple((float(t), {"queued": q, "running": r}) for t, q, r in rows))


def overview(store: Store, since: float, until: float, now: float | None = None) -> Overview:
    step = step_for(until - since)
    metrics = ("entered:succeeded", "entered:failed")
    per_name: dict[str, dict[str, int]] = {}
    per_bucket: dict[int, dict[str, int]] = {}
    for t, name, _queue, metric, n in store.rollup_counts(since, until, metrics=metrics, step=step):
        key = metric.split(":")[1]
        per_name.setdefault(name, {"succeeded": 0, "failed": 0})[key] += n
        per_bucket.setdefault(t, {"succeeded": 0, "failed": 0})[key] += n
    minutes = max(1.0, (until - since) / 60)
    last: dict[str, float] = {}
    if hasattr(store, "last_success"):
        last = dict(store.last_success(tuple(per_name)))
    rows = []
    for name, c in sorted(per_name.items(), key=lambda kv: -(kv[1]["succeeded"] + kv[1]["failed"])):
        done = c["succeeded"] + c["failed"]
        rate = c["failed"] / done if done else None
        buckets, n, _total, lo, hi = store.rollup_histogram("run", since, until, names=[name])
        q = quantiles(buckets, (0.5, 0.95), lo, hi) if n else {0.5: None, 0.95: None}
        rows.append(NameRow(name or "(unnamed)", c["succeeded"] / minutes, c["failed"] / minutes, rate,
                            q[0.5], q[0.95], last.get(name), level_of(rate)))
    points = []
    rates = []
    t = int(since // step * step)
    while t < until:
        c = per_bucket.get(t, {"succeeded": 0, "failed": 0})
        points.append((float(t), {"succeeded": float(c["succeeded"]), "failed": float(c["failed"])}))
        done = c["succeeded"] + c["failed"]
        rates.append((float(t), {"failure rate": c["failed"] / done if done else None}))
        t += step
    return Overview(
        counts=store.counts(JobFilter(since=since, until=until), "state"),
        names=tuple(rows),
        queues=tuple(queue_rows(store)),
        throughput=Series(step, ("succeeded", "failed"), tuple(points)),
        failure_rate=Series(step, ("failure rate",), tuple(rates)),
        load=_load(store, since, until),
    )


def queue_rows(store: Store) -> list[QueueRow]:
    if hasattr(store, "queue_levels"):
        merged: dict[str, QueueRow] = {}
        for row in store.queue_levels():
            old = merged.get(row["queue"])
            oldest = [x for x in (row["oldest_queued_at"], old and old.oldest_queued_at) if x]
            merged[row["queue"]] = QueueRow(
                row["queue"], row["queued"] + (old.queued if old else 0),
                row["running"] + (old.running if old else 0), min(oldest) if oldest else None)
        return sorted(merged.values(), key=lambda r: r.queue)
    queued = store.counts(JobFilter(states=("queued", "retrying")), "queue")
    running = store.counts(JobFilter(states=("started", "kill_requested")), "queue")
    out = []
    for queue in sorted(set(queued) | set(running)):
        out.append(QueueRow(queue, queued.get(queue, 0), running.get(queue, 0), None))
    return out


def _rank(values: Sequence[float], value: float) -> float:
    below = sum(1 for v in values if v < value) + 0.5 * sum(1 for v in values if v == value)
    return 100 * below / len(values)


def _median(values: Sequence[float]) -> float | None:
    s = sorted(values)
    if not s:
        return None
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def compare_run(store: Store, job: Job, days: float = 14,
                same_labels: Sequence[str] = ("workspace",)) -> RunComparison:
    from jobtrail.durations import format_duration

    anchor = job.finished_at or job.started_at or job.created_at
    labels = tuple((k, v) for k, v in job.labels.items() if k in same_labels)
    flt = JobFilter(names=(job.name,) if job.name else (), labels=labels,
                    since=anchor - days * 86400, until=anchor + 1)
    records = store.find(flt, SAMPLE, None)
    points = tuple(
        (r["finished_at"], r["run"], r["wait"], r["id"]) for r in records
        if r["finished_at"] is not None and r["state"] in TERMINAL
    )
    others = [p for p in points if p[3] != job.id]
    runs = [p[1] for p in others if p[1] is not None]
    waits = [p[2] for p in others if p[2] is not None]
    usual_run, usual_wait = _median(runs), _median(waits)
    run_pct = _rank(runs, job.run) if runs and job.run is not None else None
    wait_pct = _rank(waits, job.wait) if waits and job.wait is not None else None
    ratio = job.run / usual_run if job.run is not None and usual_run else None
    if not runs:
        sentence = f"No earlier runs of this job in the last {days:g} days to compare with."
    else:
        parts = []
        if job.run is not None and usual_run is not None:
            ran = "ran" if job.finished_at is not None else "has run"
            text = f"{ran} {format_duration(job.run)}"
            if ratio is not None and not math.isclose(ratio, 1, rel_tol=0.05):
                text += f", {ratio:.1f}× the usual {format_duration(usual_run)}"
            else:
                text += f", about the usual {format_duration(usual_run)}"
            if run_pct is not None:
                text += f" (p{min(99, round(run_pct))})"
            parts.append(text)
        if job.wait is not None and usual_wait is not None:
            parts.append(f"waited {format_duration(job.wait)}, usual {format_duration(usual_wait)}")
        sentence = ("; ".join(parts) or "not started yet") + f" — against {len(runs)} earlier runs."
        sentence = sentence[0].upper() + sentence[1:]
    return RunComparison(points, usual_run, ratio, run_pct, usual_wait, wait_pct, sentence)


def busy_context(store: Store, job: Job, now: float | None = None) -> BusyContext:
    import time

    now = time.time() if now is None else now
    begin = job.queued_at or job.created_at
    end = job.finished_at or now
    life = max(60.0, end - begin)
    since, until = begin - life, min(now, end + life)
    load = _load(store, since, until)
    start = job.started_at
    at_start = None
    if start is not None:
        before = [p for p in load.points if p[0] <= start]
        at_start = before[-1][1] if before else None
    return BusyContext(
        load=load,
        queued_at_start=int(at_start["queued"] or 0) if at_start else None,
        running_at_start=int(at_start["running"] or 0) if at_start else None,
        marks={"queued_at": begin, "started_at": job.started_at, "finished_at": job.finished_at},
    )


def batch_timeline(store: Store, batch_id: str, now: float | None = None) -> BatchTimeline:
    import time

    now = time.time() if now is None else now
    summary = batch_summary(store, batch_id)
    rows = []
    runs: dict[str, list[float]] = {}
    for r in store.batch_rows(batch_id):
        rows.append(GanttRow(r["id"], r["name"], r["state"], r["queued_at"], r["started_at"],
                             r["finished_at"]))
        if r["run"] is not None and r["state"] == "succeeded":
            runs.setdefault(r["name"] or "", []).append(r["run"])
    rows.sort(key=lambda g: (g.queued_at or g.started_at or 0, g.job_id))
    eta = None
    if not summary.finished:
        ends = []
        for row in rows:
            if row.state in TERMINAL:
                continue
            usual = _median(runs.get(row.name or "", [])) or 0.0
            start = row.started_at if row.started_at is not None else now
            ends.append(max(now, start + usual))
        eta = max(ends) if ends else None
    return BatchTimeline(summary, tuple(rows), eta)


def as_plain(value: Any) -> Any:
    """Dataclasses to dicts, recursively, for JSON."""
    if hasattr(value, "__dataclass_fields__"):
        return {f: as_plain(getattr(value, f)) for f in value.__dataclass_fields__}
    if isinstance(value, Mapping):
        return {str(k): as_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_plain(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class NameDetail:
    trend: Series
    heatmap: Mapping[str, Any]
    throughput: Series
    failure_rate: Series
    wait: Series
    recent_failures: tuple[Job, ...]
    periodic: Any = None


def _pcts(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    s = sorted(values)
    return s[len(s) // 2], s[min(len(s) - 1, round(0.95 * (len(s) - 1)))]


def name_detail(store: Store, name: str, since: float, until: float) -> NameDetail:
    """Counts from roll-ups; duration trend and heatmap from the newest `SAMPLE` jobs of the span."""
    step = step_for(until - since)
    counts: dict[int, dict[str, int]] = {}
    for t, _n, _q, metric, n in store.rollup_counts(since, until, names=[name],
                                                     metrics=("entered:succeeded", "entered:failed"),
                                                     step=step):
        counts.setdefault(t, {"succeeded": 0, "failed": 0})[metric.split(":")[1]] += n
    records = store.find(JobFilter(names=(name,), since=since, until=until), SAMPLE, None)
    runs: dict[int, list[float]] = {}
    waits: dict[int, list[float]] = {}
    for r in records:
        if r["run"] is not None and r["finished_at"] is not None:
            runs.setdefault(int(r["finished_at"] // step * step), []).append(r["run"])
        if r["wait"] is not None and r["started_at"] is not None:
            waits.setdefault(int(r["started_at"] // step * step), []).append(r["wait"])
    through, fails, trend, wait = [], [], [], []
    t = int(since // step * step)
    while t < until:
        c = counts.get(t, {"succeeded": 0, "failed": 0})
        through.append((float(t), {"succeeded": float(c["succeeded"]), "failed": float(c["failed"])}))
        done = c["succeeded"] + c["failed"]
        fails.append((float(t), {"failure rate": c["failed"] / done if done else None}))
        p50, p95 = _pcts(runs.get(t, []))
        trend.append((float(t), {"p50": p50, "p95": p95}))
        w50, w95 = _pcts(waits.get(t, []))
        wait.append((float(t), {"p50": w50, "p95": w95}))
        t += step
    all_runs = [v for vs in runs.values() for v in vs]
    edges: list[float] = []
    if all_runs:
        lo, hi = max(0.001, min(all_runs)), max(all_runs)
        k = 12
        edges = [lo * (hi / lo) ** (i / k) for i in range(k + 1)] if hi > lo else [lo, lo * 2]
    cells: dict[tuple[int, int], int] = {}
    for bucket, values in runs.items():
        for v in values:
            row = next((i for i in range(len(edges) - 1) if v <= edges[i + 1]), len(edges) - 2)
            cells[(bucket, max(0, row))] = cells.get((bucket, max(0, row)), 0) + 1
    heatmap = {"step": step, "edges": edges,
               "cells": [(float(b), row, n) for (b, row), n in sorted(cells.items())]}
    failures = store.find(JobFilter(names=(name,), states=("failed",)), 10, None)
    return NameDetail(
        trend=Series(step, ("p50", "p95"), tuple(trend)),
        heatmap=heatmap,
        throughput=Series(step, ("succeeded", "failed"), tuple(through)),
        failure_rate=Series(step, ("failure rate",), tuple(fails)),
        wait=Series(step, ("p50", "p95"), tuple(wait)),
        recent_failures=tuple(Job.from_record(r) for r in failures),
    )
