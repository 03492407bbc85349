"""Reading commands: `jobs`, `show`, `batch`, `stats`. Each prints a Rich view, or JSON with `--json`
in the same shapes as the HTTP API (`Job.as_dict()`, `Stats.as_dict()`, `BatchSummary.as_dict()`)."""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Annotated, Any

import typer

from jobtrail.client import Trail
from jobtrail.model import Stats

from .context import Cli, emit_json, guard
from .detail import job_detail
from .options import (
    BatchOpt,
    Filters,
    JsonOpt,
    LabelOpt,
    NameOpt,
    QueueOpt,
    ResourceOpt,
    SinceOpt,
    StateOpt,
    UntilOpt,
)
from .render import batch_view, counts_table, grouped_stats_table, jobs_table, stats_table

__all__ = ["By", "batch", "jobs", "print_jobs", "print_stats", "show", "stats"]


class By(StrEnum):
    name = "name"
    state = "state"
    queue = "queue"


@guard
def jobs(
    ctx: typer.Context,
    state: StateOpt = None,
    name: NameOpt = None,
    queue: QueueOpt = None,
    batch: BatchOpt = None,
    resource: ResourceOpt = None,
    label: LabelOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000,
                                       help="Jobs per page (1–1000).")] = 50,
    cursor: Annotated[str | None, typer.Option(
        "--cursor", help="Continue after a previous page (the cursor it printed).")] = None,
    json_: JsonOpt = False,
) -> None:
    """List jobs, newest first, one page at a time."""
    cli = Cli.of(ctx)
    flt = Filters.of(state, name, queue, batch, resource, label, since, until)
    print_jobs(cli, cli.trail, flt, limit, cursor, cli.wants_json(json_))


def print_jobs(cli: Cli, trail: Trail, flt: Filters, limit: int, cursor: str | None,
               as_json: bool) -> None:
    """One page of jobs as a table with the next cursor underneath (also used by `demo`)."""
    page = trail.jobs(**flt.kwargs()).page(limit=limit, cursor=cursor)
    if as_json:
        emit_json({"jobs": [j.as_dict() for j in page.jobs], "next_cursor": page.next_cursor})
        return
    if not page.jobs:
        cli.out.print("No jobs match.")
        return
    cli.out.print(jobs_table(page.jobs, time.time()))
    shown = f"{len(page.jobs)} job{'s' if len(page.jobs) != 1 else ''}"
    if page.next_cursor:
        cli.out.print(f"{shown}; next page: --cursor {page.next_cursor}")
    else:
        cli.out.print(f"{shown}; last page.")


@guard
def show(
    ctx: typer.Context,
    job_id: Annotated[str, typer.Argument(help="The job's id.", show_default=False)],
    json_: JsonOpt = False,
) -> None:
    """Everything about one job: fields, every state with its time, attempts, error, args."""
    cli = Cli.of(ctx)
    job = cli.trail.get(job_id)
    if cli.wants_json(json_):
        emit_json(job.as_dict())
        return
    for part in job_detail(job, time.time()):
        cli.out.print(part)


@guard
def batch(
    ctx: typer.Context,
    batch_id: Annotated[str, typer.Argument(help="The batch (job request) id.", show_default=False)],
    json_: JsonOpt = False,
) -> None:
    """A batch (job request): counts per state, runtime, wall time and queue time."""
    cli = Cli.of(ctx)
    summary = cli.trail.batch(batch_id)
    if cli.wants_json(json_):
        emit_json(summary.as_dict())
        return
    facts, counts = batch_view(summary, time.time())
    cli.out.print(facts)
    cli.out.print()
    cli.out.print(counts)


@guard
def stats(
    ctx: typer.Context,
    state: StateOpt = None,
    name: NameOpt = None,
    queue: QueueOpt = None,
    batch: BatchOpt = None,
    resource: ResourceOpt = None,
    label: LabelOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    by: Annotated[By | None, typer.Option(
        "--by", help="One row per name, state or queue.", show_default=False)] = None,
    exact: Annotated[bool, typer.Option(
        "--exact", help="Compute from job rows instead of roll-ups (slower; only rows "
                        "retention has kept).")] = False,
    json_: JsonOpt = False,
) -> None:
    """Counts and run/wait durations (count, min, avg, max, p50, p95, p99)."""
    cli = Cli.of(ctx)
    flt = Filters.of(state, name, queue, batch, resource, label, since, until)
    print_stats(cli, cli.trail, flt, by.value if by else None, exact, cli.wants_json(json_))


def _group_filter(flt: Filters, by: str, key: str) -> dict[str, Any]:
    field = {"name": "name", "state": "state", "queue": "queue"}[by]
    return flt.kwargs(**{field: [key]})


def print_stats(cli: Cli, trail: Trail, flt: Filters, by: str | None, exact: bool,
                as_json: bool) -> None:
    """Statistics overall or per group (also used by `demo`)."""
    query = trail.jobs(**flt.kwargs())
    if by is None:
        counts = query.counts()
        overall = query.stats(exact=exact)
        if as_json:
            emit_json({"count": sum(counts.values()), "counts": counts, **overall.as_dict()})
            return
        cli.out.print(counts_table(counts))
        cli.out.print()
        cli.out.print(stats_table(overall))
        return
    groups = query.counts(by=by)
    rows: list[tuple[str, int, Stats]] = []
    for key, count in sorted(groups.items(), key=lambda kv: (-kv[1], kv[0])):
        rows.append((key, count, trail.jobs(**_group_filter(flt, by, key)).stats(exact=exact)))
    if as_json:
        emit_json({"by": by, "groups": [{"key": k, "count": n, **s.as_dict()} for k, n, s in rows]})
        return
    if not rows:
        cli.out.print("No jobs match.")
        return
    cli.out.print(grouped_stats_table(by, rows))
