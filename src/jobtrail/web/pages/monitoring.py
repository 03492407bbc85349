"""`/health` and `/alerts`: rendered from the monitoring modules when they are installed, and a
clear "not configured yet" page when they are not (they are looked up at request time)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from jobtrail.web.pages.data import optional_module
from jobtrail.web.pages.routing import html_errors, store_of
from jobtrail.web.pages.session import require
from jobtrail.web.pages.view import render

__all__ = ["router"]

router = APIRouter()


def _plain(item: Any) -> dict[str, Any]:
    for method in ("as_dict", "to_dict"):
        if hasattr(item, method):
            out: dict[str, Any] = getattr(item, method)()
            return out
    if isinstance(item, dict):
        return item
    return {f: getattr(item, f) for f in getattr(item, "__dataclass_fields__", {})}


@router.get("/health", include_in_schema=False)
@html_errors
def health_page(request: Request) -> Response:
    viewer = require(request, "read")
    now = time.time()
    module = optional_module("jobtrail.health")
    report = None
    if module is not None and hasattr(module, "check"):
        report = module.check(store_of(request), now=now)
    return render(request, "health.html", {"viewer": viewer, "now": now, "report": report,
                                           "live": report is not None})


@router.get("/alerts", include_in_schema=False)
@html_errors
def alerts_page(request: Request) -> Response:
    viewer = require(request, "read")
    now = time.time()
    history = None
    for name in ("jobtrail.alerts.store", "jobtrail.alerts.state"):
        module = optional_module(name)
        if module is not None and hasattr(module, "history"):
            history = [_plain(t) for t in module.history(store_of(request), limit=200)]
            break
    columns = list(history[0]) if history else []
    return render(request, "alerts.html", {"viewer": viewer, "now": now, "history": history,
                                           "columns": columns})
