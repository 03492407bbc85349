"""The dashboard's static files, served from the package with long caching and gzip.

Only files that exist in the package when the app is built can be served (a fixed table, so no path
from a request ever reaches the filesystem). URLs carry a content hash (`?v=…`), so browsers cache
them for a year and still see a new version at once. ECharts is ~1.1 MB; gzip sends about a third.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources

from starlette.requests import Request
from starlette.responses import Response

__all__ = ["asset_url", "serve_static"]

_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


@dataclass(frozen=True, slots=True)
class _Asset:
    body: bytes
    gzipped: bytes
    media_type: str
    version: str


@cache
def _assets() -> dict[str, _Asset]:
    root = resources.files("jobtrail.web") / "static"
    out: dict[str, _Asset] = {}
    stack = [(root, "")]
    while stack:
        folder, prefix = stack.pop()
        for entry in folder.iterdir():
            rel = f"{prefix}{entry.name}"
            if entry.is_dir():
                stack.append((entry, rel + "/"))
                continue
            suffix = "." + entry.name.rsplit(".", 1)[-1] if "." in entry.name else ""
            if suffix not in _TYPES:
                continue
            body = entry.read_bytes()
            out[rel] = _Asset(body, gzip.compress(body, 9, mtime=0), _TYPES[suffix],
                              hashlib.sha256(body).hexdigest()[:10])
    return out


def asset_url(path: str) -> str:
    asset = _assets()[path]
    return f"/static/{path}?v={asset.version}"


def serve_static(request: Request, path: str) -> Response:
    asset = _assets().get(path)
    if asset is None:
        return Response("not found", status_code=404, media_type="text/plain")
    headers = {"Cache-Control": "public, max-age=31536000, immutable", "Vary": "Accept-Encoding",
               "X-Content-Type-Options": "nosniff"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(asset.gzipped, media_type=asset.media_type, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)
