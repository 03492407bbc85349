"""The `jobtrail` command. `app` is the Typer application; `main` is the console-script entry point.

Commands live in modules named for what they do (reading, operating, db, demo); this module only
declares the global options and wires the commands together. Importing it opens nothing.
"""

from __future__ import annotations

from typing import Annotated

import typer

from . import db, demo, embed, export, health, operating, reading, run, serve
from .alerts import alerts
from .context import Cli

__all__ = ["app", "main"]

app = typer.Typer(
    name="jobtrail",
    help="Track and monitor background jobs: list, inspect, count, kill and clean up jobs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals can hold tokens and URLs with passwords
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root(
    ctx: typer.Context,
    url: Annotated[str | None, typer.Option(
        "--url", envvar="JOBTRAIL_URL", show_default=False,
        help="Database URL (sqlite:///path.db, postgresql://...) or a jobtrail server "
             "(http://host:8765). Default: a SQLite file in the user data folder.")] = None,
    token: Annotated[str | None, typer.Option(
        "--token", envvar="JOBTRAIL_TOKEN", show_default=False,
        help="Bearer token when --url is a jobtrail server (http:// or https://).")] = None,
    json_: Annotated[bool, typer.Option(
        "--json", help="Machine-readable JSON output.")] = False,
) -> None:
    """Global options, valid before any command."""
    cli = Cli(url=url, token=token, json=json_)
    ctx.obj = cli
    ctx.call_on_close(cli.close)


app.command("jobs")(reading.jobs)
app.command("show")(reading.show)
app.command("batch")(reading.batch)
app.command("stats")(reading.stats)
app.command("kill")(operating.kill)
app.command("delete")(operating.delete)
app.command("sweep")(operating.sweep)
app.command("demo")(demo.demo)
app.command("serve")(serve.serve)
app.command("health")(health.health)
app.command("run", context_settings={"allow_interspersed_args": False})(run.run)
app.command("alerts")(alerts)
app.command("embed-url")(embed.embed_url)
app.add_typer(db.app, name="db")
app.add_typer(export.app, name="export")


def main() -> None:
    app(prog_name="jobtrail")
