"""Why was this job slow? Its run and wait against earlier runs of the same name (and labels),
and how busy the system was around its life (seed 000's two questions)."""

from __future__ import annotations

import bisect
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jobtrail.durations import format_duration
from jobtrail.insights.series import MINUTE_ROLLUPS_KEPT, Levels, Series, choose_step, load
from jobtrail.model import Job, JobFilter
from jobtrail.sketch import bucket_of, quantiles
from jobtrail.store.base import Store

__all__ = ["BusyContext", "RunComparison", "busy_context", "compare_run"]

DAY = 86400.0
Point = tuple[float, float, float | None, str]


@dataclass(frozen=True, slots=True)
class RunComparison:
    """This job against earlier runs: `points` are (finished_at, run, wait, job_id), newest first;
    percentiles are the share of earlier runs shorter than this one, in %."""

    job_id: str
    name: str | None
    labels: Mapping[str, str]
    since: float
    until: float
    points: list[Point]
    truncated: bool
    history: int
    source: str
    run: float | None
    wait: float | None
    usual_run: float | None
    run_ratio: float | None
    run_percentile: float | None
    usual_wait: float | None
    wait_percentile: float | None
    sentence: str

    def to_dict(self) -> dict[str, Any]:
        out = {f: getattr(self, f) for f in self.__dataclass_fields__}
        out["labels"] = dict(self.labels)
        out["points"] = [list(p) for p in self.points]
        return out


@dataclass(frozen=True, slots=True)
class BusyContext:
    """The load (queued and running jobs) around one job's life, and at its start."""

    job_id: str
    load: Series
    marks: Mapping[str, float]
    queued_at_start: int | None
    running_at_start: int | None
    usual_load: float | None
    load_ratio: float | None
    sentence: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "load": self.load.to_dict(),
            "marks": dict(self.marks),
            "queued_at_start": self.queued_at_start,
            "running_at_start": self.running_at_start,
            "usual_load": self.usual_load,
            "load_ratio": self.load_ratio,
            "sentence": self.sentence,
        }


# ---- this run against earlier runs ----------------------------------------------------------


class _Sample:
    """Usual value and rank of one duration kind, from exact values or a roll-up histogram."""

    def __init__(self, values: Sequence[float] = (), buckets: Mapping[int, int] | None = None):
        self.values = sorted(values)
        self.buckets = dict(buckets or {})
        self.n = sum(self.buckets.values()) if buckets is not None else len(self.values)

    def usual(self) -> float | None:
        if not self.n:
            return None
        if self.buckets:
            return quantiles(self.buckets, (0.5,))[0.5]
        return statistics.median(self.values)

    def percentile(self, x: float | None) -> float | None:
        """% of the sample below x (ties count half), so the median run is p50."""
        if x is None or not self.n:
            return None
        if self.buckets:
            mine = bucket_of(x)
            below = sum(c for b, c in self.buckets.items() if b < mine)
            same = self.buckets.get(mine, 0)
        else:
            below = bisect.bisect_left(self.values, x)
            same = bisect.bisect_right(self.values, x) - below
        return 100.0 * (below + same / 2) / self.n


def _times(ratio: float) -> str:
    return f"{ratio:.1f}×" if ratio < 10 else f"{ratio:.0f}×"


def _pct(p: float | None) -> str:
    return "" if p is None else f" (p{min(100, max(0, round(p)))})"


def _run_sentence(run: float | None, running_for: float | None, usual: float | None,
                  pct: float | None, days: float, ended: bool) -> str:
    if run is None and running_for is None:
        return "never ran" if ended else "has not run yet"
    verb = "ran" if run is not None else "running for"
    value = run if run is not None else running_for
    assert value is not None
    text = f"{verb} {format_duration(value)}" + ("" if run is not None else " so far")
    if usual is None:
        return text + f", no earlier runs in the {days:g} days before to compare with"
    if usual > 0:
        return text + f", {_times(value / usual)} the usual {format_duration(usual)}{_pct(pct)}"
    return text + f", usually {format_duration(usual)}{_pct(pct)}"


def _wait_sentence(wait: float | None, waiting_for: float | None, usual: float | None,
                   pct: float | None) -> str:
    """ "waited 41s, usual 2s", with the percentile only when the wait stands out (≥ p90)."""
    if wait is not None:
        text = f"waited {format_duration(wait)}"
    elif waiting_for is not None:
        text = f"waiting for {format_duration(waiting_for)} so far"
    else:
        return ""
    if usual is None:
        return text
    return text + f", usual {format_duration(usual)}" + (_pct(pct) if (pct or 0) >= 90 else "")


