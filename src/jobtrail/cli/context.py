"""What every command shares: the global options, one lazily opened `Trail`, the consoles, and the
mapping of jobtrail's error tree onto exit codes, so bad input never ends in a traceback."""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console

from jobtrail.client import Trail
from jobtrail.config import Settings
from jobtrail.errors import ConfigError, InvalidInput, JobtrailError, NotFound, StoreError

__all__ = ["EXIT_INPUT", "EXIT_STORE", "Cli", "emit_json", "fail", "guard", "make_console"]

EXIT_STORE = 1
"""The store could not be reached or written, or the user declined a confirmation."""
EXIT_INPUT = 2
"""Bad input (a filter, time, label, URL) or no such job/batch: the caller can fix it."""

P = ParamSpec("P")
R = TypeVar("R")
_WIDE = 200  # columns used when output goes to a pipe, so tables are not wrapped at 80


def make_console(*, stderr: bool = False) -> Console:
    """A console writing to the current stdout/stderr; piped output gets wide lines, no colour."""
    # markup off: job names, labels and errors are user text, and "[x]" must print as typed.
    console = Console(stderr=stderr, markup=False, highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(stderr=stderr, markup=False, highlight=False, width=_WIDE)
    return console


@dataclasses.dataclass
class Cli:
    """The global options and what they open. Nothing is opened until a command needs it."""

    url: str | None = None
    token: str | None = None
    json: bool = False
    _trail: Trail | None = None
    _out: Console | None = None
    _err: Console | None = None

    @property
    def settings(self) -> Settings:
        settings = Settings.from_env()
        return dataclasses.replace(settings, url=self.url or settings.url,
                                   token=self.token or settings.token)

    @property
    def trail(self) -> Trail:
        if self._trail is None:
            settings = self.settings
            self._trail = Trail(settings.resolved_url(), settings=settings)
        return self._trail

    @property
    def out(self) -> Console:
        if self._out is None:
            self._out = make_console()
        return self._out

    @property
    def err(self) -> Console:
        if self._err is None:
            self._err = make_console(stderr=True)
        return self._err

    def wants_json(self, flag: bool) -> bool:
        """`--json` works before the command (global) and after it (per command)."""
        return self.json or flag

    def close(self) -> None:
        if self._trail is not None:
            self._trail.close()
            self._trail = None

    @classmethod
    def of(cls, ctx: typer.Context, json: bool = False) -> Cli:
        """The root's options; `json` is a command's own `--json` (it also counts after the command)."""
        obj = ctx.find_root().obj
        if not isinstance(obj, Cli):  # a command invoked without the root callback (tests)
            obj = Cli()
            ctx.find_root().obj = obj
        obj.json = obj.json or json
        return obj


def _finite(value: Any) -> Any:
    """NaN and ±Infinity (a job's args or result may hold them) as null, as the HTTP API sends
    them: json.dumps would write `NaN`, which is not JSON and breaks `jq` and strict parsers."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def emit_json(value: Any) -> None:
    """Machine-readable output: plain JSON on stdout, never styled or wrapped."""
    typer.echo(json.dumps(_finite(value), indent=2, sort_keys=False, default=str, allow_nan=False))


def fail(message: str, code: int) -> typer.Exit:
    """Print one line to stderr and return the Exit to raise."""
    line = " ".join(part.strip() for part in message.strip().splitlines())
    typer.echo(f"error: {line}", err=True)
    return typer.Exit(code)


def _store_error_types() -> tuple[type[BaseException], ...]:
    # Reads in the SQL store let driver errors through unwrapped; they are still store errors.
    from sqlalchemy.exc import SQLAlchemyError

    return (StoreError, SQLAlchemyError)


def guard(fn: Callable[P, R]) -> Callable[P, R]:
    """Run a command, turning jobtrail's errors into a one-line message and an exit code."""

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except (InvalidInput, NotFound, ConfigError) as exc:
            raise fail(str(exc), EXIT_INPUT) from None
        except _store_error_types() as exc:
            text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise fail(f"store: {text}", EXIT_STORE) from None
        except JobtrailError as exc:
            raise fail(str(exc), EXIT_STORE) from None
        except typer.Abort:
            typer.echo("\nAborted; nothing changed.", err=True)  # after the prompt's line
            raise typer.Exit(EXIT_STORE) from None

    return run
