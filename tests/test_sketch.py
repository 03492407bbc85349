"""Log-bucketed histograms: every value within 1 % of its bucket's, quantiles within 1–2 % of numpy's,
and histograms that merge by adding counts (as roll-ups do)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobtrail.sketch import ALPHA, MIN_SECONDS, ZERO_BUCKET, bucket_of, quantiles, value_of

QS = (0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999)


def histogram(values: np.ndarray | list[float]) -> Counter[int]:
    return Counter(bucket_of(float(v)) for v in values)


@given(st.floats(min_value=MIN_SECONDS * 1.0001, max_value=1e9))
def test_a_value_is_within_alpha_of_its_bucket(seconds: float) -> None:
    estimate = value_of(bucket_of(seconds))
    assert abs(estimate - seconds) <= ALPHA * seconds * (1 + 1e-9)


@given(st.floats(min_value=0, max_value=MIN_SECONDS))
def test_durations_at_clock_resolution_count_as_zero(seconds: float) -> None:
    assert bucket_of(seconds) == ZERO_BUCKET
    assert value_of(ZERO_BUCKET) == 0.0


def test_buckets_grow_with_the_value() -> None:
    values = np.geomspace(1e-3, 1e6, 2000)
    buckets = [bucket_of(float(v)) for v in values]
    assert buckets == sorted(buckets)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("sigma", [0.5, 1.5, 3.0])
@pytest.mark.parametrize("size", [7, 200, 20_000])
def test_quantiles_of_log_normal_durations_are_within_one_percent_of_numpy(
    seed: int, sigma: float, size: int
) -> None:
    # Given log-normal durations (median e seconds, heavy tail for large sigma)
    values = np.random.default_rng(seed).lognormal(mean=1.0, sigma=sigma, size=size)
    # When quantiles are read from the histogram alone
    got = quantiles(histogram(values), QS)
    for q in QS:
        # Expect each within α of numpy's default (linear) quantile: both interpolate between the
        # same two ranks, and each rank's value is within α of its bucket's
        assert got[q] == pytest.approx(float(np.quantile(values, q)), rel=ALPHA * (1 + 1e-9))


def test_quantiles_stay_inside_the_exact_extremes_when_they_are_known() -> None:
    # Given values whose extremes sit at the edges of their buckets
    values = [1.0, 2.0, 3.0]
    lo, hi = 1.0, 3.0
    assert value_of(bucket_of(lo)) < lo or value_of(bucket_of(hi)) > hi
    # Expect the clamped estimates never outside [lo, hi], and still within α of the truth
    got = quantiles(histogram(values), (0.0, 0.5, 1.0), lo=lo, hi=hi)
    assert all(lo <= v <= hi for v in got.values() if v is not None)
    assert got[0.0] == pytest.approx(1.0, rel=ALPHA)
    assert got[1.0] == pytest.approx(3.0, rel=ALPHA)


def test_histograms_merge_by_adding_counts() -> None:
    rng = np.random.default_rng(9)
    minutes = [rng.lognormal(size=int(n)) for n in rng.integers(1, 300, size=40)]
    merged: Counter[int] = Counter()
    for part in minutes:
        merged.update(histogram(part))
    whole = histogram(np.concatenate(minutes))
    assert merged == whole
    assert quantiles(merged, QS) == quantiles(whole, QS)


def test_quantiles_accept_bucket_pairs_and_ignore_empty_buckets() -> None:
    counts = {bucket_of(1.0): 3, bucket_of(10.0): 0, bucket_of(100.0): 1}
    assert quantiles(counts, QS) == quantiles(list(counts.items()), QS)
    # Linear between the 3rd value (1) and the 4th (100) at rank 0.99 * 3, as numpy.percentile
    assert quantiles(counts, (0.99,))[0.99] == pytest.approx(1 + 0.97 * 99, rel=2 * ALPHA)
    assert quantiles(counts, (0.5,))[0.5] == pytest.approx(1.0, rel=ALPHA)


def test_quantiles_of_nothing_are_none() -> None:
    assert quantiles({}, (0.5, 0.99)) == {0.5: None, 0.99: None}
    assert quantiles({bucket_of(3.0): 0}, (0.5,)) == {0.5: None}


def test_a_histogram_of_zeros_reads_zero() -> None:
    assert quantiles(histogram([0.0, 0.0, 0.00001]), (0.5, 0.99)) == {0.5: 0.0, 0.99: 0.0}


@given(st.dictionaries(st.integers(-300, 300) | st.just(ZERO_BUCKET), st.integers(0, 6),
                       max_size=12),
       st.lists(st.floats(0, 1), min_size=1, max_size=4))
def test_quantiles_are_numpy_linear_quantiles_of_the_buckets_representative_values(
    counts: dict[int, int], qs: list[float]
) -> None:
    # Given a histogram, and every observation in it replaced by its bucket's value
    values = sorted(value_of(b) for b, n in counts.items() for _ in range(n))
    # When quantiles are read from the counts alone
    got = quantiles(counts, qs)
    # Expect numpy's linear quantile of those values (None for an empty histogram)
    for q in qs:
        if not values:
            assert got[q] is None
        else:
            assert got[q] == pytest.approx(float(np.quantile(values, q)), rel=1e-9, abs=1e-12)
