"""The collector behind `GET /metrics` (SPEC §7): every value is read from the store at scrape time.

Counters and histograms come from the maintained all-time roll-ups (`Store.series_totals`, a few
rows per series), never from counters in this process, so they are monotonic across restarts and
identical whichever server process is scraped.
Gauges come from the store's current view (queue levels, workers, last successes). Each family
lists every known series, zeros included, so expressions that divide one status by another, or
compare a gauge over time, always find matching label sets.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from jobtrail import periodic
from jobtrail.errors import InvalidInput
from jobtrail.metrics import exposition
from jobtrail.metrics.buckets import EDGES, cumulative
from jobtrail.metrics.cap import DEFAULT_MAX_NAMES, Fold
from jobtrail.store.base import RollupTotals, Store

__all__ = ["CONTENT_TYPE", "HEALTH_LEVELS", "WORKER_STALE_SECONDS", "JobCollector", "render"]

log = logging.getLogger(__name__)

STATUSES = {"success": "entered:succeeded", "failed": "entered:failed",
            "killed": "entered:killed", "cancelled": "entered:cancelled"}
ITEMS = {"success": "items:done", "failed": "items:failed", "skipped": "items:skipped"}
SERIES_COUNTERS = (
    ("job_enqueued", "Jobs queued (each attempt).", "entered:queued"),
    ("job_started", "Job executions started (each attempt).", "entered:started"),
    ("job_retry", "Executions that failed and were retried.", "retry"),
    ("job_lost", "Jobs marked lost: started, then silent past the stall timeout (also those a "
     "later event revived).", "marked:lost"),
)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The classic text format every Prometheus 2.x understands (our names and labels are plain ASCII)."""
HEALTH_LEVELS = {"healthy": 0, "degraded": 1, "unhealthy": 2}
WORKER_STALE_SECONDS = 120.0
"""A worker not heard from for this long counts neither busy nor idle."""

Pair = tuple[str, str]


