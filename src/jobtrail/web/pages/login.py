"""`/login` and `/logout`: the token goes into an HttpOnly, SameSite=Strict cookie."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from jobtrail.web.pages.mount import cookie_path
from jobtrail.web.pages.routing import Form, local_path, read_form, redirect
from jobtrail.web.pages.session import SESSION_COOKIE, check_csrf
from jobtrail.web.pages.view import render

__all__ = ["router"]

router = APIRouter()
SESSION_DAYS = 7


@router.get("/login", include_in_schema=False)
def login_form(request: Request) -> Response:
    target = local_path(request.query_params.get("next"))
    return render(request, "login.html", {"next": target, "error": None})


@router.post("/login", include_in_schema=False)
async def login(request: Request) -> Response:
    form = await read_form(request)
    return _login(request, form)


def _first(form: Form, key: str) -> str:
    values = form.get(key) or [""]
    return values[0]


def _login(request: Request, form: Form) -> Response:
    check_csrf(request, _first(form, "csrf"))
    target = local_path(_first(form, "next"))
    token = _first(form, "token").strip()
    scopes = request.app.state.tokens.scopes(token) if token else None
    if scopes is None or "read" not in scopes:
        error = "That token is not valid here." if scopes is None else "That token cannot read."
        return render(request, "login.html", {"next": target, "error": error}, status=401)
    response = redirect(request, target)
    response.set_cookie(SESSION_COOKIE, token, max_age=SESSION_DAYS * 86400, httponly=True,
                        samesite="strict", path=cookie_path(request), secure=request.url.scheme == "https")
    return response


@router.post("/logout", include_in_schema=False)
async def logout(request: Request) -> Response:
    form = await read_form(request)
    check_csrf(request, _first(form, "csrf"))
    response = redirect(request, "/login")
    response.delete_cookie(SESSION_COOKIE, path=cookie_path(request))
    return response
