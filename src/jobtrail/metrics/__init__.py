"""Prometheus metrics (SPEC §7), computed at scrape time from the store: `JobCollector`, `render`."""

from jobtrail.metrics.buckets import BUCKETS
from jobtrail.metrics.cap import DEFAULT_MAX_NAMES, OTHER
from jobtrail.metrics.collector import JobCollector, render

__all__ = ["BUCKETS", "DEFAULT_MAX_NAMES", "OTHER", "JobCollector", "render"]
