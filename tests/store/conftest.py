"""Helpers shared by the conformance suite; the backends come from `tests/conftest.py` (`store_url`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from jobtrail.ingest import IngestResult

Add = Callable[..., IngestResult]


@pytest.fixture
def add(trail: Any) -> Add:
    """`add(event, ..., **common)`: ingest events (each updated with `common`) and expect no rejection."""

    def add(*events: dict[str, Any], **common: Any) -> IngestResult:
        result: IngestResult = trail.ingest([common | event for event in events])
        assert result.rejected == [], result.rejected
        return result

    return add


@pytest.fixture
def snapshot() -> Callable[[Any], dict[str, Any]]:
    """`snapshot(store)`: the store's roll-ups in a comparable form."""
    return rollup_snapshot


def rollup_snapshot(store: Any) -> dict[str, Any]:
    """Everything the roll-ups hold, in a comparable form: counters per minute and per hour, and the
    merged histogram and summary of each duration kind."""
    out: dict[str, Any] = {}
    for step in (60, 3600):
        counts: Counter[tuple[Any, ...]] = Counter()
        for t, name, queue, metric, n in store.rollup_counts(None, None, step=step):
            counts[(t, name, queue, metric)] += n
        out[f"counts/{step}"] = {k: v for k, v in counts.items() if v}
    for kind in ("run", "wait", "success"):
        buckets, n, total, lo, hi = store.rollup_histogram(kind, None, None)
        out[kind] = (buckets, n, round(total, 6), lo, hi)
    return out
