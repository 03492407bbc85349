"""What does going through the HTTP API cost, next to the same query in-process, and how big is the server?

A `jobtrail serve` subprocess (one worker, a read token, default settings) serves the bench/dataset.py
database (or `--db FILE`). Over one keep-alive HTTP connection this process times page 1 and page
1,000 of the busiest name's listing (reached by walking the keyset cursors once; with fewer jobs its
last full page, and the table says which) and that name's `/stats`, each call alternating with the
same query in-process on the same database (`page()`; for /stats what the endpoint computes,
`counts()` + `stats()`). The table gives p50/p99 in ms and the ratio HTTP ÷ in-process; then the
server's resident memory (VmRSS, and its peak VmHWM, from /proc) after serving all of that, next to
this benchmark process's own.

    .venv/bin/python bench/api_latency.py --jobs 100000
    .venv/bin/python bench/api_latency.py --db bench/data/sqlite-100000.db
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from _common import context, met, parser, percentile, pg_analyze, progress, sqlite_url, table
from dataset import ensure
from jobtrail import Settings, Trail

PAGE, PAGE_SIZE = 1000, 50
GOAL_P99_MS = 50.0
GOAL_RSS_MB = 150.0
TOKEN = "bench-read-token"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def server(url: str) -> Iterator[tuple[str, int]]:
    """`jobtrail.server.serve(url)` in a subprocess; yields (base URL, pid) once it answers."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBTRAIL_")}
    env["JOBTRAIL_TOKENS"] = f"read:{TOKEN}"
    script = f"from jobtrail.server import serve; serve({url!r}, port={port})"
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"the server exited: {proc.communicate()[1]}")
            try:
                httpx.get(f"{base}/openapi.json", timeout=2)  # any answer: it serves (health
                break  # may well say 503 about the data)
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the server did not answer within 120 s")
            time.sleep(0.1)
        yield base, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def memory_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MB, from /proc/<pid>/status."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024  # kB
    return fields["VmRSS"], fields["VmHWM"]


def interleaved(a: Callable[[], Any], b: Callable[[], Any], times: int,
                warmup: int = 5) -> tuple[list[float], list[float]]:
    """Seconds per call of `a` and of `b`, called in turn, so both see the same machine load."""
    for _ in range(warmup):
        a()
        b()
    ta, tb = [], []
    for _ in range(times):
        t0 = time.perf_counter()
        a()
        t1 = time.perf_counter()
        b()
        t2 = time.perf_counter()
        ta.append(t1 - t0)
        tb.append(t2 - t1)
    return ta, tb


def main() -> None:
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--db", type=Path, help="serve this SQLite file instead of the cached dataset")
    p.add_argument("--repeat", type=int, default=300, help="timed calls per query (default 300)")
    args = p.parse_args()
    if args.db:
        if not args.db.exists():
            raise SystemExit(f"no such database: {args.db}")
        url, jobs, backend = sqlite_url(args.db.resolve()), None, "sqlite"
    else:
        ds, _ = ensure(args.backend, args.jobs)
        url, jobs, backend = ds.url, ds.jobs, ds.backend
        if backend == "postgres":
            pg_analyze(url)
    trail = Trail(url, settings=Settings())
    by_name = trail.jobs().counts("name")
    name = max(by_name, key=by_name.__getitem__)  # the busiest name: the longest listing
    jobs = jobs if jobs is not None else sum(by_name.values())
    context(jobs=jobs, backend=backend, repeat=args.repeat, name=f"{name} ({by_name[name]:,} jobs)")

    query = trail.jobs(name=name)
    progress(f"walking the keyset cursors of {name} to page {PAGE:,}")
    cursor, page_no, previous = None, 1, None
    while page_no < PAGE:
        nxt = query.page(PAGE_SIZE, cursor).next_cursor
        if nxt is None:
            break
        previous, cursor, page_no = cursor, nxt, page_no + 1
    if page_no > 1 and len(query.page(PAGE_SIZE, cursor).jobs) < PAGE_SIZE:
        cursor, page_no = previous, page_no - 1  # time the last full page, not a short remainder

    def stats_in_process() -> dict[str, Any]:
        counts = query.counts("state")
        return {"count": sum(counts.values()), "counts": counts, **query.stats().as_dict()}

    rows = []
    with server(url) as (base, pid), httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
    ) as http:
        started_rss, _ = memory_mb(pid)

        def get(path: str, **params: Any) -> Callable[[], Any]:
            def call() -> Any:
                response = http.get(path, params=params)
                response.raise_for_status()
                return response.json()

            return call

        later = {"cursor": cursor} if cursor else {}
        cases = [
            ("GET /api/v1/jobs?name=…, page 1", get("/api/v1/jobs", name=name, limit=PAGE_SIZE),
             "q.page(50)", lambda: query.page(PAGE_SIZE)),
            (f"GET /api/v1/jobs?name=…, page {page_no:,} (cursor)",
             get("/api/v1/jobs", name=name, limit=PAGE_SIZE, **later),
             "q.page(50, cursor)", lambda: query.page(PAGE_SIZE, cursor)),
            ("GET /api/v1/stats?name=…", get("/api/v1/stats", name=name),
             "q.counts() + q.stats()", stats_in_process),
        ]
        for what, over_http, baseline_what, in_process in cases:
            progress(what)
            ours, base_times = interleaved(over_http, in_process, args.repeat)
            p99 = percentile(ours, 99) * 1000
            rows.append([what, percentile(ours, 50) * 1000, p99, baseline_what,
                         percentile(base_times, 50) * 1000, percentile(base_times, 99) * 1000,
                         percentile(ours, 50) / percentile(base_times, 50),
                         percentile(ours, 99) / percentile(base_times, 99),
                         f"≤ {GOAL_P99_MS:g}", met(p99 <= GOAL_P99_MS)])
        rss, peak = memory_mb(pid)
    own_rss, own_peak = memory_mb(os.getpid())
    trail.close()

    table(
        f"HTTP API latency on {jobs:,} jobs ({backend}), {args.repeat} calls each, times in ms",
        ["request", "p50", "p99", "baseline (in-process)", "base p50", "base p99", "ratio p50",
         "ratio p99", "goal p99", "met"],
        rows,
        note="One server worker, one keep-alive connection, a read token checked on every request; "
             "HTTP and in-process calls alternate. Ratio = HTTP ÷ in-process.",
    )
    table(
        "Server memory after serving those requests (MB)",
        ["process", "VmRSS", "VmHWM (peak)", "goal", "met"],
        [["jobtrail serve (1 worker)", rss, peak, f"≤ {GOAL_RSS_MB:g}", met(rss <= GOAL_RSS_MB)],
         ["  … just after start", started_rss, None, "—", "—"],
         ["baseline: this process (same queries in-process, plus httpx and rich)", own_rss,
          own_peak, "—", "—"]],
    )


if __name__ == "__main__":
    main()
