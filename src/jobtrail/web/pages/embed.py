"""`/embed/<chart>?…`: one chart alone, framable by the origins in `JOBTRAIL_FRAME_ORIGINS`."""

from __future__ import annotations

import time

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from jobtrail.web.pages import charts
from jobtrail.web.pages.routing import html_errors, store_of
from jobtrail.web.pages.session import require
from jobtrail.web.pages.view import render

__all__ = ["router"]

router = APIRouter()


@router.get("/embed/{chart}", include_in_schema=False)
@html_errors
def embed_page(request: Request, chart: str) -> Response:
    viewer = require(request, "read")
    now = time.time()
    config = charts.build(chart, store_of(request), request.query_params, now)
    return render(request, "embed.html", {"viewer": viewer, "now": now, "chart": config},
                  frame_ancestors=request.app.state.dash.frame_origins)
