"""Commands that change jobs: `kill`, `delete`, `sweep`.

Bulk commands are guarded because one typo can flag or delete millions of jobs: with no filter at
all they refuse unless `--all` is given; they show how many jobs match and ask before acting unless
`--yes`; `--dry-run` only counts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated

import typer

from jobtrail.errors import InvalidInput
from jobtrail.query import JobQuery

from .context import EXIT_INPUT, EXIT_STORE, Cli, emit_json, fail, guard
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
from .progress import progress_bar

__all__ = ["delete", "kill", "sweep"]

DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Only count what would change.")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
AllOpt = Annotated[bool, typer.Option(
    "--all", help="Allow a bulk command without any filter (every job).")]


def _plural(n: int) -> str:
    return f"{n:,} job{'s' if n != 1 else ''}"


def _bulk(
    cli: Cli,
    flt: Filters,
    *,
    everything: bool,
    dry_run: bool,
    yes: bool,
    action: str,
    run: Callable[[JobQuery, bool, Callable[[int], None] | None], int],
) -> None:
    """Count, confirm, then act with a progress bar; the shared path of bulk kill and delete."""
    if flt.empty and not everything:
        raise fail(f"refusing to {action} every job: give a filter (--state, --name, ...) "
                   f"or --all", EXIT_INPUT)
    query = cli.trail.jobs(**flt.kwargs())
    count = run(query, True, None)
    if dry_run or count == 0:
        if cli.json:
            emit_json({"action": action, "dry_run": dry_run, "count": count})
        elif count == 0:
            cli.out.print(f"No jobs to {action}.")
        else:
            cli.out.print(f"Would {action} {_plural(count)} (dry run; nothing changed).")
        return
    if not yes and not typer.confirm(f"{action.capitalize()} {_plural(count)}?", default=False,
                                     err=True):
        typer.echo("Nothing changed.", err=True)
        raise typer.Exit(EXIT_STORE)
    with progress_bar(cli.err, action.capitalize(), count) as advance:
        done = run(query, False, advance)
    if cli.json:
        emit_json({"action": action, "dry_run": False, "count": done})
    else:
        verb = {"kill": "Flagged", "delete": "Deleted"}[action]
        suffix = " for killing" if action == "kill" else ""
        cli.out.print(f"{verb} {_plural(done)}{suffix}.")


def _kill_one(cli: Cli, job_id: str) -> None:
    before = cli.trail.get(job_id)
    job = cli.trail.kill(job_id)  # Conflict (exit 2) when it already finished
    if cli.json:
        emit_json(job.as_dict())
    elif before.kill_requested_at is not None:
        cli.out.print(f"Job {job_id} already has a kill request; its worker stops it when it "
                      f"next checks.")
    else:
        cli.out.print(f"Kill requested for job {job_id}; its worker stops it when it next checks.")


@guard
def kill(
    ctx: typer.Context,
    job_id: Annotated[str | None, typer.Argument(
        help="One job to kill. Without it, every unfinished job matching the filters.",
        show_default=False)] = None,
    state: StateOpt = None,
    name: NameOpt = None,
    queue: QueueOpt = None,
    batch: BatchOpt = None,
    resource: ResourceOpt = None,
    label: LabelOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    everything: AllOpt = False,
    json_: JsonOpt = False,
) -> None:
    """Ask workers to kill one job, or every unfinished job matching the filters.

    The job's state becomes kill_requested; the worker's tracking client sees the flag and the
    job stops at its next check (a job that finishes anyway keeps the flag).
    """
    cli = Cli.of(ctx, json_)
    flt = Filters.of(state, name, queue, batch, resource, label, since, until)
    if job_id is not None:
        if not flt.empty or everything:
            raise InvalidInput("give either a JOB_ID or filters, not both")
        _kill_one(cli, job_id)
        return
    _bulk(cli, flt, everything=everything, dry_run=dry_run, yes=yes, action="kill",
          run=lambda q, dry, progress: q.request_kill(dry_run=dry, progress=progress))


@guard
def delete(
    ctx: typer.Context,
    state: StateOpt = None,
    name: NameOpt = None,
    queue: QueueOpt = None,
    batch: BatchOpt = None,
    resource: ResourceOpt = None,
    label: LabelOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    everything: AllOpt = False,
    json_: JsonOpt = False,
) -> None:
    """Delete the rows of every job matching the filters (statistics keep counting them)."""
    cli = Cli.of(ctx, json_)
    flt = Filters.of(state, name, queue, batch, resource, label, since, until)
    _bulk(cli, flt, everything=everything, dry_run=dry_run, yes=yes, action="delete",
          run=lambda q, dry, progress: q.delete(dry_run=dry, progress=progress))


@guard
def sweep(
    ctx: typer.Context,
    dry_run: DryRunOpt = False,
    json_: JsonOpt = False,
) -> None:
    """Apply retention: delete jobs kept long enough (JOBTRAIL_RETENTION), compact old roll-ups."""
    cli = Cli.of(ctx, json_)
    trail = cli.trail
    if dry_run:
        expired = trail.store.expired(trail.settings.retention, time.time(), 2**31 - 1)
        if cli.json:
            emit_json({"dry_run": True, "deleted": len(expired)})
        else:
            cli.out.print(f"Would delete {_plural(len(expired))} (dry run; nothing changed).")
        return
    with progress_bar(cli.err, "Sweeping: deleted", None) as advance:
        result = trail.sweep(progress=advance)
    if cli.json:
        emit_json({"dry_run": False, "deleted": result.deleted, "compacted": result.compacted})
    else:
        cli.out.print(f"Deleted {_plural(result.deleted)}; compacted "
                      f"{result.compacted:,} per-minute roll-up rows.")
