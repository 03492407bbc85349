"""Run the HTTP API under uvicorn (`jobtrail serve`), refusing to expose an open server.

Worker processes build their own app with `jobtrail.web:app_from_env`, so everything the app needs
(database URL, tokens, limits) reaches them through the environment, never through shared memory.
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace

from jobtrail.config import Settings
from jobtrail.errors import ConfigError
from jobtrail.loopback import is_loopback
from jobtrail.store import open_store
from jobtrail.web.auth import TokenTable, hash_token

__all__ = ["SHARED_LOOP", "is_loopback", "serve"]

log = logging.getLogger("jobtrail.server")

SHARED_LOOP = "asyncio"
"""The event loop of workers sharing a port. uvloop accepts a connection in C before it needs the
GIL, so a worker busy in its threadpool takes new connections as readily as an idle one (and the
kernel wakes the same one first every time); asyncio's loop must wait for the GIL, so the idle
worker wins them. That lets `web/balance.py` move a sender to an idle worker with one reconnect."""


def _check_exposure(host: str, tokens: TokenTable, insecure: bool) -> None:
    if tokens.enabled or is_loopback(host):
        return
    if not insecure:
        raise ConfigError(
            f"refusing to serve on {host!r} without API tokens: anyone who can reach it could read, "
            "kill and delete jobs. Configure tokens (JOBTRAIL_TOKENS='admin:SECRET,ingest:SECRET2' "
            "or JOBTRAIL_TOKENS_FILE), bind to 127.0.0.1, or pass --insecure if the network is "
            "trusted."
        )
    log.warning("serving on %s WITHOUT API tokens (--insecure): every request is admitted", host)


def _hashed(spec: str) -> str:
    """A token spec with its secret replaced by its SHA-256 digest, so the plain secret never
    reaches the worker processes' environment (and a comma in it cannot split the list)."""
    scopes, _, secret = spec.partition(":")
    return spec if secret.startswith("sha256:") else f"{scopes}:sha256:{hash_token(secret)}"


def _export(settings: Settings, url: str, workers: int) -> None:
    os.environ["JOBTRAIL_URL"] = url
    os.environ["JOBTRAIL_TOKENS"] = ",".join(_hashed(spec) for spec in settings.tokens)
    os.environ.pop("JOBTRAIL_TOKENS_FILE", None)  # its tokens are in JOBTRAIL_TOKENS now
    os.environ["JOBTRAIL_MAX_EVENTS"] = str(settings.max_events)
    os.environ["JOBTRAIL_MAX_BODY_BYTES"] = str(settings.max_body_bytes)
    os.environ["JOBTRAIL_SERVER_WORKERS"] = str(workers)
    os.environ["JOBTRAIL_ALLOWED_HOSTS"] = ",".join(settings.allowed_hosts)


def serve(
    url: str | None,
    host: str = "127.0.0.1",
    port: int = 8765,
    workers: int = 1,
    insecure: bool = False,
    settings: Settings | None = None,
    root_path: str = "",
) -> None:
    """Serve the API (and later the dashboard) over the database at `url` until interrupted.

    - `url`: a database URL (sqlite:///path.db, postgresql://...); None uses `settings.url`, then
      JOBTRAIL_URL, then the default SQLite file in the user data directory.
    - `host`, `port`: where to listen. Without tokens only a loopback address (127.0.0.0/8, ::1,
      localhost) is allowed; any other raises `ConfigError` unless `insecure` is True.
    - `workers`: uvicorn worker processes. On SQLite they parse and merge events in parallel and
      take turns only for the writes, so up to one per core speeds up ingest; beyond that they queue
      for its single write lock (a warning says so). PostgreSQL is the choice for many writers.
      Several workers run asyncio's loop (`SHARED_LOOP`) and learn their number through
      JOBTRAIL_SERVER_WORKERS, so a busy one sends a second sender elsewhere (`web/balance.py`).
    - `root_path`: the path prefix a reverse proxy serves this server under and strips before
      forwarding (e.g. "/jobtrail"), so the dashboard's links and redirects carry it.
    - `settings`: tokens ("scopes:secret") and request limits; default `Settings.from_env()`
      (JOBTRAIL_TOKENS, JOBTRAIL_TOKENS_FILE, JOBTRAIL_MAX_EVENTS, JOBTRAIL_MAX_BODY_BYTES). They are
      handed to the workers through this process's environment, tokens as SHA-256 digests.

    The database is migrated once here, before any worker starts. Raises `ConfigError` for an
    exposed open server or unusable settings, `StoreError` when the database cannot be opened.
    """
    settings = settings or Settings.from_env()
    if url:
        settings = replace(settings, url=url)
    if workers < 1:
        raise ConfigError(f"workers must be at least 1, not {workers}")
    if root_path and (not root_path.startswith("/") or root_path.startswith("//")):
        raise ConfigError(f"root path must be a path such as /jobtrail, not {root_path!r}")
    resolved = settings.resolved_url()
    if resolved.startswith(("http://", "https://")):
        raise ConfigError(f"{resolved!r} is a server; serve needs a database URL (sqlite:///, postgresql://)")
    _check_exposure(host, TokenTable(settings.tokens), insecure)
    if not settings.tokens and not is_loopback(host):  # --insecure: reached by any name on purpose
        settings = replace(settings, allowed_hosts=("*",))
    cores = os.cpu_count() or 1
    if workers > cores and resolved.startswith("sqlite"):
        log.warning(
            "%d workers on SQLite with %d cores: beyond one per core they only queue for its single "
            "write lock; use PostgreSQL for many concurrent writers", workers, cores,
        )
    open_store(resolved).close()  # migrate once, so workers never race to upgrade the schema
    _export(settings, resolved, workers)

    import uvicorn

    uvicorn.run("jobtrail.web:app_from_env", factory=True, host=host, port=port, workers=workers,
                loop=SHARED_LOOP if workers > 1 else "auto", root_path=root_path.rstrip("/"))
