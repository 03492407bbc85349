"""How long does the server take to render each dashboard page, and how many bytes does a first visit
transfer?

A `jobtrail serve` subprocess (one worker, a read token, default settings) serves the bench/dataset.py
database. Over one keep-alive HTTP connection this process requests each page `--repeat` times,
alternating with the same run's baseline, `GET /api/v1/stats?name=<busiest name>` (the statistics
query the API answers from roll-ups). The table gives p50/p95 in ms per page, the page's HTML size,
and p50 page ÷ p50 stats. The pages' time windows end at the server's clock: on a dataset built
hours ago the 24 h overview sees only part of it, so the table also says how old the dataset is.
A second table sums what a first visit to the overview transfers (HTML plus every script and
stylesheet it references, gzip-encoded as the server sends them to a browser).

    .venv/bin/python bench/pages.py --jobs 20000
    .venv/bin/python bench/pages.py                       # 1,000,000 jobs (builds the dataset)
    .venv/bin/python bench/pages.py --only name --repeat 15   # just the name pages

"first" is the page's first request to this server: nothing of it kept in the process yet (the
insights keep past hours and days for 5 minutes), the SQLite file in the OS cache.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx

from _common import context, met, parser, percentile, progress, table
from api_latency import TOKEN, interleaved, server
from dataset import ensure
from jobtrail import Settings, Trail
from jobtrail.model import JobFilter

GOAL_P95_MS = 100.0


def _q(value: str) -> str:
    return quote(value, safe="")


def pages(trail: Trail) -> list[tuple[str, str]]:
    """(label, path) of every page kind, on the busiest name and real ids from the dataset."""
    store = trail.store
    by_name = trail.jobs().counts("name")
    ranked = sorted(by_name, key=by_name.__getitem__, reverse=True)
    busy, median = ranked[0], ranked[len(ranked) // 2]
    job = store.find(JobFilter(names=(busy,), states=("succeeded",)), 1, None)[0]
    batched = next(r for r in store.find(JobFilter(states=("succeeded",)), 2000, None) if r["batch"])
    return [
        ("overview, 24 h", "/"),
        ("overview, 7 d", "/?range=7d"),
        ("jobs, first page", "/jobs"),
        (f"jobs, name={busy}", f"/jobs?name={_q(busy)}"),
        ("jobs, state=failed, 7 d", "/jobs?state=failed&range=7d"),
        (f"job ({busy})", f"/jobs/{_q(job['id'])}"),
        (f"job in a batch ({batched['name']})", f"/jobs/{_q(batched['id'])}"),
        ("batch, highlighted job", f"/batches/{_q(batched['batch'])}?highlight={_q(batched['id'])}"),
        (f"name {busy}, 7 d", f"/names/{_q(busy)}"),
        (f"name {median}, 7 d", f"/names/{_q(median)}"),
        (f"name {busy}, 30 d", f"/names/{_q(busy)}?range=30d"),
        ("resource", f"/resources/{_q(batched['resources'][0])}"),
        ("queues", "/queues"),
        ("workers", "/workers"),
        ("health", "/health"),
        ("alerts", "/alerts"),
        ("embed: load, 24 h", "/embed/load"),
        (f"embed: run-compare ({busy})", f"/embed/run-compare?job={_q(job['id'])}"),
    ]


def first_visit(http: httpx.Client, path: str) -> list[list[Any]]:
    """Bytes on the wire for the page and each asset it references, as a browser would fetch them."""
    rows = []
    page = http.get(path, headers={"Accept-Encoding": "gzip"})
    rows.append([f"HTML {path}", page.num_bytes_downloaded, len(page.content)])
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text):
        response = http.get(asset.replace("&amp;", "&"), headers={"Accept-Encoding": "gzip"})
        response.raise_for_status()
        rows.append([asset.split("?")[0], response.num_bytes_downloaded, len(response.content)])
    return rows


def main() -> None:
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=30, help="timed requests per page (default 30)")
    p.add_argument("--only", action="append", default=[], metavar="TEXT",
                   help="only the pages whose label contains TEXT (repeatable)")
    args = p.parse_args()
    ds, _ = ensure(args.backend, args.jobs)
    trail = Trail(ds.url, settings=Settings())
    cases = [c for c in pages(trail) if not args.only or any(o in c[0] for o in args.only)]
    by_name = trail.jobs().counts("name")
    busy = max(by_name, key=by_name.__getitem__)
    age_h = (time.time() - ds.now) / 3600
    context(jobs=ds.jobs, backend=ds.backend, repeat=args.repeat, dataset_age=f"{age_h:.1f} h")
    trail.close()

    rows = []
    with server(ds.url) as (base, _pid), httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120
    ) as http:

        def get(path: str) -> Callable[[], int]:
            def call() -> int:
                response = http.get(path)
                if response.status_code != 200:
                    raise SystemExit(f"{path} answered {response.status_code}: {response.text[:300]}")
                return len(response.content)

            return call

        stats = get(f"/api/v1/stats?name={_q(busy)}")
        for label, path in cases:
            progress(label)
            t0 = time.perf_counter()
            size = get(path)()
            first = (time.perf_counter() - t0) * 1000
            ours, baseline = interleaved(get(path), stats, args.repeat, warmup=2)
            p95 = percentile(ours, 95) * 1000
            rows.append([label, first, percentile(ours, 50) * 1000, p95, size,
                         percentile(baseline, 50) * 1000,
                         percentile(ours, 50) / percentile(baseline, 50),
                         f"≤ {GOAL_P95_MS:g}", met(p95 <= GOAL_P95_MS)])
        transfer = [] if args.only else first_visit(http, "/")

    table(
        f"Dashboard page time on {ds.jobs:,} jobs ({ds.backend}), {args.repeat} requests each, ms",
        ["page", "first", "p50", "p95", "HTML bytes", f"stats p50 (/api/v1/stats?name={busy})",
         "ratio p50", "goal p95", "met"],
        rows,
        note="Requests alternate with the baseline over one keep-alive connection to one server "
             "worker; time includes loopback HTTP (about 1 ms). Ratio = page p50 ÷ stats p50.",
    )
    if not transfer:
        return
    total = sum(r[1] for r in transfer)
    table(
        "First visit to the overview: bytes transferred (gzip where the server compresses)",
        ["resource", "bytes on the wire", "bytes decoded"],
        [*transfer, ["total", total, sum(r[2] for r in transfer)]],
        note="Assets are cached for a year (content-hashed URLs), so later visits transfer only "
             "the HTML.",
    )


if __name__ == "__main__":
    main()
