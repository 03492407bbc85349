"""Log-bucketed duration histograms: percentiles within 1 % relative error from counts alone.

A duration x > 0 falls in bucket ceil(log_γ x) with γ = (1 + α) / (1 − α), α = 1 %; the bucket's
representative value is within α of every value in it (the DDSketch construction). Counts per bucket
add, so histograms kept per minute or hour merge by summing, which is what roll-ups need.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from itertools import accumulate

__all__ = ["ALPHA", "ZERO_BUCKET", "bounds_of", "bucket_of", "clamp_extremes", "quantiles", "value_of"]

ALPHA = 0.01
GAMMA = (1 + ALPHA) / (1 - ALPHA)
_LOG_GAMMA = math.log(GAMMA)
MIN_SECONDS = 1e-4
"""Durations at or below 0.1 ms count as zero: the clock resolution of most senders."""
ZERO_BUCKET = -100_000


def bucket_of(seconds: float) -> int:
    if seconds <= MIN_SECONDS:
        return ZERO_BUCKET
    return math.ceil(math.log(seconds) / _LOG_GAMMA)


def bounds_of(bucket: int) -> tuple[float, float]:
    """The (exclusive low, inclusive high) edges of the values a bucket holds."""
    if bucket == ZERO_BUCKET:
        return 0.0, MIN_SECONDS
    return GAMMA ** (bucket - 1), GAMMA**bucket


def value_of(bucket: int) -> float:
    if bucket == ZERO_BUCKET:
        return 0.0
    return 2 * GAMMA**bucket / (GAMMA + 1)


def quantiles(
    counts: Mapping[int, int] | Iterable[tuple[int, int]],
    qs: Iterable[float],
    lo: float | None = None,
    hi: float | None = None,
) -> dict[float, float | None]:
    """Quantile estimates from bucket counts, clamped into the exact [lo, hi] when known.

    Like numpy's default (linear), the quantile sits at rank q·(n−1) and interpolates between the
    values at the ranks either side. The rank's bucket is found by bisecting the running counts
    (charts ask for a few quantiles of hundreds of histograms per page).
    """
    items = sorted(counts.items() if isinstance(counts, Mapping) else counts)
    buckets = [b for b, c in items if c > 0]
    running = list(accumulate(c for _, c in items if c > 0))
    total = running[-1] if running else 0
    out: dict[float, float | None] = {}
    for q in qs:
        if total == 0:
            out[q] = None
            continue
        position = q * (total - 1)
        below = math.floor(position)
        # The bucket holding the rank-th smallest observation: the first whose running count
        # exceeds the rank.
        value = value_of(buckets[min(bisect_right(running, below), len(buckets) - 1)])
        if position > below:
            above = value_of(buckets[min(bisect_right(running, below + 1), len(buckets) - 1)])
            value += (position - below) * (above - value)
        if lo is not None:
            value = max(value, lo)
        if hi is not None:
            value = min(value, hi)
        out[q] = value
    return out


def clamp_extremes(
    buckets: Mapping[int, int], lo: float | None, hi: float | None
) -> tuple[float | None, float | None]:
    """Exact min and max, corrected when they fall outside the non-empty buckets.

    Roll-ups keep min and max as running extremes, which a retracted observation (a job whose run
    was corrected by a late event) cannot lower; the histogram does lose it. Values well inside the
    buckets' edges are kept exactly.
    """
    filled = [b for b, c in buckets.items() if c > 0]
    if not filled:
        return lo, hi
    floor_, _ = bounds_of(min(filled))
    _, ceiling = bounds_of(max(filled))
    # Outside the edges, the bucket's representative value is within ALPHA of what is left there.
    if hi is not None and hi > ceiling * (1 + 1e-9):
        hi = value_of(max(filled))
    if lo is not None and lo < floor_ * (1 - 1e-9):
        lo = value_of(min(filled))
    return lo, hi
