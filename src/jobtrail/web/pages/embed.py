"""`/embed/<chart>?…`: one chart alone, framable by the origins in `JOBTRAIL_FRAME_ORIGINS`.

A link that carries `signature=` is judged by it alone (see `jobtrail.embeds`): valid and unexpired,
it shows exactly the signed chart and parameters to anyone, read-only, and sets no cookie; otherwise
403 with the reason, whatever cookie or token came with it. Without a signature the viewer needs a
`read` token as on every page. Errors keep the embed's frame-ancestors, so the reason shows inside
the other site's iframe instead of the browser's refusal.
"""

from __future__ import annotations

import time

from fastapi import APIRouter
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from jobtrail.embeds import EXPIRES, SIGNATURE, EmbedDenied, verify
from jobtrail.web.pages import charts
from jobtrail.web.pages.routing import html_errors, store_of
from jobtrail.web.pages.session import PageError, Viewer, require
from jobtrail.web.pages.view import render

__all__ = ["router"]

router = APIRouter()
_SIGNED_VIEWER = Viewer(frozenset({"read"}), False, "")


@router.get("/embed/{chart}", include_in_schema=False)
def embed_page(request: Request, chart: str) -> Response:
    frames = request.app.state.dash.frame_origins
    pairs = request.query_params.multi_items()
    signed = any(key == SIGNATURE for key, _ in pairs)
    try:
        return _chart(request, chart, signed, frames)
    except PageError as exc:
        return render(request, "error.html", {"status": exc.status, "message": exc.message},
                      status=exc.status, frame_ancestors=frames, cookies=not signed)


@html_errors
def _chart(request: Request, chart: str, signed: bool, frames: tuple[str, ...]) -> Response:
    params = request.query_params
    if signed:
        secret: str | None = request.app.state.settings.embed_secret
        if not secret:
            raise PageError(403, "signed embeds are off: this server has no JOBTRAIL_EMBED_SECRET")
        try:
            verify(chart, params.multi_items(), secret)
        except EmbedDenied as exc:
            raise PageError(403, str(exc)) from None
        viewer = _SIGNED_VIEWER
        params = QueryParams([(k, v) for k, v in params.multi_items()
                              if k not in (SIGNATURE, EXPIRES)])
    else:
        viewer = require(request, "read")
    now = time.time()
    config = charts.build(chart, store_of(request), params, now)
    if signed:
        config["embed"] = ""  # its unsigned link would only lead the iframe to the login form
    return render(request, "embed.html", {"viewer": viewer, "now": now, "chart": config},
                  frame_ancestors=frames, cookies=not signed)
