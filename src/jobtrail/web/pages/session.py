"""Who is looking: the token in an HttpOnly cookie, checked against the server's `TokenTable`.

With no tokens configured the server is open (and then only binds to loopback), so everyone may
read and act. Otherwise reading needs a `read` token and kill/delete an `admin` one. The token itself
is the cookie's value (HttpOnly, so page scripts cannot read it; SameSite=Strict, so other sites'
requests do not carry it); scripts may also send `Authorization: Bearer`.

CSRF: a random double-submit cookie. Every form carries its value in a hidden field, and a POST is
refused (403) unless the two match; another site can neither read the cookie nor set the field.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from jobtrail.web.auth import TokenTable
from jobtrail.web.pages.mount import cookie_path, route_path

__all__ = [
    "CSRF_COOKIE",
    "SESSION_COOKIE",
    "LoginRequired",
    "PageError",
    "Viewer",
    "check_csrf",
    "ensure_csrf_cookie",
    "require",
    "viewer_or_none",
]

SESSION_COOKIE = "jobtrail_session"
CSRF_COOKIE = "jobtrail_csrf"
_OPEN = frozenset({"read", "admin"})


class PageError(Exception):
    """Shown to the person as an HTML page with this status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class LoginRequired(Exception):
    """Reading needs a token: send the browser to the login form, then back to `next_path`."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


@dataclass(frozen=True, slots=True)
class Viewer:
    scopes: frozenset[str]
    logged_in: bool
    csrf: str

    @property
    def admin(self) -> bool:
        return "admin" in self.scopes


def _token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    kind, _, value = header.partition(" ")
    if kind.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(SESSION_COOKIE) or None


def csrf_value(request: Request) -> str:
    """The CSRF cookie's value, or a new one (set on the response by `ensure_csrf_cookie`)."""
    value: str | None = getattr(request.state, "csrf", None)
    if value is None:
        value = request.cookies.get(CSRF_COOKIE) or ""
        if len(value) < 32:
            value = secrets.token_urlsafe(32)
        request.state.csrf = value
    return value


def viewer_or_none(request: Request) -> Viewer | None:
    tokens: TokenTable = request.app.state.tokens
    if not tokens.enabled:
        return Viewer(_OPEN, False, csrf_value(request))
    token = _token(request)
    scopes = tokens.scopes(token) if token else None
    if scopes is None:
        return None
    return Viewer(scopes, True, csrf_value(request))


def require(request: Request, scope: str = "read") -> Viewer:
    """The viewer, if they may `scope`; otherwise the login form (no valid token) or 403."""
    viewer = viewer_or_none(request)
    if viewer is None:
        target = route_path(request) + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    if scope not in viewer.scopes:
        raise PageError(403, f"this token lacks the {scope!r} scope")
    return viewer


def check_csrf(request: Request, submitted: str | None) -> None:
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie or not submitted or not hmac.compare_digest(cookie.encode(), submitted.encode()):
        raise PageError(403, "the form's CSRF token is missing or does not match; reload the page "
                             "and try again")


def ensure_csrf_cookie(request: Request, response: Response) -> None:
    value = csrf_value(request)
    if request.cookies.get(CSRF_COOKIE) != value:
        response.set_cookie(CSRF_COOKIE, value, httponly=True, samesite="strict",
                            path=cookie_path(request), secure=request.url.scheme == "https")


def login_redirect_target(next_path: str) -> str:
    return "/login?next=" + quote(next_path, safe="")
