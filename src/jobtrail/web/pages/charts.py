"""Every chart is a URL: `build(chart, store, params)` gives the JSON config that `charts.js` draws.

The full pages and `/embed/<chart>?…` call the same builders with the same query parameters (range,
name, job, batch, highlight), so an embedded chart is exactly the one on the page. Configs hold
plain data only (times in ms, durations in seconds, untrusted names as strings); the browser side
formats units and escapes every string it puts into a tooltip.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from jobtrail import insights
from jobtrail.durations import parse_duration
from jobtrail.errors import InvalidInput
from jobtrail.insights.series import choose_step
from jobtrail.insights.series import load as load_series
from jobtrail.model import Job
from jobtrail.store.base import Store
from jobtrail.web.pages.session import PageError

__all__ = ["CHARTS", "Ctx", "Window", "build", "series_chart"]

Config = dict[str, Any]
RANGES = ("1h", "6h", "24h", "7d", "30d")
RUN_POINTS = 500  # earlier runs drawn next to this one (the newest; the sentence says how many)


@dataclass(frozen=True, slots=True)
class Window:
    """The time span a page or chart covers: `range` back from now (default 24h)."""

    since: float
    until: float
    label: str

    @classmethod
    def from_params(cls, params: Mapping[str, str], now: float | None = None,
                    default: str = "24h") -> Window:
        now = time.time() if now is None else now
        label = params.get("range") or default
        try:
            span = parse_duration(label)
        except InvalidInput as exc:
            raise PageError(400, str(exc)) from None
        if not 60 <= span <= 366 * 86400:
            raise PageError(400, "range must be between 1m and 366d")
        return cls(now - span, now, label)


def _ms(t: float | None) -> float | None:
    return None if t is None else round(t * 1000)


def series_chart(series: Any, title: str, unit: str, *, kind: str = "line", stack: bool = False,
                 area: bool = False, embed: str = "") -> Config:
    """A time chart from an insights `Series` (step, names, points [(t, {name: value})])."""
    names = list(series.names)
    data: dict[str, list[list[float | None]]] = {n: [] for n in names}
    for t, values in series.points:
        for i, n in enumerate(names):
            data[n].append([_ms(t), values[i]])
    return {
        "kind": "time", "title": title, "unit": unit, "step": series.step, "embed": embed,
        "series": [{"name": n, "type": kind, "stack": stack, "area": area, "data": data[n]}
                   for n in names],
    }


def _embed(chart: str, **params: Any) -> str:
    clean = {k: v for k, v in params.items() if v not in (None, "")}
    return f"/embed/{chart}" + (f"?{urlencode(clean)}" if clean else "")


@dataclass
class Ctx:
    """One build: its store, query parameters and clock, and a memo so that the charts of one page
    share each insights call (the name page draws five charts from one `name_detail`)."""

    store: Store
    params: Mapping[str, str]
    now: float
    memo: dict[tuple[Any, ...], Any]

    def call(self, function: str, *args: Any, **kwargs: Any) -> Any:
        key = (function, repr(args), repr(sorted(kwargs.items())))  # Job holds dicts: unhashable
        if key not in self.memo:
            self.memo[key] = getattr(insights, function)(self.store, *args, **kwargs)
        return self.memo[key]


def _job(store: Store, params: Mapping[str, str]) -> Job:
    job_id = params.get("job")
    if not job_id:
        raise PageError(400, "this chart needs ?job=<job id>")
    record = store.get(job_id)
    if record is None:
        raise PageError(404, f"no job {job_id!r}")
    return Job.from_record(record)


def _overview_part(part: str, title: str, unit: str, **style: Any) -> Callable[..., Config]:
    def chart(ctx: Ctx) -> Config:
        store, params, now = ctx.store, ctx.params, ctx.now
        window = Window.from_params(params, now)
        name = params.get("name")
        if name:
            detail = ctx.call("name_detail", name, window.since, window.until)
            series = _name_load(store, name, window) if part == "load" else getattr(detail, part)
        else:
            series = getattr(ctx.call("overview", window.since, window.until, now=now), part)
        embed = _embed(part.replace("_", "-"), range=window.label, name=name)
        return series_chart(series, title + (f" — {name}" if name else ""), unit, embed=embed,
                            **style)

    return chart


def _name_load(store: Store, name: str, window: Window) -> Any:
    step = choose_step(window.since, window.until, window.until)
    return load_series(store, window.since, window.until, step, names=(name,))


def run_compare(ctx: Ctx) -> Config:
    store, params, now = ctx.store, ctx.params, ctx.now
    job = _job(store, params)
    comparison = ctx.call("compare_run", job, max_points=RUN_POINTS)
    # [finished ms, run, wait, job id]: compact, as a busy name fills the chart with points.
    points = [[_ms(p[0]), p[1], p[2], p[3]] for p in comparison.points if p[1] is not None]
    if job.run is not None:
        points.append([_ms(job.finished_at or now), job.run, job.wait, job.id])
    return {"kind": "runs", "title": f"This run against earlier runs of {job.name or job.id}",
            "unit": "duration", "points": points, "highlight": job.id, "usual": comparison.usual_run,
            "sentence": comparison.sentence, "embed": _embed("run-compare", job=job.id)}


def busy(ctx: Ctx) -> Config:
    store, params, now = ctx.store, ctx.params, ctx.now
    job = _job(store, params)
    context = ctx.call("busy_context", job)
    config = series_chart(context.load, "Was the server busy? Jobs queued and running", "count",
                          area=True, embed=_embed("busy", job=job.id))
    config["at_start"] = {"queued": context.queued_at_start, "running": context.running_at_start}
    config["sentence"] = context.sentence
    begin = job.queued_at or job.created_at
    config["marks"] = [
        {"label": "wait", "from": _ms(begin), "to": _ms(job.started_at or job.finished_at or now)},
    ]
    if job.started_at is not None:
        config["marks"].append({"label": "run", "from": _ms(job.started_at),
                                "to": _ms(job.finished_at or now)})
    return config


def gantt(ctx: Ctx) -> Config:
    params, now = ctx.params, ctx.now
    batch = params.get("batch")
    if not batch:
        raise PageError(400, "this chart needs ?batch=<batch id>")
    timeline = ctx.call("batch_timeline", batch, now=now)
    rows = [{"id": r.job_id, "name": r.name or r.job_id, "state": r.state, "q": _ms(r.queued_at),
             "s": _ms(r.started_at), "f": _ms(r.finished_at)} for r in timeline.rows]
    highlight = params.get("highlight") or None
    return {"kind": "gantt", "title": f"Timeline of batch {batch}", "unit": "duration",
            "rows": rows, "now": _ms(now), "highlight": highlight,
            "embed": _embed("gantt", batch=batch, highlight=highlight)}


def _name_detail(ctx: Ctx) -> tuple[str, Window, Any]:
    """The job name, window (default 7 days) and `name_detail` a name chart draws from."""
    name = _name(ctx.params)
    window = Window.from_params(ctx.params, ctx.now, "7d")
    return name, window, ctx.call("name_detail", name, window.since, window.until)


def duration_trend(ctx: Ctx) -> Config:
    name, window, detail = _name_detail(ctx)
    return series_chart(detail.trend, f"Run time p50 / p95 — {name}", "duration",
                        embed=_embed("duration-trend", name=name, range=window.label))


def wait_trend(ctx: Ctx) -> Config:
    name, window, detail = _name_detail(ctx)
    return series_chart(detail.wait, f"Wait time p50 / p95 — {name}", "duration",
                        embed=_embed("wait", name=name, range=window.label))


def heatmap(ctx: Ctx) -> Config:
    name, window, detail = _name_detail(ctx)
    hm = detail.heatmap
    return {"kind": "heatmap", "title": f"Run time distribution — {name}", "unit": "count",
            "step": hm.step, "labels": list(hm.labels), "times": [_ms(t) for t in hm.times],
            "cells": [[_ms(t), row, n] for t, row, n in hm.cells],
            "embed": _embed("heatmap", name=name, range=window.label)}


def _name(params: Mapping[str, str]) -> str:
    name = params.get("name")
    if not name:
        raise PageError(400, "this chart needs ?name=<job name>")
    return name


CHARTS: dict[str, Callable[[Ctx], Config]] = {
    "throughput": _overview_part("throughput", "Jobs finished", "count", kind="bar", stack=True),
    "failure-rate": _overview_part("failure_rate", "Failure rate", "percent"),
    "load": _overview_part("load", "Jobs queued and running", "count", area=True),
    "run-compare": run_compare,
    "busy": busy,
    "gantt": gantt,
    "duration-trend": duration_trend,
    "wait": wait_trend,
    "heatmap": heatmap,
}


def build(chart: str, store: Store, params: Mapping[str, str], now: float | None = None,
          memo: dict[tuple[Any, ...], Any] | None = None) -> Config:
    """The config of `chart` for these query parameters; pass one `memo` to the charts of a page."""
    builder = CHARTS.get(chart)
    if builder is None:
        raise PageError(404, f"no chart {chart!r}; charts are {', '.join(sorted(CHARTS))}")
    ctx = Ctx(store, params, time.time() if now is None else now, {} if memo is None else memo)
    config = builder(ctx)
    config["chart"] = chart
    return config
