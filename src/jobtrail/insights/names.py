"""One job name over a span: duration trend and heatmap, throughput, failure rate, waits, recent
failures and its periodic status, all from roll-ups but the few newest failed rows."""

from __future__ import annotations

import bisect
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from jobtrail.durations import format_duration, parse_instant
from jobtrail.insights import kept
from jobtrail.insights.series import (
    Histograms,
    Series,
    choose_step,
    count_series,
    grid,
    percentiles_of,
    ratio_series,
    step_histograms,
)
from jobtrail.model import Job, JobFilter
from jobtrail.periodic import PeriodicStatus, status
from jobtrail.sketch import quantiles, value_of
from jobtrail.store.base import Store

__all__ = ["HEAT_EDGES", "Heatmap", "NameDetail", "heatmap", "name_detail", "state_counts"]

HEAT_EDGES = (0.0, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
              3600.0, 7200.0, 21600.0, 86400.0)
"""Duration bin edges in seconds for heatmaps: round human values, so a bin reads "1m 00s–2m 00s";
the last bin holds everything from a day up."""


DAILY_FROM = 28 * 86400.0
"""Seconds of window from which the name page charts one point per day (30 d: 30 points, as
Grafana would show a month): whole days come from the daily roll-ups, where 3-hour points read
every hourly row of the month (~20,000 merged rows per duration kind for a busy name)."""

CHART_MERGE = 3
"""Sketch buckets merged per row for the name page's charts: three times fewer rows from the
store, percentiles within about 3 % instead of 1 % (the page's overall numbers stay at 1 %)."""


@dataclass(frozen=True, slots=True)
class Heatmap:
    """Counts per (time bucket, duration bin): `cells` are (bucket start, bin index, n), non-zero
    only; `bins` are (low, high] edges in seconds (high None: no upper edge), `labels` say them."""

    step: int
    times: list[float]
    bins: list[tuple[float, float | None]]
    labels: list[str]
    cells: list[tuple[float, int, int]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "times": list(self.times),
            "bins": [list(b) for b in self.bins],
            "labels": list(self.labels),
            "cells": [list(c) for c in self.cells],
        }


@dataclass(frozen=True, slots=True)
class NameDetail:
    """Charts share one step; `runs` and the percentiles are over the whole span (roll-ups:
    every attempt's run, by when it ended; waits by when they ended)."""

    name: str
    since: float
    until: float
    runs: int
    p50_run: float | None
    p95_run: float | None
    p50_wait: float | None
    p95_wait: float | None
    trend: Series
    heatmap: Heatmap
    throughput: Series
    failure_rate: Series
    wait: Series
    recent_failures: list[Job]
    periodic: PeriodicStatus | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "since": self.since,
            "until": self.until,
            "runs": self.runs,
            "p50_run": self.p50_run,
            "p95_run": self.p95_run,
            "p50_wait": self.p50_wait,
            "p95_wait": self.p95_wait,
            "trend": self.trend.to_dict(),
            "heatmap": self.heatmap.to_dict(),
            "throughput": self.throughput.to_dict(),
            "failure_rate": self.failure_rate.to_dict(),
            "wait": self.wait.to_dict(),
            "recent_failures": [j.as_dict() for j in self.recent_failures],
            "periodic": None if self.periodic is None else self.periodic.to_dict(),
        }


def _bin_label(lo: float, hi: float | None) -> str:
    if hi is None:
        return f"> {format_duration(lo)}"
    return f"{format_duration(lo) if lo else '0'}–{format_duration(hi)}"


