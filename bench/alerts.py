"""How long does one full evaluation of the default alert rules take on a large history?

Works on a copy of the bench/dataset.py database (its 20 names) with 30 more job names added, so 50
names ran in the last 10 minutes and over the week before, plus 20 declared periodic jobs and 20
workers. Times, in ms: one evaluation of every default rule with a cold baseline cache (a server
that just started), in steady state (the 7-day baselines cached per hour, as the scheduler runs),
and the reads alone. The same-run baseline is the roll-up stats query of the dataset's busiest
name over 14 days (`trail.jobs(name=..., since=...).stats()`, as bench/queries.py runs it).

    .venv/bin/python bench/alerts.py --jobs 20000 --backend sqlite
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import Any

from _common import (
    DATA,
    context,
    median,
    met,
    parser,
    percentile,
    pg_analyze,
    pg_recreate,
    progress,
    repeat,
    sqlite_remove,
    sqlite_url,
    table,
)
from dataset import Dataset, ensure, pg_name
from jobtrail import Settings, Trail
from jobtrail.alerts import DEFAULT_RULES, Evaluator
from jobtrail.store.base import Store

BUSY = "reports.send_email"
EXTRA = 30
DAY = 86400.0
GOAL_MS = 50.0
COPY = "jobtrail_bench_alerts"


def _copy(ds: Dataset) -> str:
    if ds.backend == "sqlite":
        path = DATA / f"alerts-copy-{ds.jobs}.db"
        sqlite_remove(path)
        shutil.copyfile(ds.url.removeprefix("sqlite:///"), path)
        return sqlite_url(path)
    return pg_recreate(COPY, template=pg_name(ds.jobs))


def _extra_events(now: float) -> list[dict[str, Any]]:
    """30 names: 200 runs each over the week before `now`, 12 in its last 10 minutes (some fail)."""
    events: list[dict[str, Any]] = []
    for n in range(EXTRA):
        name = f"bench.extra_{n:02d}"
        ends = [now - 7 * DAY + i * 3000.0 for i in range(200)] + [now - 590 + 45 * i for i in range(12)]
        for i, end in enumerate(ends):
            job = f"{name}-{i}"
            run = 2.0 + (i % 7) + n
            ok = (i + n) % 9 != 0
            events += [
                {"job_id": job, "type": "queued", "at": end - run - 1, "name": name,
                 "queue": f"q{n % 5}"},
                {"job_id": job, "type": "started", "at": end - run},
                {"job_id": job, "type": "succeeded" if ok else "failed", "at": end,
                 "progress": {"done": 50, "total": 50, "failed": 0 if ok else 20}},
            ]
    return events


def _fleet(store: Store, now: float) -> None:
    for n in range(20):
        store.declare_periodic({"name": f"bench.extra_{n:02d}", "every": 3600.0 * (1 + n % 6),
                                "cron": None, "grace": 600.0, "down_after": None, "at": now - 8 * DAY})
        store.beat_worker({"id": f"worker-{n}", "host": f"host-{n % 4}", "pid": 1000 + n,
                           "queues": ["default"], "state": "busy", "running": 1,
                           "at": now - (30 if n % 5 else 400)})


def _ms(seconds: float) -> float:
    return seconds * 1000


def main() -> None:
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=30)
    args = p.parse_args()
    ds, _ = ensure(args.backend, args.jobs)
    context(jobs=ds.jobs, backend=ds.backend, dataset=ds.built_at, repeat=args.repeat)
    progress("copying the dataset and adding 30 names, 20 periodic jobs, 20 workers")
    url = _copy(ds)
    trail = Trail(url, settings=Settings())
    store = trail.store
    events = _extra_events(ds.now)
    for i in range(0, len(events), 500):
        result = trail.ingest(events[i : i + 500])
        assert not result.rejected, result.rejected[0]
    _fleet(store, ds.now)
    if ds.backend == "postgres":
        pg_analyze(url)
    names = {r[1] for r in store.rollup_counts(ds.now - 600, ds.now, metrics=["entered:succeeded",
                                                                              "entered:failed"])}
    progress(f"{len(names)} names finished runs in the last 10 minutes")

    clock = [ds.now]

    def tick() -> float:
        clock[0] += 0.001  # evaluations apply only at a later instant than the last one
        return clock[0]

    steady = Evaluator(DEFAULT_RULES, notifiers=())
    first = steady.evaluate(store, tick())

    def cold() -> Any:
        return Evaluator(DEFAULT_RULES, notifiers=()).evaluate(store, tick())

    cases: list[tuple[str, Callable[[], Any]]] = [
        ("full evaluation, steady state (baselines cached)", lambda: steady.evaluate(store, tick())),
        ("full evaluation, cold (a server that just started)", cold),
        ("the rules' reads alone, steady state", lambda: steady.findings(store, tick())),
    ]
    baseline = repeat(lambda: trail.jobs(name=BUSY, since=ds.now - 14 * DAY).stats(), args.repeat)
    rows = []
    for what, fn in cases:
        progress(what)
        times = repeat(fn, args.repeat, warmup=1)
        rows.append([what, _ms(median(times)), _ms(percentile(times, 95)), _ms(median(baseline)),
                     median(times) / median(baseline), f"≤ {GOAL_MS:g} ms",
                     met(_ms(median(times)) <= GOAL_MS)])
    found = steady.findings(store, tick())
    table(
        f"Alert evaluation on {ds.jobs:,} jobs + {EXTRA} names ({ds.backend}), "
        f"{len(DEFAULT_RULES)} default rules, {len(names)} active names, {args.repeat} runs, ms",
        ["what", "p50", "p95", "baseline p50", "ratio", "goal (p50)", "met"],
        rows,
        note=f"Baseline: trail.jobs(name={BUSY!r}, since=14 days).stats() in the same run. "
             f"The first evaluation made {len(first)} transitions; alerts found now: "
             f"{sum(len(v) for v in found.values())} "
             f"({', '.join(f'{k} {len(v)}' for k, v in found.items() if v) or 'none'}).",
    )
    trail.close()


if __name__ == "__main__":
    main()
