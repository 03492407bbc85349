"""jobtrail: track and monitor background jobs.

    trail = jobtrail.Trail()
    with trail.track("reports.send_email", resources=["User:42"]) as job:
        job.progress(done=1, total=10)
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from jobtrail.client import JobHandle, Trail
from jobtrail.config import Settings
from jobtrail.embeds import signed_embed_url
from jobtrail.errors import (
    ConfigError,
    InvalidEvent,
    InvalidInput,
    JobtrailError,
    Killed,
    NotFound,
    StoreError,
)
from jobtrail.model import BatchSummary, Job, JobFilter, Page, Stats, Summary

try:
    __version__ = version("jobtrail")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "BatchSummary",
    "ConfigError",
    "InvalidEvent",
    "InvalidInput",
    "Job",
    "JobFilter",
    "JobHandle",
    "JobtrailError",
    "Killed",
    "NotFound",
    "Page",
    "Settings",
    "Stats",
    "StoreError",
    "Summary",
    "Trail",
    "__version__",
    "asgi_app",
    "signed_embed_url",
]


def __getattr__(name: str) -> object:
    # The web app pulls in FastAPI; job processes that only track should not pay for that import.
    if name == "asgi_app":
        from jobtrail.web import asgi_app

        return asgi_app
    raise AttributeError(f"module 'jobtrail' has no attribute {name!r}")
