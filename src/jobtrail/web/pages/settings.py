"""The dashboard's own settings, read from the environment once when the app is built.

- `JOBTRAIL_FRAME_ORIGINS`: space- or comma-separated origins allowed to frame `/embed/...` charts
  (default: only this server, `'self'`).
- `JOBTRAIL_READ_ONLY`: `1`/`true`/`yes` hides the kill and delete forms and refuses their POSTs.
- `JOBTRAIL_REFRESH`: seconds between live refreshes of the overview, jobs and batch pages
  (default 30; 0 turns live refresh off).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from jobtrail.errors import ConfigError

__all__ = ["DashSettings"]

_ORIGIN = re.compile(r"^(https?://[A-Za-z0-9.\-\[\]:]+|https?://\*\.[A-Za-z0-9.\-]+(:\d+)?|'self')$")


@dataclass(frozen=True, slots=True)
class DashSettings:
    frame_origins: tuple[str, ...] = ("'self'",)
    read_only: bool = False
    refresh_seconds: int = 30

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DashSettings:
        env = os.environ if env is None else env
        origins = tuple(o for o in re.split(r"[\s,]+", env.get("JOBTRAIL_FRAME_ORIGINS", "")) if o)
        for origin in origins:
            # Each goes verbatim into a CSP header: refuse anything that could add a directive.
            if not _ORIGIN.match(origin):
                raise ConfigError(f"JOBTRAIL_FRAME_ORIGINS: {origin!r} is not an origin like "
                                  "https://wiki.example.org or 'self'")
        try:
            refresh = int(env.get("JOBTRAIL_REFRESH", "30"))
        except ValueError:
            raise ConfigError("JOBTRAIL_REFRESH must be a whole number of seconds") from None
        return cls(
            frame_origins=origins or ("'self'",),
            read_only=env.get("JOBTRAIL_READ_ONLY", "").strip().lower() in ("1", "true", "yes", "on"),
            refresh_seconds=max(0, refresh),
        )
