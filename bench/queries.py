"""How fast do the everyday questions come back on a large history, next to the raw SQL for them?

On the bench/dataset.py database, each query runs ~50 times after a warm-up (warm cache); the table
gives the median and p95 in ms, the same-run baseline (the DB-API driver running the equivalent
hand-written SQL on the same database, plus numpy where a percentile is needed), and the ratio
jobtrail ÷ baseline (below 1: jobtrail is faster, e.g. because it reads roll-ups instead of rows).
Time windows are measured back from the dataset's own "now", so a cached dataset gives the same
answers on any later day.

    .venv/bin/python bench/queries.py --jobs 100000 --backend sqlite
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from _common import context, median, met, parser, percentile, pg_analyze, progress, repeat, table
from dataset import ensure
from jobtrail import Settings, Trail
from jobtrail.query import decode_cursor

BUSY = "reports.send_email"  # ~29 % of all jobs
MEDIAN = "search.reindex"  # the 10th of 20 names by volume (~2.4 %)
RESOURCE = "Book:123"
PAGE, PAGE_SIZE = 1000, 50
DAY = 86400.0


@dataclass
class Case:
    what: str
    run: Callable[[], Any]
    baseline_what: str
    baseline: Callable[[], Any]
    goal_ms: float | None
    show: Callable[[Any], str] = str


def _ms(seconds: float) -> float:
    return seconds * 1000


def main() -> None:
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=50)
    p.add_argument("--only", action="append", default=[], metavar="TEXT",
                   help="only the queries whose description contains TEXT (repeatable)")
    args = p.parse_args()

    def wanted(what: str) -> bool:
        return not args.only or any(o in what for o in args.only)

    ds, _ = ensure(args.backend, args.jobs)
    context(jobs=ds.jobs, backend=ds.backend, dataset=ds.built_at, repeat=args.repeat)
    trail = Trail(ds.url, settings=Settings())

    if ds.backend == "sqlite":
        raw = sqlite3.connect(ds.url.removeprefix("sqlite:///"))
        mark = "?"
    else:
        import psycopg

        pg_analyze(ds.url)  # fresh statistics, as autovacuum would keep them
        raw = psycopg.connect(ds.url, autocommit=True)  # type: ignore[assignment]
        mark = "%s"

    def sql(text: str, *params: Any) -> list[tuple[Any, ...]]:
        return raw.execute(text.replace("?", mark), params).fetchall()  # type: ignore[arg-type]

    def raw_percentiles(text: str, *params: Any) -> tuple[float, float]:
        runs = np.array([r[0] for r in sql(text, *params)], dtype=float)
        return float(np.percentile(runs, 50)), float(np.percentile(runs, 95))

    def p50_p95(stats: Any) -> str:
        if not stats.run.count:
            return "no runs"
        return (f"p50 {stats.run.p50:.3g} s, p95 {stats.run.p95:.3g} s"
                f" (n={stats.run.count:,}, {stats.source})")

    cases: list[Case] = []
    for label, name in (("busy", BUSY), ("median", MEDIAN)):
        since_24h, since_14d = ds.now - DAY, ds.now - 14 * DAY
        cases.append(Case(
            f"counts by state, {label} name, 24 h",
            lambda n=name, s=since_24h: trail.jobs(name=n, since=s).counts(),
            "SELECT state, count(*) … GROUP BY state",
            lambda n=name, s=since_24h: sql(
                "SELECT state, count(*) FROM jobs WHERE name = ? AND created_at >= ? GROUP BY state",
                n, s),
            5, lambda c: f"{sum(c.values()):,} jobs in {len(c)} states"))
        cases.append(Case(
            f"run p50/p95, {label} name, 14 days",
            lambda n=name, s=since_14d: trail.jobs(name=n, since=s).stats(),
            "SELECT run … + numpy.percentile",
            lambda n=name, s=since_14d: raw_percentiles(
                "SELECT run FROM jobs WHERE name = ? AND created_at >= ? AND run IS NOT NULL", n, s),
            10, p50_p95))
    cases.append(Case(
        "run p95, all history",
        lambda: trail.jobs().stats(),
        "SELECT run FROM jobs WHERE run IS NOT NULL + numpy",
        lambda: raw_percentiles("SELECT run FROM jobs WHERE run IS NOT NULL"),
        20, p50_p95))

    for label, name in (("busy", BUSY), ("median", MEDIAN)):
        if not wanted(f"page 1,000 × {PAGE_SIZE} of a {label} name's listing"):
            continue  # walking the cursors takes a while at 1,000,000 jobs
        query = trail.jobs(name=name)
        cursor, page_no = None, 1
        progress(f"walking the keyset cursors of {name} to page {PAGE:,}")
        while page_no < PAGE:
            nxt = query.page(PAGE_SIZE, cursor).next_cursor
            if nxt is None:
                break
            cursor, page_no = nxt, page_no + 1
        after = decode_cursor(cursor) if cursor else (float("inf"), "")
        cases.append(Case(
            f"page {page_no:,} × {PAGE_SIZE} of a {label} name's listing",
            lambda q=query, c=cursor: q.page(PAGE_SIZE, c),
            "SELECT * … (created_at, id) < (?, ?) LIMIT 51",
            lambda n=name, a=after: sql(
                "SELECT * FROM jobs WHERE name = ? AND (created_at, id) < (?, ?)"
                " ORDER BY created_at DESC, id DESC LIMIT ?", n, a[0], a[1], PAGE_SIZE + 1),
            5, lambda pg: f"{len(pg.jobs)} jobs"))
    cases.append(Case(
        f"all jobs of {RESOURCE} (limit 1000)",
        lambda: trail.jobs(resource=RESOURCE).page(limit=1000),
        "SELECT * … id IN (job_resources …) LIMIT 1001",
        lambda: sql(
            "SELECT * FROM jobs WHERE id IN (SELECT job_id FROM job_resources WHERE resource = ?)"
            " ORDER BY created_at DESC, id DESC LIMIT 1001", RESOURCE),
        5, lambda pg: f"{len(pg.jobs)} jobs"))

    rows = []
    for case in [c for c in cases if wanted(c.what)]:
        progress(case.what)
        ours = repeat(case.run, args.repeat)
        base = repeat(case.baseline, args.repeat)
        ok = case.goal_ms is None or _ms(median(ours)) <= case.goal_ms
        rows.append([case.what, _ms(median(ours)), _ms(percentile(ours, 95)), case.baseline_what,
                     _ms(median(base)), median(ours) / median(base),
                     f"≤ {case.goal_ms:g} ms", met(ok), case.show(case.run())])
    table(
        f"Queries on {ds.jobs:,} jobs ({ds.backend}), {args.repeat} runs each, times in ms",
        ["query", "p50", "p95", "baseline", "base p50", "ratio", "goal (p50)", "met", "answer"],
        rows,
    )
    exact = raw_percentiles("SELECT run FROM jobs WHERE run IS NOT NULL")
    approx = trail.jobs().stats().run
    table(
        "Accuracy of the all-history answer (roll-up sketch vs exact numpy over every row)",
        ["statistic", "jobtrail", "exact", "relative error"],
        [["run p50 (s)", approx.p50, exact[0], f"{abs(approx.p50 / exact[0] - 1):.2%}"],
         ["run p95 (s)", approx.p95, exact[1], f"{abs(approx.p95 / exact[1] - 1):.2%}"]],
        note="Rows keep each job's last attempt; roll-ups count every attempt's run (and deleted"
             " rows), so retried jobs can move the tail beyond the sketch's 1 % error.",
    )
    trail.close()
    raw.close()


if __name__ == "__main__":
    main()
