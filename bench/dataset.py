"""The database the query and storage benchmarks read: N realistic jobs over 30 days.

Built with `jobtrail.demo.generate_events` and `Trail.ingest` in batches of 500 events, then cached
under bench/data/ (SQLite file, or a PostgreSQL database `jobtrail_bench_<jobs>`) with a JSON note
of how it was built. A cached copy is rebuilt when the schema, codec or generator changes.

    .venv/bin/python bench/dataset.py --jobs 100000 --backend sqlite
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from _common import (
    ANALYZE_EVERY,
    BATCH,
    DATA,
    ROOT,
    context,
    parser,
    pg_admin,
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
from jobtrail.demo import generate_events

DAYS = 30
SEED = 7
_FINGERPRINTED = ("src/jobtrail/demo.py", "src/jobtrail/store/sql/codec.py",
                  "src/jobtrail/store/sql/migrations/versions")


@dataclass(frozen=True)
class Dataset:
    backend: str
    jobs: int
    events: int
    now: float  # the generator's "now": queries measure windows back from it
    seconds: float  # how long building took
    url: str
    fingerprint: str
    built_at: str


def fingerprint() -> str:
    h = hashlib.sha256()
    for rel in _FINGERPRINTED:
        path = ROOT / rel
        for f in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            h.update(f.read_bytes())
    return h.hexdigest()[:12]


def _note(backend: str, jobs: int) -> Path:
    return DATA / f"{backend}-{jobs}.json"


def _sqlite_path(jobs: int, suffix: str = "") -> Path:
    return DATA / f"sqlite-{jobs}{suffix}.db"


def pg_name(jobs: int) -> str:
    return f"jobtrail_bench_{jobs}"


def cached(backend: str, jobs: int) -> Dataset | None:
    note = _note(backend, jobs)
    if not note.exists():
        return None
    ds = Dataset(**json.loads(note.read_text()))
    if ds.fingerprint != fingerprint():
        return None
    if backend == "sqlite" and not _sqlite_path(jobs).exists():
        return None
    return ds


def ensure(backend: str, jobs: int, *, rebuild: bool = False) -> tuple[Dataset, bool]:
    """The dataset for (backend, jobs), and whether it came from the cache."""
    ds = None if rebuild else cached(backend, jobs)
    if ds is not None:
        return ds, True
    return build(backend, jobs), False


def build(backend: str, jobs: int) -> Dataset:
    DATA.mkdir(parents=True, exist_ok=True)
    _note(backend, jobs).unlink(missing_ok=True)
    built_from = fingerprint()  # before generating: the code may change while this runs
    if backend == "sqlite":
        building = _sqlite_path(jobs, ".building")
        sqlite_remove(building)
        url = sqlite_url(building)
    else:
        url = pg_recreate(pg_name(jobs) + "_building")
    now = time.time()
    events = 0
    report_every = max(1, jobs * 3 // BATCH // 10)
    trail = Trail(url, settings=Settings())
    trail.store  # open and migrate before the clock starts  # noqa: B018
    t0 = time.perf_counter()
    for i, batch in enumerate(generate_events(jobs, DAYS, now, SEED, BATCH), 1):
        result = trail.ingest(batch)
        if result.rejected:
            raise SystemExit(f"the store rejected an event: {result.rejected[0]}")
        events += len(batch)
        if backend == "postgres" and i % ANALYZE_EVERY == 1:
            pause = time.perf_counter()
            pg_analyze(url)  # what autovacuum would do (off on this server); not counted
            t0 += time.perf_counter() - pause
        if i % report_every == 0:
            elapsed = time.perf_counter() - t0
            progress(f"{events:,} events in {elapsed:,.0f} s ({events / elapsed:,.0f} events/s)")
    seconds = time.perf_counter() - t0
    trail.close()
    if backend == "sqlite":
        sqlite_bytes(building)  # checkpoint, so the cached file stands alone
        final = _sqlite_path(jobs)
        sqlite_remove(final)
        building.rename(final)
        sqlite_remove(building)  # its emptied -wal and -shm
        url = sqlite_url(final)
    else:
        pg_analyze(url)
        pg_drop(pg_name(jobs))
        pg_admin(f'ALTER DATABASE "{pg_name(jobs)}_building" RENAME TO "{pg_name(jobs)}"')
        url = pg_url(pg_name(jobs))
    ds = Dataset(backend, jobs, events, now, seconds, url, built_from,
                 time.strftime("%Y-%m-%d %H:%M:%S"))
    _note(backend, jobs).write_text(json.dumps(asdict(ds), indent=2))
    return ds


def main() -> None:
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--rebuild", action="store_true", help="ignore a cached copy")
    args = p.parse_args()
    context(jobs=args.jobs, backend=args.backend)
    ds, hit = ensure(args.backend, args.jobs, rebuild=args.rebuild)
    table(
        f"Dataset: {ds.jobs:,} jobs over {DAYS} days ({ds.backend})",
        ["dataset", "jobs", "events", "build s", "events/s", "where", "cached"],
        [[ds.backend, ds.jobs, ds.events, ds.seconds, ds.events / ds.seconds, ds.url, hit]],
        note="A fixture, not a benchmark: bench/ingest.py measures ingest against its baseline.",
    )


if __name__ == "__main__":
    main()
