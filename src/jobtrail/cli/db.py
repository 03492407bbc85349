"""`jobtrail db upgrade|downgrade|current`: schema migrations on purpose.

SQLite files upgrade themselves when opened; a PostgreSQL database shared by many servers is only
upgraded by these commands, so one operator decides when the schema changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import sqlalchemy as sa
import typer
from alembic.util import CommandError
from sqlalchemy.exc import OperationalError

from jobtrail.errors import ConfigError, InvalidInput, StoreError
from jobtrail.store.sql import migrate
from jobtrail.store.sql.engine import create_engine

from .context import EXIT_STORE, Cli, emit_json, guard
from .options import JsonOpt

__all__ = ["app"]

app = typer.Typer(
    help="Database schema migrations.",
    no_args_is_help=True,
    add_completion=False,
)


@contextmanager
def _engine(cli: Cli) -> Iterator[sa.Engine]:
    url = cli.settings.resolved_url()
    if url.startswith(("http://", "https://")):
        raise ConfigError(f"{url} is a jobtrail server; `jobtrail db` needs its database URL")
    engine = create_engine(url)
    try:
        yield engine
    except OperationalError as exc:
        raise StoreError(f"cannot open the database: {exc.orig}") from None
    except CommandError as exc:  # e.g. an unknown revision
        raise InvalidInput(f"migration: {exc}") from None
    finally:
        engine.dispose()


def _report(cli: Cli, engine: sa.Engine) -> None:
    current = migrate.current_revision(engine)
    head = migrate.head_revision()
    if cli.json:
        emit_json({"current": current, "head": head, "up_to_date": current == head})
        return
    if current == head:
        status = "up to date"
    elif current is None:
        status = "empty: run `jobtrail db upgrade`"
    else:
        status = f"behind {head}: run `jobtrail db upgrade`"
    cli.out.print(f"revision: {current or 'none'} ({status})")


@app.command()
@guard
def upgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
    json_: JsonOpt = False,
) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    cli = Cli.of(ctx, json_)
    with _engine(cli) as engine:
        migrate.upgrade(engine, revision)
        _report(cli, engine)


@app.command()
@guard
def downgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(
        help="Target revision: an id, -1 for one step back, or base (empty database).")] = "-1",
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Revert migrations down to REVISION. This can drop tables and the data in them."""
    cli = Cli.of(ctx, json_)
    if not yes and not typer.confirm(
        f"Downgrade the database to {revision}? Tables and their data may be dropped.",
        default=False, err=True,
    ):
        typer.echo("Nothing changed.", err=True)
        raise typer.Exit(EXIT_STORE)
    with _engine(cli) as engine:
        migrate.downgrade(engine, revision)
        _report(cli, engine)


@app.command()
@guard
def current(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """Show the database's migration revision and whether it is the newest."""
    cli = Cli.of(ctx, json_)
    with _engine(cli) as engine:
        _report(cli, engine)
