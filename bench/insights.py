"""How long does each dashboard number take on a large history, next to the stats query?

On the bench/dataset.py database, each `jobtrail.insights` function runs ~30 times after a warm-up
(warm cache); the table gives its median and p95 in ms, and the ratio of its median to the median
of the same run's baseline: `trail.jobs(name=<busy name>, since=14 days).stats()`, the roll-up
statistics query every page builds on. The goal is the dashboard's: p95 ≤ 100 ms per page, and a
page calls one or two of these. Times are measured back from the dataset's own "now". A process
keeps the all-history load sum and whole past hours for five minutes (`insights.series.Levels`,
`insights.kept`), so repeated calls measure a refreshed page; the "first load" rows drop what was
kept before every call.

    .venv/bin/python bench/insights.py --jobs 20000 --backend sqlite
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from _common import context, median, met, parser, percentile, pg_analyze, progress, table
from dataset import ensure
from jobtrail import Settings, Trail, insights
from jobtrail.insights.series import forget_levels
from jobtrail.model import Job, JobFilter

BUSY = "reports.send_email"  # ~29 % of all jobs
MEDIAN = "search.reindex"  # the 10th of 20 names by volume
LABELLED = "study.run_model"  # carries a workspace label
RESOURCE = "Book:123"
DAY = 86400.0
GOAL_MS = 100.0


@dataclass
class Case:
    what: str
    run: Callable[[], Any]
    show: Callable[[Any], str]


def _ms(seconds: float) -> float:
    return seconds * 1000


def _timed(fn: Callable[[], Any], times: int, warmup: int = 3) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds per call of `fn`, `times` calls after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(times):
        w, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return wall, cpu


def main() -> None:
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=30)
    args = p.parse_args()
    ds, _ = ensure(args.backend, args.jobs)
    if ds.backend == "postgres":
        pg_analyze(ds.url)  # fresh statistics, as autovacuum would keep them
    context(jobs=ds.jobs, backend=ds.backend, dataset=ds.built_at, repeat=args.repeat)
    trail = Trail(ds.url, settings=Settings())
    store, now = trail.store, ds.now

    def newest(name: str, state: str = "succeeded") -> Job:
        rec = store.find(JobFilter(names=(name,), states=(state,), until=now), 1, None)[0]
        return Job.from_record(rec)

    busy_job, labelled_job = newest(BUSY), newest(LABELLED)
    batch = next(r["batch"] for r in store.find(JobFilter(names=("ImportBook",)), 200, None)
                 if r["batch"])
    stats_query = trail.jobs(name=BUSY, since=now - 14 * DAY, until=now)

    cases = [
        Case("baseline: stats(), busy name, 14 days", stats_query.stats,
             lambda s: f"n={s.run.count:,}"),
        *(Case(f"overview, last {label}", lambda s=span: insights.overview(store, now - s, now,
                                                                          now=now),
               lambda o: f"{len(o.names)} names, {len(o.throughput.points)} points")
          for label, span in (("6 h", 6 * 3600), ("24 h", DAY), ("14 days", 14 * DAY))),
        *(Case(f"overview, last {label}, first load",
               lambda s=span: (forget_levels(), insights.overview(store, now - s, now,
                                                                  now=now))[1],
               lambda o: f"{len(o.names)} names")
          for label, span in (("24 h", DAY), ("14 days", 14 * DAY))),
        *(Case(f"name_detail, {label}", lambda n=name, s=span: insights.name_detail(
            store, n, now - s, now, now=now),
            lambda d: f"{d.runs:,} runs, {len(d.heatmap.cells)} heat cells")
          for label, name, span in (("busy name, 24 h", BUSY, DAY),
                                    ("busy name, 14 days", BUSY, 14 * DAY),
                                    ("median name, 14 days", MEDIAN, 14 * DAY))),
        Case("name_detail, busy name, 14 days, first load",
             lambda: (forget_levels(), insights.name_detail(store, BUSY, now - 14 * DAY, now,
                                                            now=now))[1],
             lambda d: f"{d.runs:,} runs"),
        Case("compare_run, busy name (roll-ups)",
             lambda: insights.compare_run(store, busy_job, now=now),
             lambda c: f"{len(c.points):,} points; {c.sentence}"),
        Case("compare_run, same workspace (rows)",
             lambda: insights.compare_run(store, labelled_job, now=now),
             lambda c: f"{len(c.points):,} points; {c.sentence}"),
        Case("busy_context, short job",
             lambda: insights.busy_context(store, busy_job, now=now),
             lambda b: f"{len(b.load.points)} points; {b.sentence}"),
        Case("busy_context, long job",
             lambda: insights.busy_context(store, labelled_job, now=now),
             lambda b: f"{len(b.load.points)} points; {b.sentence}"),
        Case("busy_context, long job, first load",
             lambda: (forget_levels(), insights.busy_context(store, labelled_job, now=now))[1],
             lambda b: f"{len(b.load.points)} points"),
        Case(f"batch_timeline ({batch})", lambda: insights.batch_timeline(store, batch, now=now),
             lambda t: f"{len(t.rows)} rows"),
        Case(f"resource_detail ({RESOURCE})", lambda: insights.resource_detail(store, RESOURCE),
             lambda r: f"{r.total} jobs"),
        Case("queues", lambda: insights.queues(store, now=now), lambda q: f"{len(q)} queues"),
    ]
    timings, cpu = {}, {}
    for case in cases:
        progress(case.what)
        timings[case.what], cpu[case.what] = _timed(case.run, args.repeat)
    base = median(timings[cases[0].what])
    rows = []
    for case in cases:
        ours = timings[case.what]
        rows.append([case.what, _ms(median(ours)), _ms(percentile(ours, 95)), median(ours) / base,
                     _ms(median(cpu[case.what])), met(_ms(percentile(ours, 95)) <= GOAL_MS),
                     case.show(case.run())[:90]])
    table(
        f"insights on {ds.jobs:,} jobs ({ds.backend}), {args.repeat} runs each, times in ms",
        ["function", "p50", "p95", "÷ baseline p50", "CPU p50", f"p95 ≤ {GOAL_MS:g} ms",
         "answer"],
        rows,
        note="Baseline: the first row, measured in the same run. Ratios above 1 are slower. CPU:"
             " this process's CPU time (with SQLite, the queries' too), steadier than wall time"
             " on a busy machine.",
    )
    trail.close()


if __name__ == "__main__":
    main()
