"""What does the RQ integration cost in throughput? Tasks/s of a trivial task, plain vs tracked.

One process, one Redis database (127.0.0.1:6379, number `--db`, claimed like the tests' so a test
run never shares it), rounds alternating between `rq.Worker` (the baseline) and
`jobtrail.integrations.rq.Worker` reporting to a SQLite file through its background writer. Each
round enqueues `--round` jobs of a no-op function with a plain `rq.Queue`, then times
`worker.work(burst=True)` until the queue is empty (a forked work horse per job, as in production;
the tracked worker's final flush included). A second pair of rows times enqueueing alone:
`rq.Queue.enqueue` vs the recording `jobtrail.integrations.rq.Queue.enqueue`. Medians of the rounds.

    .venv/bin/python bench/integrations_rq.py --jobs 2000
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import redis
import rq

from _common import DATA, context, median, met, parser, progress, sqlite_remove, sqlite_url, table
from jobtrail import Settings, Trail
from jobtrail.integrations import rq as tracked

GOAL = 0.95  # tracked tasks/s ÷ plain tasks/s: the integration costs at most 5 %
TASK = "integrations_rq.noop"  # by name: RQ refuses functions of __main__
CLAIM_KEY = "jobtrail-test:claimed"  # tests/integrations/conftest.py's claim on a database number


def noop() -> None:
    """The trivial task."""


def work_round(worker_class: Callable[..., rq.Worker], queue: rq.Queue, n: int,
               **kwargs: object) -> float:
    """Tasks/s of one burst over `n` freshly enqueued jobs."""
    with queue.connection.pipeline() as pipe:
        for _ in range(n):
            queue.enqueue(TASK, pipeline=pipe)
        pipe.execute()
    worker = worker_class([queue], connection=queue.connection, **kwargs)
    t0 = time.perf_counter()
    worker.work(burst=True, logging_level="WARNING")
    elapsed = time.perf_counter() - t0
    if queue.count or len(queue.failed_job_registry):
        raise SystemExit("a bench round left jobs queued or failed")
    return n / elapsed


def enqueue_round(queue: rq.Queue, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        queue.enqueue(TASK)
    elapsed = time.perf_counter() - t0
    queue.empty()
    return n / elapsed


def main() -> None:
    p = parser(__doc__.split("\n\n")[0], jobs=2_000, backend=False)
    p.add_argument("--round", type=int, default=200, help="jobs per timed round (default 200)")
    p.add_argument("--db", type=int, default=15, help="Redis database number (default 15)")
    args = p.parse_args()
    rounds = max(3, args.jobs // args.round)
    conn = redis.Redis("127.0.0.1", 6379, db=args.db)
    owner = uuid.uuid4().hex
    if not conn.set(CLAIM_KEY, owner, nx=True, ex=3600):
        raise SystemExit(f"Redis database {args.db} is in use by a test run; pick another --db")
    path = DATA / "integrations-rq.db"
    DATA.mkdir(parents=True, exist_ok=True)
    sqlite_remove(path)
    trail = Trail(sqlite_url(path), settings=Settings())
    trail.store  # open and migrate before the clock starts  # noqa: B018
    try:
        context(jobs=rounds * args.round, rounds=rounds, round=args.round)
        plain_q = rq.Queue("bench", connection=conn)
        recording_q = tracked.Queue("bench", connection=conn, trail=trail)
        results: dict[str, list[float]] = {"plain": [], "tracked": [], "enqueue": [],
                                           "enqueue-tracked": []}
        for i in range(rounds):
            progress(f"round {i + 1} of {rounds}")
            steps: list[tuple[str, Callable[[], float]]] = [
                ("plain", lambda: work_round(rq.Worker, plain_q, args.round)),
                ("tracked", lambda: work_round(tracked.Worker, plain_q, args.round, trail=trail,
                                               kill_poll=0)),
                ("enqueue", lambda: enqueue_round(plain_q, args.round)),
                ("enqueue-tracked", lambda: enqueue_round(recording_q, args.round)),
            ]
            for mode, step in steps if i % 2 else reversed(steps):
                results[mode].append(step())
            trail.flush(60)
        stats = trail.stats
        plain, done = median(results["plain"]), median(results["tracked"])
        enq, enq_t = median(results["enqueue"]), median(results["enqueue-tracked"])
        table(
            f"RQ throughput, {rounds} rounds × {args.round:,} jobs (tasks/s, median round)",
            ["what", "tasks/s", "ratio to baseline", "goal", "met"],
            [
                ["tracked worker: jobtrail.integrations.rq.Worker", done, done / plain,
                 f"≥ {GOAL}", met(done / plain >= GOAL)],
                ["baseline: rq.Worker", plain, 1.0, "", ""],
                ["recording enqueue: jobtrail.integrations.rq.Queue", enq_t, enq_t / enq, "", ""],
                ["baseline: rq.Queue.enqueue", enq, 1.0, "", ""],
            ],
            note=f"jobtrail events: {stats.sent:,} sent, {stats.dropped:,} dropped, "
                 f"{stats.send_errors:,} send errors",
        )
    finally:
        trail.close()
        sqlite_remove(path)
        conn.flushdb()
        conn.close()


if __name__ == "__main__":
    main()
