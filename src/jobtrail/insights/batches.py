"""A job request (batch) as a timeline: one Gantt row per job, and when it should be done."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from jobtrail.model import BatchSummary
from jobtrail.query import batch_summary
from jobtrail.sketch import quantiles
from jobtrail.states import TERMINAL
from jobtrail.store.base import Store

__all__ = ["BatchTimeline", "GanttRow", "batch_timeline"]

DAY = 86400.0


@dataclass(frozen=True, slots=True)
class GanttRow:
    """One job: waiting from queued_at to started_at, running from started_at to finished_at
    (None while it has not got there)."""

    job_id: str
    name: str
    state: str
    queued_at: float | None
    started_at: float | None
    finished_at: float | None


@dataclass(frozen=True, slots=True)
class BatchTimeline:
    """`rows` ordered by queued time, at most `limit` of `summary.total` (`truncated` says so);
    `eta` is when the unfinished jobs should be done, None once all are."""

    summary: BatchSummary
    rows: list[GanttRow]
    truncated: bool
    eta: float | None
    usual_runs: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary.as_dict(),
            "rows": [{f: getattr(r, f) for f in r.__dataclass_fields__} for r in self.rows],
            "truncated": self.truncated,
            "eta": self.eta,
            "usual_runs": dict(self.usual_runs),
        }


def _usual(store: Store, kind: str, names: list[str], now: float, days: float) -> dict[str, float]:
    """Median `kind` seconds per name over the last day, or the last `days` for names that did
    not run in it: one roll-up read for all names (a day is cheap at any volume)."""
    out: dict[str, float] = {}
    for span in (DAY, days * DAY):
        missing = [n for n in names if n not in out]
        if not missing:
            break
        merged: dict[str, dict[int, int]] = {}
        for _, name, _, bucket, n in store.rollup_histograms(kind, now - span, now, missing):
            merged.setdefault(name, {}).setdefault(bucket, 0)
            merged[name][bucket] += n
        for name, buckets in merged.items():
            value = quantiles(buckets, (0.5,))[0.5]
            if value is not None:
                out[name] = value
    return out


def batch_timeline(
    store: Store,
    batch_id: str,
    now: float | None = None,
    limit: int = 2000,
    days: float = 14,
) -> BatchTimeline:
    """The Gantt rows and ETA of one batch; unknown batches raise `NotFound`.

    The ETA assumes the unfinished jobs run side by side as they have so far: a running job ends
    its name's usual run (median over the last day, or the last `days` when it did not run in
    the last day; from roll-ups) after it started, a queued one waits and runs the usual times
    from now. When the batch finishes jobs more slowly than
    that, its own pace so far (finished jobs per second since its first start) gives a later ETA,
    and the later of the two wins.
    """
    now = time.time() if now is None else now
    summary = batch_summary(store, batch_id)
    rows: list[GanttRow] = []
    unfinished: list[GanttRow] = []
    for r in store.batch_rows(batch_id):
        row = GanttRow(
            job_id=r["id"],
            name=r["name"] or "",
            state=r["state"],
            queued_at=r["queued_at"],
            started_at=r["started_at"],
            finished_at=r["finished_at"],
        )
        if len(rows) < limit:
            rows.append(row)
        if r["state"] not in TERMINAL:
            unfinished.append(row)
    rows.sort(key=lambda g: (g.queued_at if g.queued_at is not None else float("inf"), g.job_id))
    usual_runs: dict[str, float] = {}
    eta = None
    if unfinished:
        names = sorted({g.name for g in unfinished})
        usual_runs = _usual(store, "run", names, now, days)
        usual_waits = _usual(store, "wait", names, now, days)
        ends = []
        for g in unfinished:
            run = usual_runs.get(g.name, 0.0)
            if g.started_at is not None:
                ends.append(max(now, g.started_at + run))
            else:
                ends.append(now + usual_waits.get(g.name, 0.0) + run)
        eta = max(ends)
        done = summary.total - len(unfinished)
        if done and summary.first_started_at is not None and now > summary.first_started_at:
            pace = done / (now - summary.first_started_at)
            eta = max(eta, now + len(unfinished) / pace)
    return BatchTimeline(
        summary=summary,
        rows=rows,
        truncated=summary.total > len(rows),
        eta=eta,
        usual_runs=usual_runs,
    )
