"""How many events per second does `Trail.ingest` store, next to a bare upsert of the same events?

Each batch of 500 generated events goes through `trail.ingest` (validation, merge, job rows,
resources, labels, roll-ups) and, in the same run, through the baseline: the driver's own
`executemany` of `INSERT ... ON CONFLICT(job_id) DO UPDATE` into a bare table (job_id primary key,
name, state, at, the event as JSON), one transaction per batch. Both get fresh databases with the
same settings (SQLite: WAL, synchronous=NORMAL, WAL checkpoints on a thread of their own, as a
`SqlStore` runs them).
Only the writes are timed, not the generator.

    .venv/bin/python bench/ingest.py --jobs 100000 --backend sqlite
    .venv/bin/python bench/ingest.py --jobs 20000 --profile     # where jobtrail's time goes
"""

from __future__ import annotations

import cProfile
import json
import pstats
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from _common import (
    ANALYZE_EVERY,
    BATCH,
    DATA,
    context,
    met,
    parser,
    pg_analyze,
    pg_drop,
    pg_recreate,
    pg_url,
    progress,
    sqlite_remove,
    sqlite_url,
    table,
)
from jobtrail import Settings, Trail
from jobtrail.demo import generate_events
from jobtrail.store.sql.checkpoints import Checkpointer
from jobtrail.store.sql.engine import WAL_AUTOCHECKPOINT_PAGES

GOAL_RATE = 50_000  # events/s on SQLite
GOAL_RATIO = 0.4
CREATE = ("CREATE TABLE jobs (job_id TEXT PRIMARY KEY, name TEXT, state TEXT NOT NULL,"
          " at DOUBLE PRECISION NOT NULL, doc TEXT NOT NULL)")
UPSERT = ("INSERT INTO jobs (job_id, name, state, at, doc) VALUES (?, ?, ?, ?, ?)"
          " ON CONFLICT (job_id) DO UPDATE SET name = COALESCE(excluded.name, jobs.name),"
          " state = excluded.state, at = excluded.at, doc = excluded.doc")
BASELINE_DB = "jobtrail_bench_ingest_baseline"
Write = Callable[[list[dict[str, Any]]], None]


def _rows(batch: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(e["job_id"], e.get("name"), e["type"], e["at"], json.dumps(e, separators=(",", ":")))
            for e in batch]


def sqlite_baseline() -> tuple[Write, Callable[[], None]]:
    path = DATA / "ingest-baseline.db"
    sqlite_remove(path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
    conn.execute(CREATE)
    checkpoints = Checkpointer(str(path))

    def write(batch: list[dict[str, Any]]) -> None:
        conn.execute("BEGIN")
        conn.executemany(UPSERT, _rows(batch))
        conn.execute("COMMIT")
        checkpoints.wrote()

    def close() -> None:
        checkpoints.close()
        conn.close()

    return write, close


def postgres_baseline() -> tuple[Write, Callable[[], None]]:
    import psycopg

    conn = psycopg.connect(pg_recreate(BASELINE_DB))
    conn.execute(CREATE)
    conn.commit()
    upsert = UPSERT.replace("?", "%s")

    def write(batch: list[dict[str, Any]]) -> None:
        with conn.cursor() as cur:
            cur.executemany(upsert, _rows(batch))  # type: ignore[arg-type]
        conn.commit()

    return write, conn.close


def main() -> None:
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--profile", action="store_true",
                   help="profile jobtrail's ingest calls (no baseline) and print the hot spots")
    args = p.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    if args.backend == "sqlite":
        path = DATA / "ingest-jobtrail.db"
        sqlite_remove(path)
        url = sqlite_url(path)
        baseline, close = sqlite_baseline()
        baseline_what = "sqlite3 executemany upsert"
    else:
        url = pg_recreate("jobtrail_bench_ingest")
        baseline, close = postgres_baseline()
        baseline_what = "psycopg executemany upsert"
    context(jobs=args.jobs, backend=args.backend, batch=BATCH)

    trail = Trail(url, settings=Settings())
    trail.store  # open and migrate before the clock starts  # noqa: B018
    profile = cProfile.Profile() if args.profile else None
    spent = {"jobtrail": 0.0, "baseline": 0.0}
    events = 0
    report_every = max(1, args.jobs * 3 // BATCH // 10)
    now = time.time()
    for i, batch in enumerate(generate_events(args.jobs, 30, now, 7, BATCH), 1):
        # Alternate who goes first, so neither always meets a cache the other just warmed.
        order = ("jobtrail", "baseline") if i % 2 else ("baseline", "jobtrail")
        for who in order:
            if who == "baseline" and profile is not None:
                continue
            t0 = time.perf_counter()
            if who == "jobtrail":
                if profile is not None:
                    profile.enable()
                result = trail.ingest(batch)
                if profile is not None:
                    profile.disable()
                if result.rejected:
                    raise SystemExit(f"the store rejected an event: {result.rejected[0]}")
            else:
                baseline(batch)
            spent[who] += time.perf_counter() - t0
        events += len(batch)
        if args.backend == "postgres" and i % ANALYZE_EVERY == 1:
            pg_analyze(url)  # untimed, both databases: what autovacuum would do
            pg_analyze(pg_url(BASELINE_DB))
        if i % report_every == 0:
            progress(f"{events:,} events: jobtrail {events / spent['jobtrail']:,.0f}/s"
                     + ("" if profile else f", baseline {events / spent['baseline']:,.0f}/s"))
    trail.close()
    close()

    if profile is not None:
        stats = pstats.Stats(profile)
        stats.sort_stats("cumulative").print_stats(30)
        stats.sort_stats("tottime").print_stats(20)
        return
    ours = events / spent["jobtrail"]
    base = events / spent["baseline"]
    ratio = ours / base
    goal_rate = args.backend != "sqlite" or ours >= GOAL_RATE
    goal = f"≥ {GOAL_RATE:,}/s, ratio ≥ {GOAL_RATIO}" if args.backend == "sqlite" else f"ratio ≥ {GOAL_RATIO}"
    table(
        f"Ingest: {events:,} events ({args.jobs:,} jobs) in batches of {BATCH}, {args.backend}",
        ["writer", "seconds", "events/s", "ratio to baseline", "goal", "met"],
        [
            ["jobtrail Trail.ingest", spent["jobtrail"], ours, ratio, goal,
             met(goal_rate and ratio >= GOAL_RATIO)],
            [f"baseline: {baseline_what}", spent["baseline"], base, 1.0, "", ""],
        ],
    )
    if args.backend == "postgres":
        pg_drop("jobtrail_bench_ingest")
        pg_drop(BASELINE_DB)
    else:
        sqlite_remove(DATA / "ingest-jobtrail.db")
        sqlite_remove(DATA / "ingest-baseline.db")


if __name__ == "__main__":
    main()