class JobCollector:
    """A prometheus_client collector over one store. It keeps nothing between scrapes."""

    def __init__(
        self,
        store: Store,
        *,
        max_names: int = DEFAULT_MAX_NAMES,
        worker_stale: float = WORKER_STALE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.max_names = max_names
        self.worker_stale = worker_stale
        self.clock = clock

    def describe(self) -> list[Metric]:
        """Nothing up front, so registering in a registry (`REGISTRY.register(collector)`) does
        not read the store; every family is named at scrape time."""
        return []

    def collect(self) -> Iterator[Metric]:
        now = self.clock()
        totals = self.store.series_totals(edges=EDGES)
        fold = Fold(totals.series, self.max_names)
        folded = {(n, q): (fold.name(n), fold.queue(q)) for n, q in totals.series}
        pairs = list(dict.fromkeys(folded.values()))
        yield from _executions(totals, folded, pairs)
        yield from _durations(totals, folded, pairs)
        yield from _items(totals, folded, pairs)
        yield from self._levels(fold, pairs, now)
        last = self.store.last_success()
        yield _last_success(last, fold)
        yield from _periodic(self.store, last, fold, now)
        yield from self._workers(fold, now)
        health = _health_level(self.store)
        if health is not None:
            yield GaugeMetricFamily("jobtrail_health_status",
                                    "Overall health: 0 healthy, 1 degraded, 2 unhealthy.", health)

    def _levels(self, fold: Fold, pairs: list[Pair], now: float) -> Iterator[Metric]:
        queued: dict[Pair, float] = dict.fromkeys(pairs, 0.0)
        running: dict[Pair, float] = dict.fromkeys(pairs, 0.0)
        oldest: dict[Pair, float] = dict.fromkeys(pairs, 0.0)
        for level in self.store.queue_levels():
            key = (fold.name(level["name"]), fold.queue(level["queue"]))
            queued[key] = queued.get(key, 0.0) + level["queued"]
            running[key] = running.get(key, 0.0) + level["running"]
            if level["queued"] and level["oldest_queued_at"] is not None:
                age = max(0.0, now - level["oldest_queued_at"])
                oldest[key] = max(oldest.get(key, 0.0), age)
        labels = ["job_name", "queue"]
        for name, doc, values in (
            ("job_queue_size", "Jobs queued now, waiting for a worker.", queued),
            ("job_running", "Jobs running now.", running),
            ("job_oldest_queued_age_seconds", "Age of the oldest job still queued (0 when none).",
             oldest),
        ):
            family = GaugeMetricFamily(name, doc, labels=labels)
            for key, value in values.items():
                family.add_metric(list(key), value)
            yield family

    def _workers(self, fold: Fold, now: float) -> Iterator[Metric]:
        busy: dict[str, float] = defaultdict(float)
        idle: dict[str, float] = defaultdict(float)
        for worker in self.store.workers():
            live = now - worker["last_seen"] <= self.worker_stale
            for queue in dict.fromkeys(fold.queue(q) for q in worker["queues"] or ["default"]):
                busy[queue] += 1.0 if live and worker["state"] == "busy" else 0.0
                idle[queue] += 1.0 if live and worker["state"] == "idle" else 0.0
        for name, doc, values in (
            ("job_worker_busy", "Live workers running a job, per queue they serve.", busy),
            ("job_worker_idle", "Live workers waiting for a job, per queue they serve.", idle),
        ):
            family = GaugeMetricFamily(name, doc, labels=["queue"])
            for queue, value in values.items():
                family.add_metric([queue], value)
            yield family


Folded = Mapping[Pair, Pair]
"""Each series' (name, queue) → its labels after the cap."""


def _executions(totals: RollupTotals, folded: Folded, pairs: list[Pair]) -> Iterator[Metric]:
    counts: dict[tuple[str, str, str], int] = defaultdict(int)
    for (name, queue, metric), n in totals.counts.items():
        counts[(*folded[(name, queue)], metric)] += n
    family = CounterMetricFamily(
        "job_execution", "Job executions that ended, by how (each attempt's end).",
        labels=["job_name", "queue", "status"])
    for name, queue in pairs:
        for status, metric in STATUSES.items():
            family.add_metric([name, queue, status], counts.get((name, queue, metric), 0))
    yield family
    for metric_name, doc, metric in SERIES_COUNTERS:
        family = CounterMetricFamily(metric_name, doc, labels=["job_name", "queue"])
        for name, queue in pairs:
            family.add_metric([name, queue], counts.get((name, queue, metric), 0))
        yield family


def _durations(totals: RollupTotals, folded: Folded, pairs: list[Pair]) -> Iterator[Metric]:
    buckets: dict[tuple[str, str, str], dict[int, int]] = {}
    merged: set[tuple[str, str, str]] = set()
    for (name, queue, kind), hist in totals.buckets.items():
        key = (*folded[(name, queue)], kind)
        into = buckets.get(key)
        if into is None:
            buckets[key] = hist  # the common case: a series keeps its own labels
            continue
        if key not in merged:  # folding several series: sum into a copy, not the store's mapping
            into = buckets[key] = dict(into)
            merged.add(key)
        for bucket, n in hist.items():
            into[bucket] = into.get(bucket, 0) + n
    summaries: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for (name, queue, kind), (n, total) in totals.summaries.items():
        s = summaries[(*folded[(name, queue)], kind)]
        s[0] += n
        s[1] += total
    for metric_name, doc, kind in (
        ("job_execution_duration_seconds", "Run time of job executions (started to ended).", "run"),
        ("job_wait_duration_seconds", "Time jobs waited in the queue before starting.", "wait"),
    ):
        family = HistogramMetricFamily(metric_name, doc, labels=["job_name", "queue"])
        for name, queue in pairs:
            count, seconds = summaries.get((name, queue, kind), (0.0, 0.0))
            family.add_metric([name, queue],
                              cumulative(buckets.get((name, queue, kind), {}), int(count)), seconds)
        yield family


def _items(totals: RollupTotals, folded: Folded, pairs: list[Pair]) -> Iterator[Metric]:
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for (name, queue, metric), n in totals.counts.items():
        if metric.startswith("items:"):
            counts[(folded[(name, queue)][0], metric)] += n
    family = CounterMetricFamily(
        "job_items_processed", "Items finished jobs reported in their progress, by outcome.",
        labels=["job_name", "status"])
    for name in dict.fromkeys(name for name, _ in pairs):
        for status, metric in ITEMS.items():
            family.add_metric([name, status], counts.get((name, metric), 0))
    yield family


def _last_success(last: Mapping[str, float], fold: Fold) -> Metric:
    latest: dict[str, float] = {}
    for name, at in last.items():
        key = fold.name(name)
        latest[key] = max(latest.get(key, at), at)
    family = GaugeMetricFamily("job_last_success_timestamp_seconds",
                               "When a job of this name last succeeded (Unix seconds).",
                               labels=["job_name"])
    for name, at in latest.items():
        family.add_metric([name], at)
    return family


def _periodic(store: Store, last: Mapping[str, float], fold: Fold, now: float) -> Iterator[Metric]:
    """Each declared periodic job's deadlines by its own schedule (`jobtrail.periodic.status`), so
    one alert rule judges a 6-hourly job by 6 hours and a cron job by its cron expression."""
    late: dict[str, float] = {}
    down: dict[str, float] = {}
    for declared in store.periodics():
        try:
            st = periodic.status(declared, last.get(declared["name"]), now)
        except InvalidInput as exc:  # e.g. a cron expression this version cannot parse
            log.warning("periodic job %r has no deadline: %s", declared["name"], exc)
            continue
        name = fold.name(declared["name"])
        late[name] = min(late.get(name, st.late_at), st.late_at)
        down[name] = min(down.get(name, st.down_at), st.down_at)
    for metric_name, doc, values in (
        ("job_periodic_late_timestamp_seconds",
         "When a declared periodic job becomes late without a new success (Unix seconds).", late),
        ("job_periodic_down_timestamp_seconds",
         "When a declared periodic job becomes down without a new success (Unix seconds).", down),
    ):
        family = GaugeMetricFamily(metric_name, doc, labels=["job_name"])
        for name, at in values.items():
            family.add_metric([name], at)
        yield family


def _health_level(store: Store) -> int | None:
    """The overall level of `jobtrail.health.check(store)` (a report with `.level`), or None while
    that module is absent. Imported lazily: metrics do not depend on the health checks."""
    try:
        health = importlib.import_module("jobtrail.health")
    except ImportError:
        return None
    check = getattr(health, "check", None)
    if check is None:
        return None
    try:
        # A scrape only reads: marking stalled jobs is the server's sweeper's (and `jobtrail
        # health`'s) work, so a GET never writes.
        level = getattr(check(store, mark=False), "level", None)
    except Exception:  # a check that cannot run is itself a finding
        log.exception("the health check failed while serving /metrics")
        level = None
    return HEALTH_LEVELS.get(str(level), HEALTH_LEVELS["unhealthy"])


def render(collector: JobCollector) -> bytes:
    """The Prometheus text exposition of one scrape."""
    return exposition.text(collector.collect())
