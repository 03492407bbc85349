"""How long does a Prometheus scrape of `/metrics` take on a large history with 50 job names?

Builds (and caches under bench/data/) `--jobs` jobs over 30 days with 50 job names (the demo's 20
plus 30 more like them), 10 declared periodic jobs and 20 workers. Then times, 50 runs each after a
warm-up: the collector's rendering in-process (it keeps nothing between scrapes: every one reads
the store), and `GET /metrics` through a real `jobtrail serve` over loopback. The baseline,
measured in the same run on the same database, is the all-history statistics query
`trail.jobs().stats()` (run and wait histograms from the same all-time roll-ups).

    .venv/bin/python bench/metrics.py --jobs 20000 --backend sqlite
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import httpx

from _common import (
    ANALYZE_EVERY,
    BATCH,
    DATA,
    ROOT,
    context,
    median,
    met,
    parser,
    percentile,
    pg_analyze,
    pg_drop,
    pg_recreate,
    pg_url,
    progress,
    sqlite_bytes,
    sqlite_remove,
    sqlite_url,
    table,
)
from jobtrail import Settings, Trail
from jobtrail.demo import NAMES, generate_events
from jobtrail.metrics import JobCollector, render

DAYS = 30
SEED = 11
GOAL_MS = 50.0
NAMES_50 = NAMES + tuple(
    replace(p, name=f"{p.name}.v{2 + i // 10}", weight=p.weight / 3)
    for i, p in enumerate(NAMES[:10] * 3)
)


def fingerprint() -> str:
    """What the stored events depend on: the generator, the codec, and this script's names. Schema
    changes do not rebuild: a cached database is migrated to the newest schema when opened."""
    h = hashlib.sha256(repr((NAMES_50, SEED, DAYS)).encode())
    for rel in ("src/jobtrail/demo.py", "src/jobtrail/store/sql/codec.py"):
        h.update((ROOT / rel).read_bytes())
    return h.hexdigest()[:12]


def _migrate(url: str) -> None:
    from jobtrail.store.sql.engine import create_engine
    from jobtrail.store.sql.migrate import upgrade

    engine = create_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


def _note(backend: str, jobs: int) -> Path:
    return DATA / f"metrics-{backend}-{jobs}.json"


def dataset(backend: str, jobs: int) -> tuple[str, float]:
    """(URL, the generator's now) of the cached 50-name database, built when missing or stale."""
    note = _note(backend, jobs)
    if note.exists():
        cached = json.loads(note.read_text())
        if cached["fingerprint"] == fingerprint():
            _migrate(cached["url"])
            return cached["url"], cached["now"]
    DATA.mkdir(parents=True, exist_ok=True)
    built_from = fingerprint()
    if backend == "sqlite":
        path = DATA / f"metrics-sqlite-{jobs}.db"
        sqlite_remove(path)
        url = sqlite_url(path)
    else:
        pg_drop(f"jobtrail_bench_metrics_{jobs}")
        url = pg_recreate(f"jobtrail_bench_metrics_{jobs}")
    now = time.time()
    trail = Trail(url, settings=Settings())
    t0 = time.perf_counter()
    for i, batch in enumerate(generate_events(jobs, DAYS, now, SEED, BATCH, NAMES_50), 1):
        result = trail.ingest(batch)
        assert not result.rejected, result.rejected[0]
        if backend == "postgres" and i % ANALYZE_EVERY == 1:
            pg_analyze(url)
        if i % 200 == 0:
            progress(f"{i * BATCH:,} events in {time.perf_counter() - t0:,.0f} s")
    for p in NAMES_50[:10]:
        trail.declare_periodic(p.name, every="1h")
    for w in range(20):
        trail.worker_heartbeat(f"worker-{w}", queues=[NAMES_50[w].queue], running=w % 2,
                               host="bench", pid=w)
    trail.flush()
    trail.close()
    if backend == "sqlite":
        sqlite_bytes(Path(url.removeprefix("sqlite:///")))
    else:
        pg_analyze(url)
    note.write_text(json.dumps({"url": url, "now": now, "fingerprint": built_from, "jobs": jobs}))
    return url, now


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _timed(fn: Callable[[], object], times: int, pid: int) -> tuple[list[float], list[float]]:
    """(wall seconds, CPU seconds of process `pid`) per call, after 3 untimed calls. Per-call CPU
    of another process comes in clock ticks, so its runs are grouped in tens and averaged."""
    for _ in range(3):
        fn()
    wall: list[float] = []
    cpu: list[float] = []
    own = pid == os.getpid()
    group = 1 if own else 10
    for _ in range(max(1, times // group)):
        c0 = time.process_time() if own else _cpu_seconds(pid)
        for _ in range(group):
            t0 = time.perf_counter()
            fn()
            wall.append(time.perf_counter() - t0)
        c1 = time.process_time() if own else _cpu_seconds(pid)
        cpu.append((c1 - c0) / group)
    return wall, cpu


def _serve(url: str, port: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBTRAIL_")}
    command = str(Path(sys.executable).with_name("jobtrail"))
    proc = subprocess.Popen([command, "--url", url, "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).status_code in (200, 503):
                return proc  # it answers; 503 only means a health check found something
        except httpx.TransportError:
            time.sleep(0.1)
    proc.terminate()
    raise SystemExit("jobtrail serve did not start")


def main() -> None:
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=50)
    p.add_argument("--port", type=int, default=18765)
    args = p.parse_args()
    url, _ = dataset(args.backend, args.jobs)
    if args.backend == "postgres":
        url = pg_url(f"jobtrail_bench_metrics_{args.jobs}")
    assert len({p.name for p in NAMES_50}) == 50
    context(jobs=args.jobs, backend=args.backend, names=len(NAMES_50), repeat=args.repeat)
    trail = Trail(url, settings=Settings())
    store = trail.store
    collector = JobCollector(store)
    text = render(collector)
    series = len({line.split(" ")[0] for line in text.decode().splitlines() if line[:1] not in ("#", "")})
    progress(f"one scrape: {len(text):,} bytes, {series:,} samples")

    proc = _serve(url, args.port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{args.port}", timeout=60) as http:
            def scrape_http() -> None:
                response = http.get("/metrics")
                assert response.status_code == 200, response.text

            in_process = _timed(lambda: render(collector), args.repeat, os.getpid())
            progress("GET /metrics over HTTP")
            http_run = _timed(scrape_http, args.repeat, proc.pid)
            base = _timed(lambda: trail.jobs().stats(), args.repeat, os.getpid())
            rows = []
            for what, (wall, cpu) in (("render in-process", in_process),
                                      ("GET /metrics over HTTP (jobtrail serve)", http_run)):
                ms = median(wall) * 1000
                rows.append([what, args.repeat, ms, percentile(wall, 95) * 1000, median(cpu) * 1000,
                             median(base[0]) * 1000, median(base[1]) * 1000,
                             median(wall) / median(base[0]), f"≤ {GOAL_MS:g} ms", met(ms <= GOAL_MS)])
    finally:
        proc.terminate()
        proc.wait(30)
    table(
        f"/metrics scrape on {args.jobs:,} jobs, {len(NAMES_50)} names ({args.backend}), times in ms",
        ["scrape", "runs", "p50", "p95", "CPU", "baseline p50", "base CPU", "ratio", "goal (p50)",
         "met"],
        rows,
        note="Baseline: trail.jobs().stats() on the same database in the same run. CPU: the median "
             "CPU time per call of the process doing the work (this one, or the server's from "
             f"/proc), which a busy machine inflates less than wall time. One scrape is "
             f"{len(text):,} bytes, {series:,} samples.",
    )
    trail.close()


if __name__ == "__main__":
    main()
