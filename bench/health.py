"""How long does one full health check take on a large history, next to a roll-up stats query?

On a copy of the bench/dataset.py database (plus 50 workers and 20 periodic declarations), each
check runs ~30 times after a warm-up; the table gives its median and p95 in ms, and the ratio to
the same run's baseline: `trail.jobs(since=14 days).stats()` (one roll-up read, the query the
dashboard's overview makes). The first, untimed check marks the dataset's old running jobs lost;
the timed ones are what a probe costs every few seconds. Goal: a whole check ≤ 50 ms.

    .venv/bin/python bench/health.py --jobs 100000 --backend sqlite
"""

from __future__ import annotations

import shutil

from _common import (
    DATA,
    context,
    median,
    met,
    parser,
    percentile,
    pg_drop,
    pg_recreate,
    progress,
    repeat,
    sqlite_remove,
    sqlite_url,
    table,
)
from dataset import ensure, pg_name
from jobtrail import periodic
from jobtrail.health import HealthSettings, check
from jobtrail.health.checks import ALL
from jobtrail.query import JobQuery, build_filter
from jobtrail.store import open_store

GOAL_MS = 50.0
DAY = 86400.0


def main() -> None:
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=30)
    args = p.parse_args()
    ds, _ = ensure(args.backend, args.jobs)
    context(jobs=ds.jobs, backend=ds.backend, dataset=ds.built_at, repeat=args.repeat)
    if ds.backend == "sqlite":
        copy = DATA / f"health-{ds.jobs}.db"
        sqlite_remove(copy)
        shutil.copyfile(ds.url.removeprefix("sqlite:///"), copy)
        url = sqlite_url(copy)
    else:
        url = pg_recreate(pg_name(ds.jobs) + "_health", template=pg_name(ds.jobs))
    store = open_store(url)
    try:
        now = ds.now
        for i in range(50):
            store.beat_worker({"id": f"worker-{i}", "host": f"host-{i % 5}", "pid": 1000 + i,
                               "queues": ["default"], "state": "busy", "running": 1,
                               "at": now - i})
        names = sorted(store.counts(build_filter(), "name"))[:20]
        for name in names:
            store.declare_periodic(periodic.spec(name, every="1h", at=now - 30 * DAY))
        settings = HealthSettings()
        progress("first check (marks the dataset's stalled jobs lost)")
        first = check(store, settings, now)
        baseline = JobQuery(store, build_filter(since=now - 14 * DAY, until=now))
        base = repeat(lambda: baseline.stats(), args.repeat)
        rows = []
        for name, fn in ALL.items():
            progress(name)
            times = repeat(lambda f=fn: f(store, settings, now), args.repeat)
            rows.append([name, median(times) * 1000, percentile(times, 95) * 1000,
                         median(times) / median(base), "", "",
                         next(c.level for c in first.checks if c.name == name)])
        progress("whole check")
        whole = repeat(lambda: check(store, settings, now), args.repeat)
        rows.append(["whole check()", median(whole) * 1000, percentile(whole, 95) * 1000,
                     median(whole) / median(base), f"≤ {GOAL_MS:g} ms",
                     met(median(whole) * 1000 <= GOAL_MS), first.level])
        rows.append(["baseline: stats, 14 days", median(base) * 1000, percentile(base, 95) * 1000,
                     1.0, "", "", ""])
        marked = next(c for c in first.checks if c.name == "stalled").details["marked_count"]
        table(f"Health check on {ds.jobs:,} jobs ({ds.backend}), {args.repeat} runs each, ms",
              ["check", "p50", "p95", "ratio to baseline", "goal (p50)", "met", "level"], rows,
              note=f"The first check marked {marked:,} stalled jobs of the dataset lost.")
    finally:
        store.close()
        if ds.backend == "sqlite":
            sqlite_remove(DATA / f"health-{ds.jobs}.db")
        else:
            pg_drop(pg_name(ds.jobs) + "_health")


if __name__ == "__main__":
    main()
