"""Prometheus metrics (SPEC §7), computed at scrape time from the store: `JobCollector`, `render`."""

from jobtrail.metrics.buckets import BUCKETS
from jobtrail.metrics.cap import DEFAULT_MAX_NAMES, OTHER
from jobtrail.metrics.collector import CONTENT_TYPE, JobCollector, render

__all__ = ["BUCKETS", "CONTENT_TYPE", "DEFAULT_MAX_NAMES", "OTHER", "JobCollector", "render"]
