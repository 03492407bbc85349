"""What every page route shares: domain errors as HTML pages, form bodies, safe redirects."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import RedirectResponse

from jobtrail.errors import Conflict, InvalidInput, NotFound, StoreError
from jobtrail.store.base import Store
from jobtrail.web.pages.mount import root_of
from jobtrail.web.pages.session import PageError

__all__ = ["Form", "html_errors", "local_path", "read_form", "redirect", "store_of"]

F = TypeVar("F", bound=Callable[..., Any])
MAX_FORM_BYTES = 64 * 1024

Form = dict[str, list[str]]


def html_errors(fn: F) -> F:
    """Turn the domain's errors into `PageError`s, which the app renders as HTML pages."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except NotFound as exc:
            raise PageError(404, str(exc)) from None
        except InvalidInput as exc:
            raise PageError(400, str(exc)) from None
        except Conflict as exc:
            raise PageError(409, str(exc)) from None
        except StoreError:
            raise PageError(503, "the job store is unavailable; try again shortly") from None

    return wrapper  # type: ignore[return-value]


def store_of(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


async def read_form(request: Request) -> Form:
    """An urlencoded form body (the only kind the dashboard's forms send), bounded in size."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise PageError(413, "form too large")
    try:
        return parse_qs(body.decode(), keep_blank_values=True, max_num_fields=200)
    except (UnicodeDecodeError, ValueError):
        raise PageError(400, "unreadable form") from None


def local_path(target: str | None, default: str = "/") -> str:
    """`target` if it is a path on this server (never `//host` or a scheme), else `default`."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def redirect(request: Request, target: str) -> RedirectResponse:
    """303 to `target`, a path within this app (anything else goes to the overview)."""
    return RedirectResponse(root_of(request) + local_path(target), status_code=303)
