"""The bound on label values: job names and queues beyond a cap fold into `other`.

The values kept are the first ones the store saw (`RollupTotals.series` order), not the busiest:
that choice never changes as volumes shift, so no series hops between its own name and `other`
(which would look like a counter reset) and every server process folds the same way.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["DEFAULT_MAX_NAMES", "OTHER", "Fold"]

OTHER = "other"
DEFAULT_MAX_NAMES = 200


class Fold:
    """Maps a job name or queue to itself while it is kept, else to `other`. Values met later (a
    worker's queue that no job used yet) are kept while there is room. One per scrape."""

    def __init__(self, series: Iterable[tuple[str, str]], max_names: int = DEFAULT_MAX_NAMES) -> None:
        self._max = max(0, max_names)
        self._names: set[str] = set()
        self._queues: set[str] = set()
        for name, queue in series:
            self.name(name)
            self.queue(queue)

    def _keep(self, kept: set[str], value: str) -> str:
        if value in kept:
            return value
        if len(kept) < self._max:
            kept.add(value)
            return value
        return OTHER

    def name(self, name: str) -> str:
        return self._keep(self._names, name)

    def queue(self, queue: str) -> str:
        return self._keep(self._queues, queue)
