"""`/health` and `/alerts`: the health report with every periodic job's standing, and the alerts
pending or firing now with their history of transitions."""

from __future__ import annotations

import time

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from jobtrail import alerts, health, periodic
from jobtrail.web.pages.routing import html_errors, store_of
from jobtrail.web.pages.session import require
from jobtrail.web.pages.view import render

__all__ = ["router"]

router = APIRouter()
HISTORY = 200


@router.get("/health", include_in_schema=False)
@html_errors
def health_page(request: Request) -> Response:
    viewer = require(request, "read")
    now = time.time()
    store = store_of(request)
    report = health.check(store, now=now)
    schedules = periodic.statuses(store, now)
    return render(request, "health.html", {"viewer": viewer, "now": now, "report": report,
                                           "periodic": schedules, "live": True})


@router.get("/alerts", include_in_schema=False)
@html_errors
def alerts_page(request: Request) -> Response:
    viewer = require(request, "read")
    now = time.time()
    store = store_of(request)
    return render(request, "alerts.html", {
        "viewer": viewer, "now": now, "live": True,
        "active": alerts.active(store), "history": alerts.history(store, limit=HISTORY),
    })
