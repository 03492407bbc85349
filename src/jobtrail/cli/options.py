"""The job filters shared by `jobs`, `stats`, `kill` and `delete`, declared once.

Typer needs each command's parameters in its signature, so commands repeat the names below, but
the option spelling, help and the translation into `trail.jobs(...)` live only here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import typer

from jobtrail.errors import InvalidInput

__all__ = [
    "BatchOpt",
    "Filters",
    "JsonOpt",
    "LabelOpt",
    "NameOpt",
    "QueueOpt",
    "ResourceOpt",
    "SinceOpt",
    "StateOpt",
    "UntilOpt",
]

_FILTERS = "Filters"

StateOpt = Annotated[list[str] | None, typer.Option(
    "--state", "-s", rich_help_panel=_FILTERS, show_default=False,
    help="Only jobs in this state (queued, started, failed, kill_requested, ...). "
         "Repeat or comma-separate for several.")]
NameOpt = Annotated[list[str] | None, typer.Option(
    "--name", "-n", rich_help_panel=_FILTERS, show_default=False,
    help="Only jobs with this name, e.g. reports.send_email. Repeat for several.")]
QueueOpt = Annotated[list[str] | None, typer.Option(
    "--queue", "-q", rich_help_panel=_FILTERS, show_default=False,
    help="Only jobs on this queue. Repeat or comma-separate for several.")]
BatchOpt = Annotated[str | None, typer.Option(
    "--batch", "-b", rich_help_panel=_FILTERS, show_default=False,
    help="Only jobs of this batch (job request).")]
ResourceOpt = Annotated[str | None, typer.Option(
    "--resource", "-r", rich_help_panel=_FILTERS, show_default=False,
    help="Only jobs touching this resource, written Type:id (e.g. Book:42).")]
LabelOpt = Annotated[list[str] | None, typer.Option(
    "--label", "-l", rich_help_panel=_FILTERS, show_default=False,
    help="Only jobs with this label, written key=value. Repeat: all must match.")]
SinceOpt = Annotated[str | None, typer.Option(
    "--since", rich_help_panel=_FILTERS, show_default=False,
    help="Jobs created at or after: a span back from now (90m, 7d), RFC 3339, or Unix seconds.")]
UntilOpt = Annotated[str | None, typer.Option(
    "--until", rich_help_panel=_FILTERS, show_default=False,
    help="Jobs created before: same forms as --since.")]
JsonOpt = Annotated[bool, typer.Option(
    "--json", help="Machine-readable JSON on stdout (also accepted before the command).")]


def _split(values: list[str] | None) -> list[str]:
    return [part.strip() for v in values or () for part in v.split(",") if part.strip()]


def _check_labels(labels: list[str]) -> list[str]:
    for item in labels:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise InvalidInput(f"label filter {item!r} must be key=value, e.g. --label tenant=acme")
    return labels


@dataclass(frozen=True, slots=True)
class Filters:
    """The filter options one command received, ready for `trail.jobs(**filters.kwargs())`."""

    states: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    queues: tuple[str, ...] = ()
    batch: str | None = None
    resource: str | None = None
    labels: tuple[str, ...] = ()
    since: str | None = None
    until: str | None = None

    @classmethod
    def of(
        cls,
        state: list[str] | None = None,
        name: list[str] | None = None,
        queue: list[str] | None = None,
        batch: str | None = None,
        resource: str | None = None,
        label: list[str] | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> Filters:
        """Validate what the user typed: comma lists split, labels must be key=value."""
        return cls(
            states=tuple(_split(state)),
            names=tuple(n for n in (name or ()) if n.strip()),
            queues=tuple(_split(queue)),
            batch=batch or None,
            resource=resource or None,
            labels=tuple(_check_labels(list(label or ()))),
            since=since or None,
            until=until or None,
        )

    @property
    def empty(self) -> bool:
        """True when nothing narrows the jobs: bulk commands then need --all."""
        return not (self.states or self.names or self.queues or self.batch or self.resource
                    or self.labels or self.since or self.until)

    def kwargs(self, **override: Any) -> dict[str, Any]:
        out: dict[str, Any] = {
            "state": list(self.states) or None,
            "name": list(self.names) or None,
            "queue": list(self.queues) or None,
            "batch": self.batch,
            "resource": self.resource,
            "labels": list(self.labels) or None,
            "since": self.since,
            "until": self.until,
        }
        out.update(override)
        return out
