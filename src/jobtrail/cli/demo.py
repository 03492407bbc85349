"""`jobtrail demo`: a throwaway SQLite database with realistic generated history, to look around in.

It prints what `jobtrail stats --by name` and `jobtrail jobs` show for that database and how to point
other commands at it, then serves it: the dashboard at / and HTTP API v1 under /api/v1.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from jobtrail.client import Trail
from jobtrail.config import Settings
from jobtrail.demo import generate_events
from jobtrail.demo_fleet import fleet, periodic_runs
from jobtrail.demo_live import LiveDemo
from jobtrail.errors import InvalidInput, StoreError
from jobtrail.server import serve as run_server
from jobtrail.store import open_store

from .context import Cli, emit_json, guard
from .options import Filters
from .progress import progress_bar
from .reading import print_jobs, print_stats

__all__ = ["demo"]

_EVENTS_PER_INGEST = 5000  # fewer, larger transactions: the demo is one writer with no readers


def _target(path: Path | None) -> Path:
    """A fresh file: the demo never writes into an existing database."""
    if path is None:
        return Path(tempfile.mkdtemp(prefix="jobtrail-demo-")) / "demo.db"
    path = path.expanduser().resolve()
    if path.exists():
        raise InvalidInput(f"{path} already exists; the demo writes a fresh database, "
                           f"so choose a new --path")
    if not path.parent.is_dir():
        raise InvalidInput(f"folder {path.parent} does not exist")
    return path


def _fill(cli: Cli, url: str, jobs: int, days: float, seed: int) -> None:
    with Trail(url, settings=Settings()) as trail, \
            progress_bar(cli.err, "Generating jobs", jobs) as advance:
        for events in generate_events(jobs, days, time.time(), seed=seed, batch_size=_EVENTS_PER_INGEST):
            result = trail.ingest(events)
            if result.rejected:
                raise StoreError(f"the demo generated an invalid event: {result.rejected[0].error}")
            advance(sum(1 for e in events if e["type"] == "queued"))
        now = time.time()
        workers, periodic = fleet(now, seed)
        trail.ingest(periodic_runs(now))
        for worker in workers:
            trail.store.beat_worker(worker)
        for spec in periodic:
            trail.store.declare_periodic(spec)


@guard
def demo(
    ctx: typer.Context,
    path: Annotated[Path | None, typer.Option(
        "--path", help="Where to create the database (must not exist). Default: a new temp folder.",
        show_default=False, dir_okay=False)] = None,
    jobs: Annotated[int, typer.Option("--jobs", min=1, max=10_000_000,
                                      help="How many jobs to generate.")] = 20_000,
    days: Annotated[float, typer.Option("--days", min=0.01,
                                        help="Spread the jobs over this many past days.")] = 30,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same history).")] = 7,
    serve: Annotated[bool, typer.Option(
        "--serve/--no-serve", help="Serve the database over HTTP afterwards (until Ctrl-C).")] = True,
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to serve on.")] = 8765,
    live: Annotated[bool, typer.Option(
        "--live/--no-live", help="While serving, keep jobs arriving, running and finishing.")] = True,
) -> None:
    """Create a demo database with realistic job history, show what is in it, and serve it."""
    cli = Cli.of(ctx)
    target = _target(path)
    url = f"sqlite:///{target}"
    _fill(cli, url, jobs, days, seed)
    if cli.json:
        emit_json({"path": str(target), "url": url, "jobs": jobs, "days": days})
        return
    with Trail(url, settings=Settings()) as trail:
        cli.out.print(Text("$ jobtrail stats --by name", style="bold"))
        print_stats(cli, trail, Filters(), "name", False, False)
        cli.out.print()
        cli.out.print(Text("$ jobtrail jobs --limit 20", style="bold"))
        print_jobs(cli, trail, Filters(), 20, None, False)
    cli.out.print()
    cli.out.print(f"Demo database: {target}")
    cli.out.print(f"Explore it:    jobtrail --url {url} jobs --state failed")
    cli.out.print(f"               jobtrail --url {url} stats --by queue")
    cli.out.print(f"Or:            export JOBTRAIL_URL={url}")
    if serve:
        cli.out.print()
        cli.out.print(f"Dashboard:     http://127.0.0.1:{port}/  (Ctrl-C to stop)")
        cli.out.print(f"HTTP API:      http://127.0.0.1:{port}/api/v1/jobs")
        simulation = LiveDemo(open_store(url), seed=seed) if live else None
        if simulation is not None:
            simulation.start()
            cli.out.print("Live:          jobs keep arriving, running and finishing (--no-live: frozen)")
        try:
            run_server(url, port=port, settings=Settings())
        finally:
            if simulation is not None:
                simulation.stop()
                simulation.store.close()
