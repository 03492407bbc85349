"""A progress bar on stderr for long operations, fed by the `progress=callback(n)` that jobtrail's
bulk methods accept. Drawn only on a terminal, so pipes and `--json` output stay clean."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

__all__ = ["progress_bar"]


@contextmanager
def progress_bar(console: Console, description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """Yields `advance(n)`; with `total=None` the bar just counts (e.g. a sweep of unknown size)."""
    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
    if total is None:
        columns = [SpinnerColumn(), TextColumn("{task.description}"),
                   TextColumn("{task.completed:,.0f}")]
    with Progress(*columns, TimeElapsedColumn(), console=console,
                  disable=not console.is_terminal, transient=False) as progress:
        task = progress.add_task(description, total=total)

        def advance(n: int) -> None:
            progress.advance(task, n)

        yield advance
