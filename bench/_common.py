"""What every benchmark script shares: arguments, where databases live, timing, and tables.

Nothing here measures anything by itself; each script in bench/ answers one question.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import sqlite3
import subprocess
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
"""Databases the benchmarks build (git-ignored)."""
PG_SERVER = os.environ.get("JOBTRAIL_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
"""PostgreSQL server the benchmarks create their own databases on (no database name)."""
BATCH = 500  # events per ingest call, as the client's writer sends them
ANALYZE_EVERY = 100  # PostgreSQL: batches between untimed ANALYZEs (standing in for autovacuum)

console = Console(highlight=False)
if not console.is_terminal:
    console.width = 160  # piped into a file: do not wrap tables at 80 columns


def parser(description: str, *, jobs: int = 1_000_000, backend: bool = True) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--jobs", type=int, default=jobs, help=f"how many jobs (default {jobs:,})")
    if backend:
        p.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    return p


# ---- reporting ----------------------------------------------------------------------------


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def context(**extra: Any) -> None:
    """One line saying when, where and on what code a result was measured."""
    diff = _git("diff", "HEAD", "--", "src")
    dirty = f" + uncommitted src/ diff {hashlib.sha256(diff.encode()).hexdigest()[:8]}" if diff else ""
    parts = [
        datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        f"{os.cpu_count()} cores",
        f"Python {platform.python_version()}",
        f"SQLite {sqlite3.sqlite_version}",
        f"jobtrail {_git('rev-parse', '--short', 'HEAD')}{dirty}",
        *(f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}" for k, v in extra.items()),
    ]
    console.print("[dim]" + " · ".join(parts) + "[/dim]")


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]],
          note: str | None = None) -> None:
    t = Table(title=title, caption=note, title_justify="left", caption_justify="left")
    for i, col in enumerate(columns):
        t.add_column(col, justify="left" if i == 0 else "right")
    for row in rows:
        t.add_row(*(cell if isinstance(cell, str) else fmt(cell) for cell in row))
    console.print(t)


def fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
    return str(value)


def met(ok: bool) -> str:
    return "[green]yes[/green]" if ok else "[red]no[/red]"


def progress(message: str) -> None:
    console.print(f"[dim]… {message}[/dim]")


# ---- timing -------------------------------------------------------------------------------


def repeat(fn: Callable[[], Any], times: int = 50, warmup: int = 3) -> list[float]:
    """Seconds per call of `fn`, `times` calls after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(times):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def median(xs: Sequence[float]) -> float:
    return percentile(xs, 50)


def percentile(xs: Sequence[float], q: float) -> float:
    """Nearest-rank percentile: no interpolation, so p95 of 50 runs is a run that happened."""
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))]


# ---- databases ----------------------------------------------------------------------------


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def sqlite_remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-writers"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def sqlite_bytes(path: Path) -> int:
    """The file's size including its WAL, after folding the WAL back in."""
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    wal = Path(f"{path}-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def pg_url(database: str) -> str:
    return f"{PG_SERVER}/{database}"


def pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(pg_url("postgres"), autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def pg_recreate(database: str, template: str | None = None) -> str:
    """A brand-new, empty (or copied from `template`) database; returns its URL."""
    pg_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    pg_admin(f'CREATE DATABASE "{database}"' + (f' TEMPLATE "{template}"' if template else ""))
    return pg_url(database)


def pg_analyze(url: str) -> None:
    """ANALYZE, as autovacuum would: this server runs with autovacuum=off, and without statistics
    PostgreSQL keeps a cached generic plan that seq-scans `jobs` for every batch."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE")


def pg_drop(database: str) -> None:
    pg_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
