"""`jobtrail serve`: the HTTP API (and later the dashboard) over a database."""

from __future__ import annotations

from typing import Annotated

import typer

from jobtrail.server import serve as run_server

from .context import Cli, guard

__all__ = ["serve"]


@guard
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(
        "--host", help="Address to listen on. Without tokens only loopback is allowed.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8765,
    workers: Annotated[int, typer.Option(
        "--workers", min=1, help="Server processes: up to one per core on SQLite, more on "
        "PostgreSQL.")] = 1,
    insecure: Annotated[bool, typer.Option(
        "--insecure", help="Allow a non-loopback address with no tokens configured.")] = False,
    root_path: Annotated[str, typer.Option(
        "--root-path", help="Prefix a reverse proxy serves jobtrail under and strips, e.g. "
        "/jobtrail: the dashboard's links and redirects carry it.")] = "",
) -> None:
    """Serve HTTP API v1 over the database in --url (or JOBTRAIL_URL) until interrupted.

    Tokens come from JOBTRAIL_TOKENS ("read:SECRET,ingest+read:SECRET2") or JOBTRAIL_TOKENS_FILE.
    """
    cli = Cli.of(ctx)
    settings = cli.settings
    cli.err.print(f"jobtrail API at http://{host}:{port}/api/v1/jobs (OpenAPI: /openapi.json)")
    run_server(settings.url, host=host, port=port, workers=workers, insecure=insecure,
               settings=settings, root_path=root_path)
