"""`rollups.rows` folds each resolution from the one below it; it must equal the plain fan-out.

The reference below adds every delta key at every resolution on its own (how the rows were built
before the fold), so any key the fold drops, merges wrongly or orders differently shows up here.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobtrail.rollup import KIND_CODES, METRIC_CODES, METRICS, Delta
from jobtrail.store.sql import rollups
from jobtrail.store.sql.rollups import ALL, RESOLUTIONS

T0 = 1_700_000_000 // 86400 * 86400
SIDS = {("a", "default"): 1, ("b", "default"): 2, ("a", "mail"): 7}
_pairs = st.sampled_from(sorted(SIDS))
# Minutes over three days, so keys share hours and days, and some hours cancel out.
_minutes = st.integers(0, 3 * 24 * 60 - 1).map(lambda m: T0 + 60 * m)
_counts = st.dictionaries(
    st.one_of(
        st.tuples(st.just("c"), _minutes, _pairs, st.sampled_from(METRICS)).map(
            lambda k: ("c", k[1], *k[2], k[3])),
        st.tuples(st.just("h"), _minutes, _pairs, st.sampled_from(["run", "wait"]),
                  st.integers(-3, 3)).map(lambda k: ("h", k[1], *k[2], k[3], k[4])),
    ),
    st.integers(-3, 3).filter(bool),
    max_size=60,
)
_observed = st.lists(
    st.tuples(st.tuples(_minutes, _pairs, st.sampled_from(["run", "wait", "success"])),
              st.floats(0, 1e4, allow_nan=False)).map(
        lambda o: (("s", o[0][0], *o[0][1], o[0][2]), o[1])),
    max_size=30,
)


def _tile(res: int, t: int) -> int:
    return 0 if res == ALL else t - t % res


def _reference(delta: Delta) -> tuple[list[Any], list[Any], list[Any]]:
    counts: dict[tuple[int, ...], int] = defaultdict(int)
    hist: dict[tuple[int, ...], int] = defaultdict(int)
    for key, n in delta.counts.items():
        sid = SIDS[(key[2], key[3])]
        for res in RESOLUTIONS:
            if key[0] == "c":
                counts[(res, sid, _tile(res, key[1]), METRIC_CODES[key[4]])] += n
            else:
                hist[(res, KIND_CODES[key[4]], sid, _tile(res, key[1]), key[5])] += n
    summary: dict[tuple[int, ...], list[Any]] = {}
    for sign, items in ((1, delta.observed), (-1, delta.retracted)):
        for key, value in items:
            for res in RESOLUTIONS:
                k = (res, KIND_CODES[key[4]], SIDS[(key[2], key[3])], _tile(res, key[1]))
                s = summary.setdefault(k, [0, 0.0, None, None])
                s[0] += sign
                s[1] += sign * value
                if sign > 0:
                    s[2] = value if s[2] is None else min(s[2], value)
                    s[3] = value if s[3] is None else max(s[3], value)
    return ([(*k, n) for k, n in sorted(counts.items()) if n],
            [(*k, n) for k, n in sorted(hist.items()) if n],
            [(*k, *s) for k, s in sorted(summary.items())])


@settings(max_examples=300, deadline=None)
@given(_counts, _observed, _observed)
def test_rows_equal_the_fan_out_of_every_key(
    counts: dict[tuple[Any, ...], int], observed: list[Any], retracted: list[Any]
) -> None:
    delta = Delta(counts=Counter(counts), observed=observed, retracted=retracted)
    got = rollups.rows(delta, SIDS)
    want_counts, want_hist, want_summary = _reference(delta)
    assert got.counts == want_counts
    assert got.hist == want_hist
    assert [r[:5] + r[6:] for r in got.summary] == [r[:5] + r[6:] for r in want_summary]
    # Totals are summed per minute first, so only their rounding may differ.
    assert [r[5] for r in got.summary] == pytest.approx([r[5] for r in want_summary], abs=1e-6)
