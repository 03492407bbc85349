"""The Prometheus histogram layout, and how the roll-ups' log buckets fill it.

Roll-ups keep durations in log buckets 1 % wide (`jobtrail.sketch`); Prometheus wants cumulative
counts at fixed bounds. A log bucket counts toward every bound at or above its representative value,
which is within 1 % of each duration it holds, so a bucket count is off only for durations within
1 % of a bound. `+Inf` and `_count` are exact (from the summaries).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping

from jobtrail.sketch import bucket_of, value_of

__all__ = ["BUCKETS", "EDGES", "cumulative"]

BUCKETS: tuple[float, ...] = (
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800,
    3600, 7200, 14400, 21600, 43200, 86400,
)
"""Upper bounds in seconds, from 10 ms to 1 day. 300 s and 600 s are bounds so the default p95
alerts compare against an edge rather than an interpolation."""

EDGES: tuple[int, ...] = tuple(
    b if value_of(b := bucket_of(bound)) <= bound else b - 1 for bound in BUCKETS
)
"""The last log bucket counted under each bound: the store can sum log buckets up to these edges
(`Store.series_totals(edges=...)`) and give the same counts in a few rows per series."""

_LABELS = [repr(float(b)) for b in BUCKETS]
"""`le` as Prometheus' own clients print it: 0.01, 1.0, 86400.0."""


_BOUND_OF: dict[int, int] = {}
"""Log bucket → index of the first bound at or above its value (len(BUCKETS): only +Inf)."""


def _bound_of(bucket: int) -> int:
    i = _BOUND_OF.get(bucket)
    if i is None:
        i = _BOUND_OF[bucket] = bisect_left(BUCKETS, value_of(bucket))
    return i


def cumulative(buckets: Mapping[int, int], count: int) -> list[tuple[str, float]]:
    """(le, cumulative count) pairs ending with ("+Inf", count), never decreasing."""
    per_bound = [0] * (len(BUCKETS) + 1)
    for bucket, n in buckets.items():
        if n > 0:
            per_bound[_bound_of(bucket)] += n
    out: list[tuple[str, float]] = []
    running = 0
    for label, n in zip(_LABELS, per_bound[:-1], strict=True):
        running += n
        out.append((label, float(min(running, count))))
    out.append(("+Inf", float(count)))
    return out
