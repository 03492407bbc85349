"""`jobtrail health`: every health check as a table (or `--json`), exiting 0 healthy, 1 degraded,
2 unhealthy, so cron, CI and shell scripts can act on it. Over a server URL it asks the server's
`GET /api/v1/health`; over a database URL it runs the checks itself."""

from __future__ import annotations

import time
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from jobtrail.health import Check, HealthReport, HealthSettings, check
from jobtrail.store import open_store

from .context import Cli, emit_json, guard
from .options import JsonOpt
from .render import plain

__all__ = ["health", "remote_report"]

_STYLE = {"healthy": "green", "degraded": "yellow", "unhealthy": "bold red"}
_CHECKS = ("store", "queues", "stalled", "workers", "periodic")


@guard
def health(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """Check the store, queues, stalled jobs, workers and periodic jobs.

    Exit code 0 when healthy, 1 when degraded, 2 when unhealthy. Running the checks also marks
    jobs silent past the stall timeout as lost (JOBTRAIL_STALL_TIMEOUT and the other thresholds
    are read from the environment; over a server URL, the server's own settings apply).
    """
    cli = Cli.of(ctx)
    settings = cli.settings
    url = settings.resolved_url()
    if url.startswith(("http://", "https://")):
        report = remote_report(url, settings.token)
    else:
        report = local_report(url, HealthSettings.from_env())
    if cli.wants_json(json_):
        emit_json(report.to_dict())
    else:
        cli.out.print(_table(report))
    raise typer.Exit(report.exit_code)


def local_report(url: str, settings: HealthSettings) -> HealthReport:
    """Run the checks on the database at `url`, opened without migrating it (a check only looks)."""
    try:
        store = open_store(url, migrate=False)
    except Exception as exc:  # noqa: BLE001 - an unreachable database is the finding
        return _down(f"the database cannot be opened: {_one_line(exc)}")
    try:
        return check(store, settings)
    finally:
        store.close()


def remote_report(url: str, token: str | None) -> HealthReport:
    """The report of the server at `url`; unhealthy with the reason when it does not answer one."""
    import httpx

    from jobtrail.client.remote import open_http

    try:
        with open_http(url, token) as http:
            response = http.get("/api/v1/health")
    except httpx.HTTPError as exc:
        return _down(f"the server {url} does not answer: {_one_line(exc)}", name="server")
    try:
        data: Any = response.json()
        if response.status_code in (200, 503) and isinstance(data, dict) and data.get("checks"):
            return HealthReport.from_dict(data)
    except (ValueError, KeyError, TypeError):
        pass
    return _down(f"the server {url} answered HTTP {response.status_code} without a health report",
                 name="server")


def _down(reason: str, name: str = "store") -> HealthReport:
    checks = [Check(name, "unhealthy", reason)]
    checks += [Check(n, "unhealthy", "not checked: the database does not answer")
               for n in _CHECKS if n != name and name == "store"]
    return HealthReport(checks=tuple(checks), checked_at=time.time())


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__


def _table(report: HealthReport) -> Table:
    level = report.level
    table = Table(title=Text(f"jobtrail health: {level}", style=_STYLE[level]),
                  title_justify="left", show_lines=False)
    table.add_column("check")
    table.add_column("level")
    table.add_column("reason", overflow="fold")
    for c in report.checks:
        table.add_row(Text(plain(c.name)), Text(c.level, style=_STYLE.get(c.level, "")),
                      Text(plain(c.reason)))
    return table
