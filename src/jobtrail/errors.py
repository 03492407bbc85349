"""One error tree: callers catch `JobtrailError`; the CLI and HTTP layers map each kind to a status."""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "Conflict",
    "InvalidEvent",
    "InvalidInput",
    "JobtrailError",
    "Killed",
    "NotFound",
    "StoreError",
]


class JobtrailError(Exception):
    """Base of every error jobtrail raises on purpose."""


class InvalidInput(JobtrailError, ValueError):
    """A filter, duration, time or argument the caller gave cannot be understood."""


class InvalidEvent(InvalidInput):
    """An event failed validation; the message says which field and why."""


class Conflict(InvalidInput):
    """The request does not fit the job's state, e.g. killing a job that already finished."""


class NotFound(JobtrailError, LookupError):
    """No job or batch with that id."""


class ConfigError(JobtrailError):
    """Settings or a URL cannot be used."""


class StoreError(JobtrailError):
    """The database could not be reached or is not at the expected schema."""


class Killed(Exception):
    """Raised by job code that honours a kill request; `track()` records the job as killed.

    Not a `JobtrailError`: it is the job's own control flow, not a failure of jobtrail.
    """
