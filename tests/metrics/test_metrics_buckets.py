"""Prometheus buckets from the roll-ups' 1 % log buckets."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest

from jobtrail.metrics import BUCKETS
from jobtrail.metrics.buckets import cumulative
from jobtrail.sketch import bucket_of


def test_the_layout_spans_ten_milliseconds_to_a_day_with_the_alert_thresholds() -> None:
    assert BUCKETS[0] == 0.01 and BUCKETS[-1] == 86400
    assert list(BUCKETS) == sorted(set(BUCKETS))
    assert 300 in BUCKETS and 600 in BUCKETS


def test_counts_are_exact_for_durations_away_from_the_bounds() -> None:
    rng = random.Random(5)
    values = [math.exp(rng.uniform(math.log(0.001), math.log(200_000))) for _ in range(2000)]
    # keep values more than 2 % from any bound: there the 1 % buckets cannot straddle it
    values = [v for v in values if all(abs(v - b) / b > 0.02 for b in BUCKETS)]
    hist = Counter(bucket_of(v) for v in values)
    pairs = cumulative(hist, len(values))
    assert [le for le, _ in pairs] == [repr(float(b)) for b in BUCKETS] + ["+Inf"]
    for (le, n), bound in zip(pairs, [*BUCKETS, math.inf], strict=True):
        assert n == sum(v <= bound for v in values), le


def test_the_last_bucket_is_the_exact_count_and_none_exceeds_it() -> None:
    pairs = cumulative({bucket_of(1.0): 5}, 4)  # a histogram slightly ahead of its summary
    assert pairs[-1] == ("+Inf", 4.0)
    assert max(n for _, n in pairs) == 4


@pytest.mark.parametrize("seconds", [0.0, 0.00005])
def test_zero_durations_fall_in_the_first_bucket(seconds: float) -> None:
    assert cumulative({bucket_of(seconds): 3}, 3)[0] == ("0.01", 3.0)


def test_edges_are_the_last_log_bucket_under_each_bound() -> None:
    from jobtrail.metrics.buckets import EDGES
    from jobtrail.sketch import value_of

    for edge, bound, previous in zip(EDGES, BUCKETS, (0.0, *BUCKETS), strict=False):
        assert previous < value_of(edge) <= bound < value_of(edge + 1)
    # coarsening to the edges gives the very same Prometheus buckets
    rng = random.Random(9)
    hist = Counter(bucket_of(math.exp(rng.uniform(-8, 12))) for _ in range(3000))
    coarse: Counter[int] = Counter()
    for b, n in hist.items():
        coarse[next((e for e in EDGES if b <= e), b)] += n
    assert cumulative(coarse, 3000) == cumulative(hist, 3000)
