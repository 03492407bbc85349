"""How many events per second reach the database through the HTTP API, next to `Trail.ingest` in-process?

Two sender processes (`--senders`) POST the generated events in batches of 500 (what the background
writer sends) with a remote `Trail(url).ingest(batch)`, taking every other batch, to one uvicorn
server (`--workers`, default 2, as `jobtrail serve --workers`; `jobtrail.web:app_from_env`) on a
fresh database. The baseline, in the same run,
is the same batches through an in-process `Trail(database URL).ingest` on another fresh database.
The ratio says how much of the in-process rate survives HTTP, JSON, and the server. The HTTP clock
runs from the moment every sender is ready (events generated, server answering) to the last one done;
both databases then hold the same number of jobs, or the run fails.

    .venv/bin/python bench/http_ingest.py --jobs 20000 --backend sqlite
    .venv/bin/python bench/http_ingest.py --jobs 20000 --backend postgres
    .venv/bin/python bench/http_ingest.py --jobs 20000 --workers 1   # one server process
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import subprocess
import sys
import time
from multiprocessing.synchronize import Barrier
from typing import Any

import httpx

from _common import (
    BATCH,
    DATA,
    context,
    met,
    parser,
    pg_drop,
    pg_recreate,
    progress,
    sqlite_remove,
    sqlite_url,
    table,
)
from jobtrail import Settings, Trail
from jobtrail.demo import generate_events

GOAL_RATE = 20_000  # events/s over HTTP on SQLite, from 2 senders
START_TIMEOUT = 60.0  # seconds for the server to answer


def batches(jobs: int, now: float) -> list[list[dict[str, Any]]]:
    return list(generate_events(jobs, 30, now, 7, BATCH))


def sender(url: str, jobs: int, now: float, index: int, senders: int, ready: Barrier,
           results: Any) -> None:
    """One sender process: its share of the batches, POSTed one after another."""
    mine = batches(jobs, now)[index::senders]
    trail = Trail(url, settings=Settings())
    ready.wait()
    t0 = time.perf_counter()
    events = 0
    for batch in mine:
        result = trail.ingest(batch)
        if result.rejected:
            raise SystemExit(f"the server rejected an event: {result.rejected[0]}")
        events += len(batch)
    results.put((index, events, time.perf_counter() - t0))
    trail.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(db_url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "JOBTRAIL_URL": db_url, "JOBTRAIL_SERVER_WORKERS": str(workers)}  # as serve
    env.pop("JOBTRAIL_TOKENS", None)
    env.pop("JOBTRAIL_TOKENS_FILE", None)  # an open server: it listens on loopback only
    log = open(DATA / "http-ingest-server.log", "wb")  # noqa: SIM115 - the server writes it
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "jobtrail.web:app_from_env", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--no-access-log", "--workers", str(workers),
         *(["--loop", "asyncio"] if workers > 1 else [])],  # as `jobtrail serve` does
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited; see {DATA / 'http-ingest-server.log'}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1)  # any answer: it serves
            return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("the server did not answer in time")


def in_process(url: str, all_batches: list[list[dict[str, Any]]]) -> tuple[int, float]:
    trail = Trail(url, settings=Settings())
    trail.store  # open and migrate before the clock starts  # noqa: B018
    spent, events = 0.0, 0
    for batch in all_batches:
        t0 = time.perf_counter()
        result = trail.ingest(batch)
        spent += time.perf_counter() - t0
        if result.rejected:
            raise SystemExit(f"the store rejected an event: {result.rejected[0]}")
        events += len(batch)
    trail.close()
    return events, spent


def over_http(url: str, jobs: int, now: float, senders: int, workers: int) -> tuple[int, float]:
    port = free_port()
    with Trail(url, settings=Settings()) as trail:
        trail.store  # migrate before the server starts  # noqa: B018
    server = start_server(url, port, workers)
    try:
        ctx = multiprocessing.get_context("spawn")
        ready = ctx.Barrier(senders + 1)
        results = ctx.Queue()
        procs = [ctx.Process(target=sender, args=(f"http://127.0.0.1:{port}", jobs, now, i, senders,
                                                  ready, results)) for i in range(senders)]
        for p in procs:
            p.start()
        ready.wait(timeout=600)
        t0 = time.perf_counter()
        done = [results.get(timeout=3600) for _ in procs]
        wall = time.perf_counter() - t0
        for p in procs:
            p.join(60)
            if p.exitcode != 0:
                raise SystemExit(f"a sender failed (exit code {p.exitcode})")
    finally:
        server.terminate()
        server.wait(30)
    return sum(n for _, n, _ in done), wall


def count(url: str) -> int:
    with Trail(url, settings=Settings()) as trail:
        return trail.jobs().count()


def main() -> None:
    p = parser(__doc__.split("\n\n")[0], jobs=20_000)
    p.add_argument("--senders", type=int, default=2, help="sender processes (default 2)")
    p.add_argument("--workers", type=int, default=2,
                   help="server worker processes, `jobtrail serve --workers` (default 2: one per core here)")
    args = p.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    if args.backend == "sqlite":
        paths = [DATA / "http-ingest-local.db", DATA / "http-ingest-server.db"]
        for path in paths:
            sqlite_remove(path)
        local_url, http_url = (sqlite_url(path) for path in paths)
    else:
        local_url = pg_recreate("jobtrail_bench_http_local")
        http_url = pg_recreate("jobtrail_bench_http")
    context(jobs=args.jobs, backend=args.backend, batch=BATCH, senders=args.senders,
            workers=args.workers)
    now = time.time()

    progress("baseline: in-process Trail.ingest")
    base_events, base_spent = in_process(local_url, batches(args.jobs, now))
    progress(f"HTTP: {args.senders} senders → one server")
    http_events, http_wall = over_http(http_url, args.jobs, now, args.senders, args.workers)
    if http_events != base_events or count(http_url) != count(local_url):
        raise SystemExit("the two databases differ: the HTTP path lost or added jobs")

    base = base_events / base_spent
    ours = http_events / http_wall
    goal = f"≥ {GOAL_RATE:,}/s" if args.backend == "sqlite" else "—"
    ok = ours >= GOAL_RATE if args.backend == "sqlite" else None
    table(
        f"HTTP ingest: {http_events:,} events ({args.jobs:,} jobs) in batches of {BATCH}, {args.backend}",
        ["path", "seconds", "events/s", "ratio to in-process", "goal", "met"],
        [
            [f"HTTP: {args.senders} senders → uvicorn ({args.workers} workers) → {args.backend}",
             http_wall, ours, ours / base, goal, met(ok) if ok is not None else ""],
            [f"baseline: in-process Trail.ingest → {args.backend} (1 process)", base_spent, base, 1.0,
             "", ""],
        ],
    )
    if args.backend == "postgres":
        pg_drop("jobtrail_bench_http_local")
        pg_drop("jobtrail_bench_http")


if __name__ == "__main__":
    main()
