"""The web edge: HTTP API v1 (and the dashboard) as one ASGI app."""

from __future__ import annotations

from jobtrail.web.app import app_from_env, asgi_app

__all__ = ["app_from_env", "asgi_app"]
