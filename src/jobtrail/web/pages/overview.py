"""`/` (counts, per-name table, queues, throughput, failure rate, load), `/queues`, `/workers`."""

from __future__ import annotations

import time

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from jobtrail import insights
from jobtrail.model import JobFilter
from jobtrail.states import STATES
from jobtrail.web.pages import charts
from jobtrail.web.pages.routing import html_errors, store_of
from jobtrail.web.pages.session import require
from jobtrail.web.pages.view import render

__all__ = ["router"]

router = APIRouter()


@router.get("/", include_in_schema=False)
@html_errors
def overview_page(request: Request) -> Response:
    viewer = require(request, "read")
    now = time.time()
    window = charts.Window.from_params(request.query_params, now)
    store = store_of(request)
    data = insights.overview(store, window.since, window.until, now=now)
    # The boxes link to /jobs?state=…&range=…, so they count what that list shows: jobs created
    # in the span, by their state now (insights' counts are transitions, every attempt's).
    counts = store.counts(JobFilter(since=window.since), "state")
    label = window.label

    def embed(chart: str) -> str:
        return f"/embed/{chart}?range={label}"

    return render(request, "overview.html", {
        "viewer": viewer, "now": now, "window": window, "ranges": charts.RANGES, "data": data,
        "counts": counts, "states": [s for s in STATES if counts.get(s)],
        "total": sum(counts.values()),
        "live": True,
        "throughput": charts.series_chart(data.throughput, "Jobs finished", "count", kind="bar",
                                          stack=True, embed=embed("throughput")),
        "failure_rate": charts.series_chart(data.failure_rate, "Failure rate", "percent",
                                            embed=embed("failure-rate")),
        "load": charts.series_chart(data.load, "Jobs queued and running", "count", area=True,
                                    embed=embed("load")),
    })


@router.get("/queues", include_in_schema=False)
@html_errors
def queues_page(request: Request) -> Response:
    viewer = require(request, "read")
    now = time.time()
    store = store_of(request)
    return render(request, "queues.html", {"viewer": viewer, "now": now,
                                           "queues": insights.queues(store, now),
                                           "levels": store.queue_levels(), "live": True})


@router.get("/workers", include_in_schema=False)
@html_errors
def workers_page(request: Request) -> Response:
    viewer = require(request, "read")
    now = time.time()
    return render(request, "workers.html", {"viewer": viewer, "now": now,
                                            "workers": insights.workers(store_of(request), now),
                                            "live": True})
