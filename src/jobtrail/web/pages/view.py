"""Rendering: the Jinja2 environment (autoescape everywhere), human-unit filters, security headers.

Every page goes through `render`, so no page can forget its Content-Security-Policy: scripts only
from this server's static files (no inline script), chart data only inside JSON blocks escaped by
`tojson` (which turns `<`, `>`, `&` and `'` into `\\u003c`-style escapes, so `</script>` in a job's
name cannot close the block).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import cache
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from jobtrail.durations import format_duration, format_relative
from jobtrail.web.pages.mount import root_of, route_path
from jobtrail.web.pages.static import asset_url

__all__ = ["csp", "environment", "render", "security_headers", "warm"]

STATE_TONES = {
    "succeeded": "ok", "failed": "bad", "killed": "bad", "lost": "bad", "cancelled": "muted",
    "retrying": "warn", "kill_requested": "warn", "queued": "info", "scheduled": "muted",
    "started": "run",
}


def csp(frame_ancestors: tuple[str, ...] = ("'self'",)) -> str:
    """Scripts only from this origin: no inline script, no eval. Styles may be inline, because
    ECharts positions its tooltips with style attributes."""
    return "; ".join((
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors " + " ".join(frame_ancestors),
    ))


def security_headers(frame_ancestors: tuple[str, ...] = ("'self'",)) -> dict[str, str]:
    headers = {
        "Content-Security-Policy": csp(frame_ancestors),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store",
    }
    if frame_ancestors == ("'self'",):
        headers["X-Frame-Options"] = "SAMEORIGIN"  # for browsers that predate frame-ancestors
    return headers


def _stamp(at: float | None) -> str:
    if at is None:
        return "–"
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _query(params: dict[str, Any], **changes: Any) -> str:
    """`params` with `changes` applied (None removes a key), as a query string with its `?`."""
    merged = {**params, **changes}
    pairs: list[tuple[str, str]] = []
    for key, value in merged.items():
        if value is None or value == "" or value == []:
            continue
        for item in value if isinstance(value, list | tuple) else [value]:
            pairs.append((key, str(item)))
    return "?" + urlencode(pairs) if pairs else ""


def _percent(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value * 100:.1f}%" if value < 0.1 else f"{value * 100:.0f}%"


def _rate(value: float | None) -> str:
    if value is None:
        return "–"
    if value == 0:
        return "0"
    if value < 0.1:
        return f"{value:.2g}"
    return f"{value:.2f}" if value < 10 else f"{value:.0f}"


def _field(obj: Any, key: str) -> Any:
    """`obj[key]` for a mapping, else `obj.key`: rows come as dicts (store) or dataclasses (insights)."""
    if isinstance(obj, Mapping):
        return obj.get(key)
    return getattr(obj, key, None)


_ROOT: ContextVar[str] = ContextVar("jobtrail_root", default="")
"""The path the app is mounted at while a page renders ('' when it is not mounted)."""


def _root() -> str:
    """Every absolute link on a page starts with this, so a dashboard mounted inside another app
    (`app.mount("/jobs", asgi_app(...))`) links within its mount. A global, not a template
    variable, because imported macros see only globals."""
    return _ROOT.get()


def _asset(path: str) -> str:
    return _ROOT.get() + asset_url(path)


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("jobtrail.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["duration"] = format_duration
    env.filters["stamp"] = _stamp
    env.filters["percent"] = _percent
    env.filters["rate"] = _rate
    env.filters["tone"] = lambda state: STATE_TONES.get(state, "muted")
    env.globals["asset"] = _asset
    env.globals["root"] = _root
    env.globals["relative"] = format_relative
    env.globals["query"] = _query
    env.globals["field"] = _field
    return env


def warm() -> None:
    """Compile every template and gzip every static file now (about 150 ms), which the first
    requests after a start would otherwise pay for: the server runs this before it serves."""
    env = environment()
    for name in env.list_templates():
        env.get_template(name)
    asset_url("app.css")  # builds the table of static files


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    status: int = 200,
    frame_ancestors: tuple[str, ...] = ("'self'",),
    cookies: bool = True,
) -> HTMLResponse:
    """The page, with its security headers and the CSRF cookie its forms need (`cookies=False`
    for a signed embed, which has no forms and must leave no trace in the visitor's browser)."""
    from jobtrail.web.pages.session import csrf_value, ensure_csrf_cookie, viewer_or_none

    csrf = csrf_value(request)
    viewer = context.get("viewer") or viewer_or_none(request)
    now = context.get("now") or time.time()
    dash = request.app.state.dash
    values = {"request": request, "read_only": dash.read_only, "refresh": dash.refresh_seconds,
              "path": route_path(request), "csrf": csrf, "live": False, **context,
              "viewer": viewer, "now": now}
    mounted = _ROOT.set(root_of(request))
    try:
        html = environment().get_template(template).render(values)
    finally:
        _ROOT.reset(mounted)
    response = HTMLResponse(html, status_code=status, headers=security_headers(frame_ancestors))
    if cookies:
        ensure_csrf_cookie(request, response)
    return response
