"""`jobtrail alerts`: the alerts pending and firing now, and the latest transitions; from the
database directly, or from a server's `GET /api/v1/alerts` when --url is http(s)://."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from jobtrail.alerts import active, history
from jobtrail.client.remote import RemoteClient, is_server_url
from jobtrail.durations import format_relative
from jobtrail.store import open_store

from .context import Cli, emit_json, guard
from .options import JsonOpt
from .render import plain

__all__ = ["alerts"]


def _read(cli: Cli, limit: int, cursor: str | None) -> dict[str, Any]:
    settings = cli.settings
    url = settings.resolved_url()
    if is_server_url(url):
        client = RemoteClient(url, settings.token)
        try:
            params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
            answer: dict[str, Any] = client.call("GET", "/api/v1/alerts", params=params)
            return answer
        finally:
            client.close()
    store = open_store(url)
    try:
        steps = history(store, limit=limit, cursor=cursor)
        return {
            "active": [a.as_dict() for a in active(store)],
            "history": [t.as_dict() for t in steps],
            "next_cursor": str(steps[-1].id) if len(steps) == limit else None,
        }
    finally:
        store.close()


@guard
def alerts(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000,
                                       help="Transitions of history to show (1–1000).")] = 20,
    cursor: Annotated[str | None, typer.Option(
        "--cursor", help="Older history: the cursor a previous page printed.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Alerts firing and pending now, then the latest transitions (newest first)."""
    cli = Cli.of(ctx)
    data = _read(cli, limit, cursor)
    if cli.wants_json(json_):
        emit_json(data)
        return
    now = time.time()
    if data["active"]:
        # User text (job names, summaries) goes in as plain Text: "[bold]" and ESC print as typed.
        table = Table(title="Active alerts", title_justify="left")
        for column in ("state", "severity", "rule", "subject", "since", "summary"):
            table.add_column(column)
        for a in data["active"]:
            table.add_row(*(Text(plain(v)) for v in (
                a["state"], a["severity"], a["rule"], a["subject"],
                format_relative(a["since"], now), a["summary"])))
        cli.out.print(table)
    else:
        cli.out.print("No alerts are firing or pending.")
    if data["history"]:
        table = Table(title="History", title_justify="left")
        for column in ("when", "rule", "subject", "from", "to", "severity", "summary"):
            table.add_column(column)
        for t in data["history"]:
            table.add_row(*(Text(plain(v)) for v in (
                format_relative(t["at"], now), t["rule"], t["subject"],
                t["from"], t["to"], t["severity"], t["summary"])))
        cli.out.print(table)
        if data["next_cursor"]:
            cli.out.print(f"older: --cursor {data['next_cursor']}")
