"""Roll-up reads split a span into whole days, hours and minutes that tile it exactly."""

from __future__ import annotations

import itertools
import math

from hypothesis import given
from hypothesis import strategies as st

from jobtrail.store.sql.rollups import ALL, DAY, HOUR, MINUTE, spans

T0 = 1_790_000_000 // DAY * DAY
times = st.one_of(st.none(), st.floats(min_value=T0 - 3 * DAY, max_value=T0 + 12 * DAY))


@given(since=times, until=times, horizon=st.floats(min_value=T0 - 5 * DAY, max_value=T0 + 14 * DAY))
def test_pieces_tile_the_span_at_the_coarsest_resolution_each_part_allows(
    since: float | None, until: float | None, horizon: float
) -> None:
    if since is not None and until is not None and since >= until:
        return
    pieces = spans(since, until, horizon)
    lo = None if since is None else since // MINUTE * MINUTE
    if lo is not None and lo < horizon:
        lo = lo // HOUR * HOUR
    hi = until
    if hi is not None and math.floor(hi / HOUR) * HOUR < horizon:
        hi = math.ceil(hi / HOUR) * HOUR
    ordered = sorted(pieces, key=lambda p: -math.inf if p[1] is None else p[1])
    assert ordered[0][1] == lo and ordered[-1][2] == hi
    for (_, _, end), (_, start, _) in itertools.pairwise(ordered):
        assert end == start  # no gap, no overlap
    for res, a, b in pieces:
        assert a is None or a % res == 0 or res == MINUTE
        assert b is None or b % res == 0 or (res == MINUTE and b == hi)
        if res == MINUTE:
            assert a is None or a >= horizon  # minute rows are only read where they are kept
    assert sum(1 for res, _, _ in pieces if res in (DAY, ALL)) <= 1
    assert len(pieces) <= 5
