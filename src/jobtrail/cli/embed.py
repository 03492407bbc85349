"""`jobtrail embed-url CHART`: print a signed link to one chart, for an `<iframe>` on another site.

With `JOBTRAIL_EMBED_SECRET` set, the link is signed here; without it, over a server `--url`, the
server signs it (`POST /api/v1/embeds`, which needs an `admin --token`).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from jobtrail.embeds import check_params, expiry_of, signed_embed_url
from jobtrail.errors import ConfigError, InvalidInput

from .context import EXIT_STORE, Cli, emit_json, fail, guard
from .options import JsonOpt

__all__ = ["embed_url"]

DEFAULT_BASE = "http://127.0.0.1:8765"  # where `jobtrail serve` listens by default


def _opt(help_: str) -> Any:
    return typer.Option(show_default=False, help=help_)


@guard
def embed_url(
    ctx: typer.Context,
    chart: Annotated[str, typer.Argument(
        help="throughput, failure-rate, load, run-compare, busy, gantt, duration-trend, wait, "
             "heatmap", show_default=False)],
    name: Annotated[str | None, _opt("Job name (throughput, failure-rate, load, "
                                     "duration-trend, wait, heatmap).")] = None,
    range_: Annotated[str | None, typer.Option("--range", show_default=False,
                                               help="Time span, e.g. 24h or 7d.")] = None,
    job: Annotated[str | None, _opt("Job id (run-compare, busy).")] = None,
    batch: Annotated[str | None, _opt("Batch id (gantt).")] = None,
    highlight: Annotated[str | None, _opt("Job id to highlight (gantt).")] = None,
    expires: Annotated[str, typer.Option(help="How long the link works, at most 366d.")] = "30d",
    base_url: Annotated[str | None, typer.Option(
        "--base-url", show_default=False,
        help=f"The server's public URL for the link. Default: --url when it is a server, else "
             f"{DEFAULT_BASE}.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Print a link that shows CHART, with exactly these parameters, to anyone until it expires.

    Bad chart, parameter or expiry: exit code 2 with the reason.
    """
    cli = Cli.of(ctx)
    settings = cli.settings
    params = {k: v for k, v in {"name": name, "range": range_, "job": job, "batch": batch,
                                "highlight": highlight}.items() if v is not None}
    check_params(chart, params)
    server = settings.url if (settings.url or "").startswith(("http://", "https://")) else None
    if settings.embed_secret:
        url = signed_embed_url(base_url or server or DEFAULT_BASE, chart, params,
                               settings.embed_secret, expires)
        found = expiry_of(url)
    elif server:
        url, found = _from_server(server, settings.token, chart, params, expires, base_url)
    else:
        raise ConfigError("no JOBTRAIL_EMBED_SECRET to sign with: set it (as the server has it), "
                          "or give --url http(s)://SERVER with an admin --token")
    if cli.wants_json(json_):
        emit_json({"url": url, "expires": found})
    else:
        typer.echo(url)


def _from_server(server: str, token: str | None, chart: str, params: dict[str, str],
                 expires: str, base_url: str | None) -> tuple[str, int]:
    import httpx

    from jobtrail.client.remote import open_http

    body: dict[str, Any] = {"chart": chart, "params": params, "expires_in": expires}
    if base_url:
        body["base_url"] = base_url
    try:
        with open_http(server, token) as http:
            response = http.post("/api/v1/embeds", json=body)
    except httpx.HTTPError as exc:
        raise fail(f"the server {server} does not answer: {exc}", EXIT_STORE) from None
    data: Any = response.json() if response.headers.get("content-type", "").startswith(
        "application/json") else {}
    if response.status_code != 200:
        reason = data.get("error") if isinstance(data, dict) else None
        if 400 <= response.status_code < 500:
            raise InvalidInput(f"the server refused: {reason or response.status_code}")
        raise fail(f"the server answered HTTP {response.status_code}: {reason or ''}", EXIT_STORE)
    return str(data["url"]), int(data["expires"])


