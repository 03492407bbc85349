"""`jobtrail show`: everything known about one job, each state with its absolute and relative time."""

from __future__ import annotations

import json
from typing import Any

from rich.console import RenderableType
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from jobtrail.durations import format_duration
from jobtrail.model import Job
from jobtrail.states import TERMINAL

from .render import ago, plain, state_text, when

__all__ = ["job_detail"]


def _grid() -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    return grid


def _heading(title: str) -> Text:
    """A section title; not a full-width rule, which would span 200 columns in a pipe."""
    return Text(f"\n{title}", style="bold underline")


def _stamp(at: float | None, now: float) -> str:
    return f"{when(at)}  ({ago(at, now)})" if at is not None else "–"


def _json(value: Any) -> Syntax:
    return Syntax(json.dumps(value, indent=2, sort_keys=True, default=str), "json",
                  theme="ansi_dark", background_color="default", word_wrap=True)


def _state_line(job: Job) -> Text:
    text = state_text(job.state)
    if job.kill_requested_at is not None and job.state in TERMINAL:
        text.append("  (finished despite a kill request)", style="magenta")
    return text


def _fields(job: Job, now: float) -> Table:
    grid = _grid()
    grid.add_row("id", plain(job.id))
    grid.add_row("name", plain(job.name or "–"))
    grid.add_row("state", _state_line(job))
    grid.add_row("queue", plain(job.queue))
    grid.add_row("batch", plain(job.batch or "–"))
    grid.add_row("attempt", str(job.attempt))
    grid.add_row("worker", plain(job.worker or "–"))
    grid.add_row("wait", format_duration(job.wait))
    grid.add_row("run", format_duration(job.run))
    grid.add_row("created", _stamp(job.created_at, now))
    grid.add_row("updated", _stamp(job.updated_at, now))
    grid.add_row("heartbeat", _stamp(job.heartbeat_at, now))
    if job.keep is not None:
        grid.add_row("keep", "forever" if job.keep < 0 else format_duration(job.keep))
    grid.add_row("resources", plain(", ".join(job.resources) or "–"))
    labels = ", ".join(f"{k}={v}" for k, v in sorted(job.labels.items()))
    grid.add_row("labels", plain(labels or "–"))
    return grid


def _timeline(job: Job, now: float) -> Table:
    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    table.add_column("state")
    table.add_column("at (UTC)", no_wrap=True)
    table.add_column("ago", justify="right", no_wrap=True)
    table.add_column("after previous", justify="right", no_wrap=True)
    previous: float | None = None
    for state, at in job.timestamps.items():
        step = format_duration(at - previous) if previous is not None else ""
        table.add_row(state_text(state), when(at), ago(at, now), step)
        previous = at
    return table


def _attempts(job: Job) -> Table:
    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    for column in ("#", "queued", "started", "ended", "end", "run", "worker", "error"):
        table.add_column(column, overflow="fold")
    for a in job.attempts:
        error = ""
        if a.error:
            error = ": ".join(p for p in (a.error.get("type"), a.error.get("message")) if p)
        table.add_row(
            str(a.number), when(a.queued_at), when(a.started_at), when(a.ended_at),
            state_text(a.end) if a.end else Text("–"), format_duration(a.run),
            plain(a.worker or "–"), plain(error or "–"),
        )
    return table


def _progress(progress: dict[str, int] | Any) -> str:
    done, total = progress.get("done"), progress.get("total")
    parts = []
    if done is not None and total:
        parts.append(f"{done:,} of {total:,} done ({100 * done / total:.0f}%)")
    elif done is not None:
        parts.append(f"{done:,} done")
    elif total is not None:
        parts.append(f"{total:,} total")
    for key in ("failed", "skipped"):
        if progress.get(key):
            parts.append(f"{progress[key]:,} {key}")
    return ", ".join(parts) or "–"


def job_detail(job: Job, now: float) -> list[RenderableType]:
    """Renderables in reading order: fields, states over time, attempts, progress, error, payloads."""
    out: list[RenderableType] = [_fields(job, now), _heading("states"), _timeline(job, now)]
    if job.attempts:
        out += [_heading("attempts"), _attempts(job)]
    if job.progress:
        out += [_heading("progress"), Text(_progress(job.progress))]
    if job.error:
        title = ": ".join(p for p in (job.error.get("type"), job.error.get("message")) if p)
        out += [_heading("error"), Text(plain(title or "(no message)"), style="bold red")]
        if job.error.get("traceback"):
            out.append(Text(plain(job.error["traceback"].rstrip())))
    if job.args is not None:
        out += [_heading("args"), _json(job.args)]
    if job.result is not None:
        out += [_heading("result"), _json(job.result)]
    return out