def heatmap(hist: Histograms, since: float, until: float, step: int) -> Heatmap:
    """`step_histograms`' durations per time bucket and human duration bin; the bins shown run
    from the shortest to the longest one that holds anything (a value within 1 % of an edge may
    land in the bin next to it, as the sketch keeps no finer detail)."""
    starts = grid(since, until, step)
    counts: dict[tuple[int, int], int] = defaultdict(int)
    bin_of: dict[int, int] = {}  # sketch bucket → bin: a page has a few hundred distinct ones
    for t, buckets in hist.items():
        for bucket, n in buckets.items():
            index = bin_of.get(bucket)
            if index is None:
                index = bin_of[bucket] = max(
                    0, bisect.bisect_left(HEAT_EDGES, value_of(bucket)) - 1)
            counts[(t, index)] += n
    used = sorted({i for _, i in counts})
    lo, hi = (used[0], used[-1]) if used else (0, -1)
    bins: list[tuple[float, float | None]] = [
        (HEAT_EDGES[i], HEAT_EDGES[i + 1] if i + 1 < len(HEAT_EDGES) else None)
        for i in range(lo, hi + 1)
    ]
    return Heatmap(
        step=step,
        times=[float(t) for t in starts],
        bins=bins,
        labels=[_bin_label(a, b) for a, b in bins],
        cells=[(float(t), i - lo, n) for (t, i), n in sorted(counts.items()) if n > 0],
    )


def _overall(store: Store, kind: str, since: float, until: float,
             names: tuple[str, ...]) -> tuple[int, float | None, float | None]:
    buckets, n, _, lo, hi = kept.histogram(store, kind, since, until, names)
    q = quantiles(buckets, (0.5, 0.95), lo, hi)
    return n, q[0.5], q[0.95]


def name_detail(
    store: Store,
    name: str,
    since: float | str,
    until: float | str | None = None,
    now: float | None = None,
    failures: int = 5,
) -> NameDetail:
    """Everything the name page charts over [since, until) (times as Unix seconds, or spans back
    from now such as "7d"), at a step giving 100–300 points, or one per day from four weeks."""
    now = time.time() if now is None else now
    start = parse_instant(since, now)
    end = now if until is None else parse_instant(until, now)
    step = choose_step(start, end, now, days_from=DAILY_FROM)
    names = (name,)
    throughput = count_series(store, start, end, step, ("entered:succeeded", "entered:failed"),
                              names, columns=("succeeded", "failed"))
    runs = step_histograms(store, "run", start, end, step, names, merge=CHART_MERGE)
    waits = step_histograms(store, "wait", start, end, step, names, merge=CHART_MERGE)
    count, p50_run, p95_run = _overall(store, "run", start, end, names)
    _, p50_wait, p95_wait = _overall(store, "wait", start, end, names)
    recent = store.find(JobFilter(states=("failed",), names=names), failures, None)
    return NameDetail(
        name=name,
        since=start,
        until=end,
        runs=count,
        p50_run=p50_run,
        p95_run=p95_run,
        p50_wait=p50_wait,
        p95_wait=p95_wait,
        trend=percentiles_of(runs, start, end, step),
        heatmap=heatmap(runs, start, end, step),
        throughput=throughput,
        failure_rate=ratio_series(throughput, "failed"),
        wait=percentiles_of(waits, start, end, step),
        recent_failures=[Job.from_record(r) for r in recent],
        periodic=_periodic(store, name, now),
    )


def state_counts(store: Store, name: str, since: float, now: float) -> dict[str, int]:
    """The jobs of `name` created at or after `since`, per current state: what the job list
    filtered the same way counts. A month's window holds most of a busy name's rows (250,000 at
    a million jobs: 170 ms to count), so when the roll-ups say fewer of its jobs were queued
    before `since` than after, this takes all its rows (the store's current-state counters)
    less those created before `since`. Both reads are exact; a job changing state between them
    can shift one count by one for that load."""
    names = (name,)
    total = store.counts(JobFilter(names=names), "state")
    inside = sum(n for *_, n in kept.totals(store, since, max(since, now), names,
                                           metrics=("entered:queued",)))
    if sum(total.values()) - inside >= inside:
        return store.counts(JobFilter(names=names, since=since), "state")
    before = store.counts(JobFilter(names=names, until=since), "state")
    left = {state: n - before.get(state, 0) for state, n in total.items()}
    return {state: n for state, n in left.items() if n > 0}


def _periodic(store: Store, name: str, now: float) -> PeriodicStatus | None:
    """The name's periodic status when it was declared periodic, else None."""
    declared = [d for d in store.periodics() if d["name"] == name]
    if not declared:
        return None
    return status(declared[0], store.last_success((name,)).get(name), now)
