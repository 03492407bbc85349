"""The dashboard: server-rendered pages over the same store as the API (issue 4).

`install(app)` adds its routes, static files and error pages to the API app; nothing happens at
import time. Settings come from `DashSettings.from_env()` (see `settings.py`).
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from jobtrail.web.pages import embed, groups, jobs, login, monitoring, overview
from jobtrail.web.pages.routing import redirect
from jobtrail.web.pages.session import LoginRequired, PageError, login_redirect_target
from jobtrail.web.pages.settings import DashSettings
from jobtrail.web.pages.static import serve_static
from jobtrail.web.pages.view import render, warm

__all__ = ["DashSettings", "install", "warm"]


def install(app: FastAPI, settings: DashSettings | None = None) -> None:
    app.state.dash = settings or DashSettings.from_env()

    @app.exception_handler(PageError)
    async def page_error(request: Request, exc: PageError) -> Response:
        return render(request, "error.html", {"status": exc.status, "message": exc.message},
                      status=exc.status)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        return redirect(request, login_redirect_target(exc.next_path))

    app.add_api_route("/static/{path:path}", serve_static, methods=["GET"], include_in_schema=False)
    for module in (overview, jobs, groups, monitoring, embed, login):
        app.include_router(module.router)
