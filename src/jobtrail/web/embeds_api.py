"""`POST /api/v1/embeds`: signed embed links for apps that do not hold `JOBTRAIL_EMBED_SECRET`.

Minting needs `admin`, since a link lets anyone who holds it read that chart until it expires.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request

from jobtrail.embeds import expiry_of, signed_embed_url
from jobtrail.errors import InvalidInput
from jobtrail.web.api import need
from jobtrail.web.errors import ApiError
from jobtrail.web.pages.mount import root_of
from jobtrail.web.schemas import EmbedIn, EmbedOut, ErrorOut

__all__ = ["router"]

router = APIRouter(
    prefix="/api/v1", responses={c: {"model": ErrorOut} for c in (400, 401, 403, 422)}
)


@router.post("/embeds", response_model=EmbedOut, dependencies=[Depends(need("admin"))])
def create_embed(request: Request, body: EmbedIn) -> dict[str, Any]:
    """A signed link that shows one chart with exactly these parameters to anyone, with no login
    and no cookie, until it expires; for an `<iframe>` on a site in `JOBTRAIL_FRAME_ORIGINS`."""
    secret: str | None = request.app.state.settings.embed_secret
    if not secret:
        raise ApiError(403, "signed embeds are off: this server has no JOBTRAIL_EMBED_SECRET")
    # This server as the request reached it, with the prefix it is mounted or proxied at.
    here = request.url
    base = body.base_url or f"{here.scheme}://{here.netloc}{root_of(request)}"
    try:
        parts = urlsplit(base)
    except ValueError:  # e.g. an unclosed "[" of an IPv6 host
        parts = urlsplit("")
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise InvalidInput("base_url must be an http:// or https:// URL without query or fragment")
    url = signed_embed_url(base, body.chart, body.params, secret, body.expires_in)
    return {"url": url, "expires": expiry_of(url)}
