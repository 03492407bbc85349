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
    repeat,
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
    replace(p, name=f"{p.name}.v{2 + i // len(NAMES)}", weight=p.weight / 3)
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


def _serve(url: str, port: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBTRAIL_")}
    command = str(Path(sys.executable).with_name("jobtrail"))
    proc = subprocess.Popen([command, "--url", url, "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).status_code == 200:
                return proc
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

            cases = [
                ("render in-process", lambda: render(collector), args.repeat),
                ("GET /metrics over HTTP (jobtrail serve)", scrape_http, args.repeat),
            ]
            baseline = repeat(lambda: trail.jobs().stats(), args.repeat)
            rows = []
            for what, fn, times in cases:
                progress(what)
                ours = repeat(fn, times)
                ms = median(ours) * 1000
                rows.append([what, times, ms, percentile(ours, 95) * 1000, median(baseline) * 1000,
                             median(ours) / median(baseline), f"≤ {GOAL_MS:g} ms", met(ms <= GOAL_MS)])
    finally:
        proc.terminate()
        proc.wait(30)
    table(
        f"/metrics scrape on {args.jobs:,} jobs, {len(NAMES_50)} names ({args.backend}), times in ms",
        ["scrape", "runs", "p50", "p95", "baseline p50", "ratio", "goal (p50)", "met"],
        rows,
        note=f"Baseline: trail.jobs().stats() on the same database in the same run "
             f"({median(baseline) * 1000:.3g} ms). One scrape is {len(text):,} bytes, {series:,} samples.",
    )
    trail.close()


if __name__ == "__main__":
    main()
