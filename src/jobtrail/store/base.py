"""The store protocol: what every backend guarantees. `tests/store/` checks each backend against it.

Records are the dicts that `states.merge` produces. The store never interprets events itself: the
domain layer (`ingest`) computes new records and roll-up deltas inside `update`, and the store makes
that read-compute-write atomic, so concurrent writers in several processes lose nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

from jobtrail.model import JobFilter, RetentionRule
from jobtrail.rollup import Delta

__all__ = ["Change", "Record", "RollupHistogram", "RollupTotals", "Store"]

Record = dict[str, Any]
Change = Callable[[Mapping[str, Record]], tuple[Mapping[str, Record], Delta]]
RollupHistogram = tuple[dict[int, int], int, float, float | None, float | None]
"""(bucket → count, count, sum, min, max) of one duration kind."""


class RollupTotals(NamedTuple):
    """Roll-ups summed per series (a job name and queue pair)."""

    series: list[tuple[str, str]]
    """Every (name, queue) the store knows, whatever the span, in the order first seen: stable, so
    a cap on label values keeps the same names over time and in every process."""
    counts: dict[tuple[str, str, str], int]
    """(name, queue, metric) → n, for the counters of `rollup.METRICS`."""
    buckets: dict[tuple[str, str, str], dict[int, int]]
    """(name, queue, kind) → {log bucket (`jobtrail.sketch`) → n}, for the kinds run and wait."""
    summaries: dict[tuple[str, str, str], tuple[int, float]]
    """(name, queue, kind) → (count, sum of seconds), for run and wait."""


class Store(Protocol):
    url: str
    parallel_writes: bool
    """False when threads of one process gain nothing by writing at once (SQLite: one write lock,
    and merging is bound by the GIL, so two threads only hand it back and forth). The server then
    runs one ingest at a time per process and queues the rest on its event loop."""

    def update(self, job_ids: Sequence[str], change: Change) -> Mapping[str, Record]:
        """Atomically apply `change` to the current records of `job_ids`, and return what it wrote.

        The store loads the ones that exist, calls `change(current)` (missing ids are absent from
        `current`), writes the returned records and adds the returned roll-up delta, atomically: what
        is written was changed from the records as they are at the commit. Concurrent calls touching
        the same ids are serialized; a call that fails leaves nothing behind. `change` must be pure:
        it may be called again on retry, or when another writer changed those jobs after they were
        read (SQLite reads and changes them before taking its write lock).
        """
        ...

    def get(self, job_id: str) -> Record | None:
        """The record, or None when no job has that id."""
        ...

    def find(self, flt: JobFilter, limit: int, after: tuple[float, str] | None) -> list[Record]:
        """Matching records newest first by (created_at, id), strictly after the keyset `after`."""
        ...

    def find_values(
        self, flt: JobFilter, fields: Sequence[str], limit: int, after: tuple[float, str] | None
    ) -> list[tuple[Any, ...]]:
        """Like `find`, but only the named top-level fields of each record (e.g. id, finished_at,
        run, wait), as tuples: for charts of many jobs, without decoding whole records."""
        ...

    def count(self, flt: JobFilter) -> int: ...

    def counts(self, flt: JobFilter, by: str) -> dict[str, int]:
        """Number of matching jobs per value of `by` (state, name or queue)."""
        ...

    def durations(self, flt: JobFilter, kind: str) -> list[float]:
        """Exact `kind` ("run" or "wait") seconds of matching jobs that have one, ascending."""
        ...

    def ids(self, flt: JobFilter, limit: int, after: tuple[float, str] | None) -> list[
        tuple[float, str]
    ]:
        """(created_at, id) keys of matching jobs, newest first; for bulk work in bounded steps."""
        ...

    def delete(self, job_ids: Sequence[str]) -> int:
        """Delete these jobs' rows (roll-ups keep their counts); returns how many existed."""
        ...

    def rollup_histogram(
        self,
        kind: str,
        since: float | None,
        until: float | None,
        names: Sequence[str] = (),
        queues: Sequence[str] = (),
    ) -> RollupHistogram:
        """The merged duration histogram of `kind` (run, wait, success) over [since, until).

        Whole days come from daily roll-ups, the rest from hourly ones, and the partial hours at
        the edges from per-minute ones while those are kept; older edges are counted by whole hours.
        """
        ...

    def rollup_counts(
        self,
        since: float | None,
        until: float | None,
        names: Sequence[str] = (),
        queues: Sequence[str] = (),
        metrics: Sequence[str] = (),
        step: int = 3600,
    ) -> list[tuple[int, str, str, str, int]]:
        """(bucket start, name, queue, metric, n) summed per `step` seconds (a multiple of 60 that
        divides 3600, or a multiple of 3600; buckets start at multiples of `step`), for counters
        such as "entered:failed", "load:queued", "items:done"."""
        ...

    def rollup_totals(
        self,
        since: float | None,
        until: float | None,
        names: Sequence[str] = (),
        queues: Sequence[str] = (),
        metrics: Sequence[str] = (),
    ) -> list[tuple[str, str, str, int]]:
        """(name, queue, metric, n) counters summed over [since, until), read like
        `rollup_histogram`: whole hours from hourly roll-ups, the edges to the minute while kept."""
        ...

    def rollup_histograms(
        self,
        kind: str,
        since: float | None,
        until: float | None,
        names: Sequence[str] = (),
        queues: Sequence[str] = (),
        step: int | None = None,
        merge: int = 1,
    ) -> list[tuple[int, str, str, int, int]]:
        """(bucket start, name, queue, duration bucket, n) of `kind` histograms per `step` seconds
        (as in `rollup_counts`), for percentiles over time and heatmaps. With `step` None, one
        bucket per series over the whole span, read like `rollup_histogram`; its start is `since`
        rounded down (0 when None). `merge` > 1 counts that many adjacent duration buckets as
        one, reported as their middle bucket: `merge` times fewer rows for charts, percentiles
        within about `merge` % instead of 1 %."""
        ...

    def series_totals(
        self, since: float | None = None, until: float | None = None, edges: Sequence[int] = ()
    ) -> RollupTotals:
        """Every series' roll-ups summed over the hours starting in [since, until).

        Unbounded, it reads the maintained all-time totals (a few rows per series: what `/metrics`
        reads at every scrape). Bounds round down to whole hours, so the totals of [None, h) and
        [h, None) add up to the all-time ones. With `edges` (log-bucket numbers), each histogram
        bucket is counted under the first edge at or above it (buckets above the last edge stay
        as they are), so a reader of coarse bounds gets a few rows per series, not hundreds.
        """
        ...

    def compact(self, before: float) -> int:
        """Drop per-minute roll-ups older than `before` (hourly and daily ones hold them)."""
        ...

    def expired(self, rules: Sequence[RetentionRule], now: float, limit: int) -> list[str]:
        """Up to `limit` ids of jobs whose retention has run out at `now`, oldest first.

        A job's own `keep` wins; otherwise the most specific rule (name and state, name, state, the
        catch-all) gives the seconds to keep it after it finished (or was last heard of, when it
        never finished); a rule of None keeps forever.
        """
        ...

    def batch_rows(self, batch: str) -> Iterator[Record]:
        """Every record in one batch (a job request)."""
        ...

    def beat_worker(self, worker: Mapping[str, Any]) -> None:
        """Record a worker heartbeat (`id, host, pid, queues, state, running, at`); the newest `at`
        wins, and `started_at` is the first heartbeat seen."""
        ...

    def workers(self) -> list[dict[str, Any]]:
        """Every worker's latest heartbeat: `id, host, pid, queues, state, running, started_at,
        last_seen`."""
        ...

    def declare_periodic(self, spec: Mapping[str, Any]) -> None:
        """Declare (or redeclare) a periodic job: `name, every, cron, grace, down_after, at`; the
        newest declaration wins, but the same `every`/`cron` again keeps the first `declared_at`."""
        ...

    def periodics(self) -> list[dict[str, Any]]:
        """Declared periodic jobs: `name, every, cron, grace, down_after, declared_at`."""
        ...

    def last_success(self, names: Sequence[str] = ()) -> dict[str, float]:
        """The newest success instant of each job name (all names when empty), from the roll-ups."""
        ...

    def queue_levels(self) -> list[dict[str, Any]]:
        """Jobs queued and running now per (queue, name): `queue, name, queued, running,
        oldest_queued_at`."""
        ...

    def close(self) -> None: ...
