"""Pages about a group of jobs: `/batches/{id}`, `/names/{name}`, `/resources/{Type:id}`."""

from __future__ import annotations

import time

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from jobtrail import insights
from jobtrail.insights.names import state_counts
from jobtrail.states import STATES
from jobtrail.web.pages import charts
from jobtrail.web.pages.routing import html_errors, store_of
from jobtrail.web.pages.session import PageError, require
from jobtrail.web.pages.view import render

__all__ = ["router"]

router = APIRouter()


@router.get("/batches/{batch_id:path}", include_in_schema=False)
@html_errors
def batch_page(request: Request, batch_id: str) -> Response:
    viewer = require(request, "read")
    now = time.time()
    store = store_of(request)
    highlight = request.query_params.get("highlight") or None
    memo: dict[tuple[object, ...], object] = {}
    gantt = charts.build("gantt", store, {"batch": batch_id, "highlight": highlight or ""}, now, memo)
    timeline = charts.Ctx(store, {}, now, memo).call("batch_timeline", batch_id, now=now)
    return render(request, "batch.html", {
        "viewer": viewer, "now": now, "batch": batch_id, "timeline": timeline,
        "summary": timeline.summary, "gantt": gantt,
        "gantt_height": min(1400, max(160, 22 * len(timeline.rows) + 80)), "highlight": highlight,
        "states": STATES, "live": not timeline.summary.finished,
    })


@router.get("/names/{name:path}", include_in_schema=False)
@html_errors
def name_page(request: Request, name: str) -> Response:
    viewer = require(request, "read")
    now = time.time()
    store = store_of(request)
    window = charts.Window.from_params(request.query_params, now, "7d")
    params = {"name": name, "range": window.label}
    memo: dict[tuple[object, ...], object] = {}
    built = {chart: charts.build(chart, store, params, now, memo)
             for chart in ("duration-trend", "heatmap", "throughput", "failure-rate", "wait")}
    detail = charts.Ctx(store, params, now, memo).call("name_detail", name, window.since, window.until)
    counts = state_counts(store, name, window.since, now)
    periodic = getattr(detail, "periodic", None)
    return render(request, "name.html", {
        "viewer": viewer, "now": now, "name": name, "window": window, "ranges": charts.RANGES,
        "charts": built, "failures": detail.recent_failures, "periodic": periodic,
        "counts": counts, "states": [s for s in STATES if counts.get(s)],
    })


@router.get("/resources/{resource:path}", include_in_schema=False)
@html_errors
def resource_page(request: Request, resource: str) -> Response:
    viewer = require(request, "read")
    if ":" not in resource:
        raise PageError(400, "a resource looks like Type:id, e.g. Book:123")
    now = time.time()
    store = store_of(request)
    cursor = request.query_params.get("cursor") or None
    detail = insights.resource_detail(store, resource, limit=100, cursor=cursor)
    return render(request, "resource.html", {
        "viewer": viewer, "now": now, "resource": resource, "jobs": detail.page.jobs,
        "next_cursor": detail.page.next_cursor, "counts": detail.counts, "names": detail.names,
        "states": [s for s in STATES if detail.counts.get(s)],
    })