def compare_run(
    store: Store,
    job: Job,
    days: float = 14,
    same_labels: Sequence[str] = ("workspace",),
    max_points: int = 2000,
    now: float | None = None,
) -> RunComparison:
    """This job's run and wait against runs of the same name created in the `days` before it (and
    with its values of `same_labels` it has). Without labels to match, the usual values come from
    the roll-ups (every run in the window); with them, from the newest `max_points` matching jobs.
    """
    now = time.time() if now is None else now
    labels = {k: job.labels[k] for k in same_labels if k in job.labels}
    until = job.created_at
    since = until - days * DAY
    flt = JobFilter(
        states=("succeeded", "failed", "killed"),
        names=(job.name or "",),
        labels=tuple(sorted(labels.items())),
        since=since,
        until=until,
    )
    rows = store.find_values(flt, ("finished_at", "run", "wait", "id"), max_points + 1, None)
    truncated = len(rows) > max_points
    points: list[Point] = [
        (float(f), float(r), None if w is None else float(w), str(i))
        for f, r, w, i in rows[:max_points]
        if r is not None and f is not None and i != job.id
    ]
    if labels:
        runs = _Sample([p[1] for p in points])
        waits = _Sample([p[2] for p in points if p[2] is not None])
        source = "sample" if truncated else "exact"
    else:
        # A roll-up read includes the minute `until` falls in (the hour, once per-minute rows
        # are compacted): read up to its start, so this job's own run and wait never count.
        unit = 3600 if until < now - MINUTE_ROLLUPS_KEPT else 60
        names, before = (job.name or "",), until // unit * unit
        runs = _Sample(buckets=store.rollup_histogram("run", since, before, names)[0])
        waits = _Sample(buckets=store.rollup_histogram("wait", since, before, names)[0])
        source = "rollup"
    running_for = None
    if job.run is None and job.started_at is not None and job.finished_at is None:
        running_for = max(0.0, now - job.started_at)
    waiting_for = None
    if job.wait is None and job.started_at is None and job.queued_at is not None and (
        job.finished_at is None
    ):
        waiting_for = max(0.0, now - job.queued_at)
    usual_run, usual_wait = runs.usual(), waits.usual()
    this_run = job.run if job.run is not None else running_for
    this_wait = job.wait if job.wait is not None else waiting_for
    run_pct, wait_pct = runs.percentile(this_run), waits.percentile(this_wait)
    parts = [
        _run_sentence(job.run, running_for, usual_run, run_pct, days,
                      job.finished_at is not None),
        _wait_sentence(job.wait, waiting_for, usual_wait, wait_pct),
    ]
    return RunComparison(
        job_id=job.id,
        name=job.name,
        labels=labels,
        since=since,
        until=until,
        points=points,
        truncated=truncated,
        history=runs.n,
        source=source,
        run=this_run,
        wait=this_wait,
        usual_run=usual_run,
        run_ratio=(this_run / usual_run) if this_run is not None and usual_run else None,
        run_percentile=run_pct,
        usual_wait=usual_wait,
        wait_percentile=wait_pct,
        sentence="; ".join(p for p in parts if p),
    )


# ---- was the server busy? -------------------------------------------------------------------


def busy_context(
    store: Store,
    job: Job,
    margin: float | None = None,
    now: float | None = None,
    usual_days: float = 7,
) -> BusyContext:
    """The load around the job's life (from `margin` before it was queued to `margin` after it
    finished, default half its life and at least five minutes), how many other jobs were queued
    and running when it started, and that load against the median hourly load of the
    `usual_days` before."""
    now = time.time() if now is None else now
    born = job.queued_at if job.queued_at is not None else job.created_at
    end = job.finished_at if job.finished_at is not None else now
    life = max(0.0, end - born)
    pad = max(0.5 * life, 300.0) if margin is None else margin
    since, until = born - pad, max(end, min(end + pad, now))
    step = choose_step(since, until, now)
    marks = {k: v for k, v in (("queued", job.queued_at), ("started", job.started_at),
                               ("finished", job.finished_at)) if v is not None}
    at = job.started_at
    ref = at if at is not None else job.finished_at if job.finished_at is not None else now
    week_start = ref - usual_days * DAY
    levels = Levels(store, min(since // step * step, week_start))
    series = load(store, since, until, step, levels=levels)
    queued, running = levels.at(ref)
    if job.queued_at is not None and job.queued_at // 60 < ref // 60:
        queued = max(0, queued - 1)  # this job itself, waiting at the start of that minute
    week = load(store, week_start, ref // 3600 * 3600, 3600, levels=levels)
    levels_by_hour = [sum(v or 0.0 for v in values) for _, values in week.points]
    usual = statistics.median(levels_by_hour) if levels_by_hour else None
    current = queued + running
    ratio = current / usual if usual else None
    if at is not None:
        sentence = f"when it started, {_jobs(running)} running and {queued} queued"
    elif job.finished_at is not None:
        sentence = f"it ended without starting, when {_jobs(running)} running and {queued} queued"
    else:
        sentence = f"it has not started; {running} running and {queued} queued besides it now"
    if usual is not None:
        if ratio is None:
            sentence += ", while usually nothing is queued or running" if current else ""
        elif current == 0:
            sentence += f", against a usual load of {usual:g}"
        elif 0.8 <= ratio <= 1.25:
            sentence += ", about the usual load"
        else:
            sentence += f", {_times(ratio)} the usual load"
    return BusyContext(
        job_id=job.id,
        load=series,
        marks=marks,
        queued_at_start=queued,
        running_at_start=running,
        usual_load=usual,
        load_ratio=ratio,
        sentence=sentence,
    )


def _jobs(n: int) -> str:
    return f"{n} job was" if n == 1 else f"{n} jobs were"
