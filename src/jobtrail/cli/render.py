"""Rich views of jobs, batches and statistics. Every duration goes through `format_duration` and
every instant through `when`/`ago`, so no screen shows raw seconds."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime

from rich.table import Table
from rich.text import Text

from jobtrail.durations import format_duration, format_relative
from jobtrail.model import BatchSummary, Job, Stats, Summary
from jobtrail.states import STATES

__all__ = [
    "ago",
    "batch_view",
    "counts_table",
    "grouped_stats_table",
    "jobs_table",
    "plain",
    "state_text",
    "stats_table",
    "when",
]

STATE_STYLE = {
    "scheduled": "cyan",
    "queued": "yellow",
    "started": "blue",
    "retrying": "yellow",
    "succeeded": "green",
    "failed": "bold red",
    "killed": "magenta",
    "cancelled": "dim",
    "lost": "red",
    "kill_requested": "bold magenta",
}
_ORDER = {state: i for i, state in enumerate(STATES)}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # C0 and C1 controls but tab and newline


def plain(text: str) -> str:
    """User text with its control characters shown as `\\x1b`: markup off is not enough, since
    Rich passes ESC through and an escape sequence in a job's name would drive the terminal
    (retitle or clear it, forge links, rewrite what the table shows)."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def state_text(state: str) -> Text:
    return Text(state, style=STATE_STYLE.get(state, ""))


def when(at: float | None) -> str:
    """Absolute UTC time with milliseconds: jobs span hosts, so local time would mislead."""
    if at is None:
        return "–"
    stamp = datetime.fromtimestamp(at, UTC)
    return stamp.strftime("%Y-%m-%d %H:%M:%S.") + f"{stamp.microsecond // 1000:03d} UTC"


def ago(at: float | None, now: float) -> str:
    return format_relative(at, now)


def jobs_table(jobs: Sequence[Job], now: float) -> Table:
    """One row per job, newest first, as `jobtrail jobs` shows them."""
    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    table.add_column("id", no_wrap=True, overflow="fold")
    table.add_column("name", overflow="fold")
    table.add_column("queue")
    table.add_column("state", no_wrap=True)
    table.add_column("created", justify="right", no_wrap=True)
    table.add_column("wait", justify="right", no_wrap=True)
    table.add_column("run", justify="right", no_wrap=True)
    for job in jobs:
        table.add_row(
            plain(job.id),
            plain(job.name or "–"),
            plain(job.queue),
            state_text(job.state),
            ago(job.created_at, now),
            format_duration(job.wait),
            format_duration(job.run),
        )
    return table


def counts_table(counts: Mapping[str, int], title: str = "state") -> Table:
    """Counts per key, states in lifecycle order, anything else by count descending."""
    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    table.add_column(title)
    table.add_column("jobs", justify="right")
    keys = sorted(counts, key=lambda k: (_ORDER.get(k, len(_ORDER)), -counts[k], k))
    for key in keys:
        label = state_text(key) if title == "state" else Text(plain(key))
        table.add_row(label, f"{counts[key]:,}")
    table.add_row(Text("total", style="bold"), Text(f"{sum(counts.values()):,}", style="bold"))
    return table


_STAT_FIELDS = ("min", "avg", "max", "p50", "p95", "p99")


def _summary_cells(s: Summary) -> list[str]:
    return [f"{s.count:,}", *(format_duration(getattr(s, f)) for f in _STAT_FIELDS)]


def stats_table(stats: Stats) -> Table:
    """Run and wait durations: count, min, avg, max and percentiles, with where they came from."""
    source = "roll-ups (include deleted jobs)" if stats.source == "rollup" else "job rows (exact)"
    table = Table(show_edge=False, pad_edge=False, header_style="bold",
                  caption=f"source: {stats.source} — {source}", caption_justify="left")
    table.add_column("duration")
    table.add_column("count", justify="right")
    for field in _STAT_FIELDS:
        table.add_column(field, justify="right")
    table.add_row("run", *_summary_cells(stats.run))
    table.add_row("wait", *_summary_cells(stats.wait))
    return table


def grouped_stats_table(by: str, rows: Iterable[tuple[str, int, Stats]]) -> Table:
    """One row per name, state or queue: how many jobs, and their run and wait percentiles."""
    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    table.add_column(by, overflow="fold")
    table.add_column("jobs", justify="right")
    for kind in ("run", "wait"):
        for field in ("count", "avg", "p50", "p95", "p99", "max"):
            table.add_column(f"{kind} {field}", justify="right", no_wrap=True)
    sources = set()
    for key, count, stats in rows:
        sources.add(stats.source)
        cells: list[str | Text] = [state_text(key) if by == "state" else Text(plain(key)),
                                   f"{count:,}"]
        for s in (stats.run, stats.wait):
            cells.append(f"{s.count:,}")
            cells.extend(format_duration(getattr(s, f)) for f in ("avg", "p50", "p95", "p99", "max"))
        table.add_row(*cells)
    if sources:
        table.caption = f"source: {', '.join(sorted(sources))}"
        table.caption_justify = "left"
    return table


def batch_view(batch: BatchSummary, now: float) -> tuple[Table, Table]:
    """A batch's timing facts and its counts per state."""
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    status = "finished" if batch.finished else "in progress"
    facts.add_row("batch", plain(batch.id))
    facts.add_row("jobs", f"{batch.total:,} ({status})")
    facts.add_row("runtime", f"{format_duration(batch.runtime)} (sum of completed jobs' run times)")
    facts.add_row("wall time", f"{format_duration(batch.wall_time)} (first start to last finish)")
    facts.add_row("queue time", f"{format_duration(batch.queue_time)} (first queued to first start)")
    for label, at in (("first queued", batch.first_queued_at),
                      ("first started", batch.first_started_at),
                      ("last finished", batch.last_finished_at)):
        facts.add_row(label, f"{when(at)} ({ago(at, now)})" if at is not None else "–")
    return facts, counts_table(batch.counts)
