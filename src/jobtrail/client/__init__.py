"""The tracking client: job code calls it; it buffers and writes in the background."""

from __future__ import annotations

from jobtrail.client.tracking import JobHandle
from jobtrail.client.trail import Trail

__all__ = ["JobHandle", "Trail"]
