"""How much time does tracking add to a job's own thread, next to a few Prometheus metric calls?

Times `with trail.track(...) as job: pass` (a started and a succeeded event into the writer's
buffer) with the writer thread running against a SQLite file, against the same-run baseline of
what a Prometheus-instrumented job does: `Counter.inc()` + `Histogram.observe()` + `Gauge.set()`.
Rounds alternate between the two; each round is timed as a whole and divided by its jobs, and the
table gives the median round. Two jobtrail rows: the writer idle during the round (it drains the
buffer between rounds), and the writer draining concurrently (default settings: it wakes every
500 events and competes for the GIL, which is a real cost to the job's thread too). The job's
thread only records compact tuples; building the event dicts is the writer thread's work, which
reaches the job's thread only through that GIL competition (the draining row).

    .venv/bin/python bench/client.py --jobs 100000
"""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from _common import DATA, context, median, met, parser, percentile, progress, sqlite_remove, sqlite_url, table
from jobtrail import Settings, Trail

GOAL = 1.5  # jobtrail ns per job ÷ Prometheus ns per job
ROUND = 2_000  # jobs per timed round: 4,000 events, well below the 100,000-event buffer


Metrics = tuple[Counter, Histogram, Gauge]


def prometheus_metrics() -> Metrics:
    """The usual three per job, in their own registry (never the global one)."""
    registry = CollectorRegistry()
    return (
        Counter("bench_jobs", "jobs done", registry=registry),
        Histogram("bench_job_seconds", "run time", registry=registry),
        Gauge("bench_last_job_start", "when the last job started", registry=registry),
    )


def prometheus_round(metrics: Metrics, n: int) -> float:
    done, runtime, last = metrics
    t0 = time.perf_counter_ns()
    for _ in range(n):
        start = time.perf_counter()
        runtime.observe(time.perf_counter() - start)
        done.inc()
        last.set(start)
    return (time.perf_counter_ns() - t0) / n


def jobtrail_round(trail: Trail, n: int) -> float:
    track = trail.track
    t0 = time.perf_counter_ns()
    for _ in range(n):
        with track("bench.job", resources=["User:1"]):
            pass
    return (time.perf_counter_ns() - t0) / n


def main() -> None:
    args = parser(__doc__.split("\n\n")[0], jobs=100_000, backend=False).parse_args()
    rounds = max(3, args.jobs // ROUND)
    context(jobs=rounds * ROUND, rounds=rounds, round=ROUND)
    metrics = prometheus_metrics()
    DATA.mkdir(parents=True, exist_ok=True)
    results: dict[str, list[float]] = {"prometheus": [], "idle": [], "draining": []}
    trails = {}
    for mode, settings in (
        ("idle", Settings(batch_size=10**9, flush_interval=3600)),  # sends only on flush()
        ("draining", Settings()),
    ):
        path = DATA / f"client-{mode}.db"
        sqlite_remove(path)
        trails[mode] = Trail(sqlite_url(path), settings=settings)
        trails[mode].store  # open and migrate before the clock starts  # noqa: B018

    for i in range(rounds):
        if i % max(1, rounds // 5) == 0:
            progress(f"round {i + 1} of {rounds}")
        steps: list[tuple[str, Callable[[], float]]] = [
            ("prometheus", lambda: prometheus_round(metrics, ROUND)),
            ("idle", lambda: jobtrail_round(trails["idle"], ROUND)),
            ("draining", lambda: jobtrail_round(trails["draining"], ROUND)),
        ]
        for mode, step in steps if i % 2 else reversed(steps):
            results[mode].append(step())
            if mode != "prometheus" and not trails[mode].flush(timeout=120):
                raise SystemExit("the writer could not drain a round in 120 s")
    stats = {mode: trails[mode].stats for mode in trails}
    for mode, trail in trails.items():
        trail.close()
        sqlite_remove(DATA / f"client-{mode}.db")
    base = median(results["prometheus"])
    rows = []
    for mode, what in (("idle", "jobtrail track(), writer idle during the round"),
                       ("draining", "jobtrail track(), writer draining concurrently")):
        ns = median(results[mode])
        s = stats[mode]
        rows.append([what, ns, percentile(results[mode], 95), ns / base, f"≤ {GOAL}",
                     met(ns / base <= GOAL), f"{s.sent:,} sent, {s.dropped:,} dropped"])
    rows.append(["baseline: Prometheus Counter.inc + Histogram.observe + Gauge.set", base,
                 percentile(results["prometheus"], 95), 1.0, "", "", ""])
    table(
        f"Time added to the job's thread per job, {rounds} rounds × {ROUND:,} jobs (ns per job)",
        ["per job", "median ns", "p95 ns", "ratio to baseline", "goal", "met", "events"],
        rows,
    )


if __name__ == "__main__":
    main()
