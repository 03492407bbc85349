"""Where the app is mounted: a user may serve it inside their own app at a prefix
(`app.mount("/jobs", jobtrail.asgi_app(...))`), so every link, form and redirect it emits starts
with that prefix, while paths it keeps (login targets, the current page) are within the app."""

from __future__ import annotations

from starlette.requests import Request

__all__ = ["cookie_path", "root_of", "route_path"]


def root_of(request: Request) -> str:
    """The path this app is mounted at inside another ASGI app ('' when served on its own)."""
    root: str = request.scope.get("root_path", "")
    return root.rstrip("/")


def route_path(request: Request) -> str:
    """The request's path within this app: without the mount's prefix, which Starlette keeps in
    `url.path`. Login targets and the navigation's current page are kept in these terms."""
    path, root = request.url.path, root_of(request)
    if root and (path == root or path.startswith(root + "/")):
        return path[len(root):] or "/"
    return path


def cookie_path(request: Request) -> str:
    """The session and CSRF cookies go only to this app's paths, not to the host app's others
    (a cookie's path matches itself and what lies below it, never `/prefixX`)."""
    return root_of(request) or "/"
