"""Statistics from roll-ups agree with the raw durations, on every backend.

A few thousand jobs with log-normal run and wait times, under several names and queues, spread over
six hours so that a window with ragged edges reads whole hours from hourly roll-ups and its edges from
per-minute ones. Percentiles from the roll-up histograms must lie within 2 % of numpy's on the raw
durations; count, min and max must be equal, and the mean equal to 1e-9.

Roll-up statistics time a run by when it ended and a wait by when it ended (the run started); exact
statistics filter rows by `created_at`. The window tests check each against its own definition.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import jobtrail
from jobtrail import Summary

PROFILES = (  # name, queue, median run s, run sigma, median wait s, wait sigma, jobs
    ("acc.thumbnail", "media", 0.6, 0.6, 1.5, 1.2, 1600),
    ("acc.import", "imports", 25.0, 1.0, 8.0, 1.5, 1000),
    ("acc.report", "imports", 140.0, 1.3, 40.0, 1.0, 600),
)
SPAN = 6 * 3600.0  # seconds over which jobs are created
PERCENTILE_ERROR = 0.02
HOUR, MINUTE = 3600, 60


@dataclass(frozen=True)
class Data:
    """The jobs as sent: arrays aligned by job, and the events that describe them."""

    names: np.ndarray
    queues: np.ndarray
    queued: np.ndarray
    started: np.ndarray
    ended: np.ndarray
    events: list[dict[str, Any]]
    origin: float  # the whole hour at which the first job may be created

    @property
    def run(self) -> np.ndarray:
        return self.ended - self.started  # what the store computes, to the last bit

    @property
    def wait(self) -> np.ndarray:
        return self.started - self.queued


def _generate(seed: int = 20240601) -> Data:
    rng = np.random.default_rng(seed)
    origin = float(int(time.time()) // HOUR * HOUR - 10 * HOUR)
    names, queues, queued, started, ended = [], [], [], [], []
    for name, queue, run_median, run_sigma, wait_median, wait_sigma, n in PROFILES:
        q = origin + 0.5 * HOUR + rng.uniform(0, SPAN, n)  # created off the hour boundaries
        w = rng.lognormal(np.log(wait_median), wait_sigma, n)
        r = rng.lognormal(np.log(run_median), run_sigma, n)
        s = q + w
        names += [name] * n
        queues += [queue] * n
        queued.append(q)
        started.append(s)
        ended.append(s + r)
    data = Data(
        names=np.array(names),
        queues=np.array(queues),
        queued=np.concatenate(queued),
        started=np.concatenate(started),
        ended=np.concatenate(ended),
        events=[],
        origin=origin,
    )
    assert data.ended.max() < time.time(), "every job must have finished by now"
    for i in range(len(data.names)):
        job_id = f"acc-{i:05d}"
        data.events.extend(
            [
                {
                    "job_id": job_id,
                    "type": "queued",
                    "at": float(data.queued[i]),
                    "name": str(data.names[i]),
                    "queue": str(data.queues[i]),
                },
                {"job_id": job_id, "type": "started", "at": float(data.started[i])},
                {"job_id": job_id, "type": "succeeded", "at": float(data.ended[i])},
            ]
        )
    return data


@pytest.fixture(scope="module")
def data() -> Data:
    return _generate()


@pytest.fixture
def loaded(trail: jobtrail.Trail, data: Data) -> jobtrail.Trail:
    """A fresh database (SQLite, then PostgreSQL) holding `data`."""
    _ingest(trail, data)
    return trail


def _ingest(trail: jobtrail.Trail, data: Data) -> None:
    for lo in range(0, len(data.events), 500):
        result = trail.ingest(data.events[lo : lo + 500])
        assert not result.rejected


def _assert_matches(summary: Summary, raw: np.ndarray, what: str) -> None:
    assert summary.count == len(raw), what
    assert len(raw) > 50, f"{what}: too few samples to judge percentiles"
    assert summary.min == raw.min(), what
    assert summary.max == raw.max(), what
    assert summary.avg == pytest.approx(raw.mean(), rel=1e-9), what
    for q, got in ((50, summary.p50), (95, summary.p95), (99, summary.p99)):
        want = float(np.percentile(raw, q))
        assert got is not None, f"{what} p{q} is missing"
        assert abs(got - want) <= PERCENTILE_ERROR * want, f"{what} p{q}: {got} vs numpy {want}"


def _assert_stats(stats: jobtrail.Stats, source: str, run: np.ndarray, wait: np.ndarray, what: str) -> None:
    assert stats.source == source, what
    _assert_matches(stats.run, run, f"{what} run")
    _assert_matches(stats.wait, wait, f"{what} wait")


def _mask(values: np.ndarray, allowed: Sequence[str]) -> np.ndarray:
    return np.isin(values, list(allowed))


def test_rollup_stats_per_name_match_numpy_on_the_raw_durations(loaded: jobtrail.Trail, data: Data) -> None:
    for name, *_ in PROFILES:
        m = data.names == name
        _assert_stats(loaded.jobs(name=name).stats(), "rollup", data.run[m], data.wait[m], name)


def test_rollup_stats_per_queue_and_overall_match_numpy_on_the_raw_durations(
    loaded: jobtrail.Trail, data: Data
) -> None:
    for queue in ("media", "imports"):
        m = data.queues == queue
        _assert_stats(loaded.jobs(queue=queue).stats(), "rollup", data.run[m], data.wait[m], queue)
    names = ["acc.import", "acc.report"]
    m = _mask(data.names, names)
    _assert_stats(loaded.jobs(name=names).stats(), "rollup", data.run[m], data.wait[m], "two names")
    _assert_stats(loaded.jobs().stats(), "rollup", data.run, data.wait, "all jobs")


def test_exact_stats_match_numpy_on_the_raw_durations(loaded: jobtrail.Trail, data: Data) -> None:
    for name, *_ in PROFILES:
        m = data.names == name
        stats = loaded.jobs(name=name).stats(exact=True)
        _assert_stats(stats, "exact", data.run[m], data.wait[m], f"exact {name}")


def _window(data: Data) -> tuple[float, float]:
    """Minute-aligned but not hour-aligned edges, with whole hours between them."""
    since = data.origin + 2 * HOUR + 17 * MINUTE
    return since, since + 2 * HOUR + 26 * MINUTE


def test_rollup_stats_of_a_window_cover_just_the_runs_and_waits_that_ended_in_it(
    loaded: jobtrail.Trail, data: Data
) -> None:
    since, until = _window(data)
    for name in ("acc.thumbnail", "acc.import"):
        named = data.names == name
        runs = data.run[named & (data.ended >= since) & (data.ended < until)]
        waits = data.wait[named & (data.started >= since) & (data.started < until)]
        stats = loaded.jobs(name=name, since=since, until=until).stats()
        _assert_stats(stats, "rollup", runs, waits, f"window {name}")
        assert stats.run.count < named.sum(), "the window must leave some runs out"


def test_exact_stats_of_a_window_cover_just_the_jobs_created_in_it(
    loaded: jobtrail.Trail, data: Data
) -> None:
    since, until = _window(data)
    m = (data.names == "acc.thumbnail") & (data.queued >= since) & (data.queued < until)
    stats = loaded.jobs(name="acc.thumbnail", since=since, until=until).stats(exact=True)
    _assert_stats(stats, "exact", data.run[m], data.wait[m], "exact window")


def test_window_stats_use_minute_rollups_at_ragged_edges(loaded: jobtrail.Trail, data: Data) -> None:
    """A window of a few minutes inside one hour can only be answered from per-minute roll-ups."""
    since = data.origin + 3 * HOUR + 5 * MINUTE
    until = since + 20 * MINUTE
    m = (data.names == "acc.thumbnail") & (data.ended >= since) & (data.ended < until)
    stats = loaded.jobs(name="acc.thumbnail", since=since, until=until).stats()
    assert stats.run.count == m.sum() > 0
    assert stats.run.min == data.run[m].min()
    assert stats.run.max == data.run[m].max()


def test_deleting_rows_leaves_rollup_stats_unchanged(trail: jobtrail.Trail, data: Data) -> None:
    _ingest(trail, data)
    since, until = _window(data)
    queries = [
        lambda: trail.jobs(name="acc.import"),
        lambda: trail.jobs(queue="imports"),
        lambda: trail.jobs(),
        lambda: trail.jobs(name="acc.import", since=since, until=until),
    ]
    before = [q().stats() for q in queries]

    deleted = trail.jobs(name="acc.import").delete(dry_run=False)
    deleted += trail.jobs(name="acc.report", since=since, until=until).delete(dry_run=False)

    assert deleted > 1000
    assert trail.jobs(name="acc.import").count() == 0
    assert trail.jobs(name="acc.import").stats(exact=True).run.count == 0
    assert [q().stats() for q in queries] == before
    m = data.names == "acc.import"
    _assert_stats(trail.jobs(name="acc.import").stats(), "rollup", data.run[m], data.wait[m], "after delete")


def test_percentiles_interpolate_between_neighbouring_durations_like_numpy(trail: jobtrail.Trail) -> None:
    """Ten runs of 1 s … 10 s: the median is 5.5 s (numpy's default, linear), not 5 s or 6 s."""
    start = time.time() - 3600
    runs = np.arange(1.0, 11.0)
    trail.ingest(
        [
            event
            for i, run in enumerate(runs)
            for event in (
                {"job_id": f"ten-{i}", "type": "started", "at": start + i, "name": "ten"},
                {"job_id": f"ten-{i}", "type": "succeeded", "at": start + i + run},
            )
        ]
    )
    want = {q: float(np.percentile(runs, q)) for q in (50, 95, 99)}
    assert want == pytest.approx({50: 5.5, 95: 9.55, 99: 9.91})

    exact = trail.jobs(name="ten").stats(exact=True).run
    assert (exact.p50, exact.p95, exact.p99) == pytest.approx((want[50], want[95], want[99]), rel=1e-9)
    rollup = trail.jobs(name="ten").stats().run
    assert (rollup.p50, rollup.p95, rollup.p99) == pytest.approx(
        (want[50], want[95], want[99]), rel=PERCENTILE_ERROR
    )
