"""Queries: filters from loose user input, cursors, exact summaries, and the load series.

Filtering, paging and bulk operations against real stores are in tests/store/.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from jobtrail.errors import InvalidInput
from jobtrail.model import JobFilter
from jobtrail.query import JobQuery, build_filter, decode_cursor, encode_cursor, load_series

NOW = 1_700_000_000.0
HOUR = 3600
DAY = 86400


# ---- filters from what users type ------------------------------------------------------------


def test_an_empty_filter_matches_everything_and_can_be_answered_from_rollups() -> None:
    flt = build_filter(now=NOW)
    assert flt == JobFilter()
    assert flt.as_dict() == {}
    assert flt.rollup_friendly


def test_comma_separated_states_and_queues_become_lists() -> None:
    flt = build_filter(state="failed,killed", queue="high,low", now=NOW)
    assert flt.states == ("failed", "killed")
    assert flt.queues == ("high", "low")


def test_a_single_name_is_taken_whole_even_with_a_comma() -> None:
    assert build_filter(name="export,csv", now=NOW).names == ("export,csv",)
    assert build_filter(name=["a", "b"], now=NOW).names == ("a", "b")


@pytest.mark.parametrize(
    "labels",
    [{"ws": "1", "tenant": "acme"}, ["tenant=acme", "ws=1"], ["tenant:acme", "ws: 1"]],
)
def test_labels_come_as_a_mapping_or_as_key_value_text(labels: Any) -> None:
    assert build_filter(labels=labels, now=NOW).labels == (("tenant", "acme"), ("ws", "1"))


def test_a_single_label_may_be_one_string() -> None:
    assert build_filter(labels="tenant=acme", now=NOW).labels == (("tenant", "acme"),)


def test_a_label_without_a_value_is_refused() -> None:
    with pytest.raises(InvalidInput, match="must be key=value"):
        build_filter(labels=["tenant"], now=NOW)


@pytest.mark.parametrize(
    ("since", "expected"),
    [
        ("7d", NOW - 7 * 86400),
        ("90m", NOW - 5400),
        (NOW - 10, NOW - 10),
        ("2023-11-14T22:13:20Z", 1_700_000_000.0),
        (datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC), 1_700_000_000.0),
        ("", None),
        (None, None),
    ],
)
def test_times_are_spans_back_from_now_or_instants(since: Any, expected: float | None) -> None:
    assert build_filter(since=since, until=since, now=NOW).since == expected
    assert build_filter(since=since, until=since, now=NOW).until == expected


def test_a_time_that_cannot_be_read_is_refused() -> None:
    with pytest.raises(InvalidInput, match="not a time"):
        build_filter(since="last tuesday", now=NOW)


def test_an_unknown_state_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(InvalidInput, match="unknown state 'done'; states are scheduled, queued"):
        build_filter(state="done", now=NOW)


@pytest.mark.parametrize(
    "filters",
    [{"state": "failed"}, {"batch": "b"}, {"resource": "Book:1"}, {"labels": {"k": "v"}},
     {"ids": ["a"]}],
)
def test_filters_beyond_name_queue_and_time_need_the_rows(filters: dict[str, Any]) -> None:
    assert not build_filter(**filters, now=NOW).rollup_friendly
    assert build_filter(name="n", queue="q", since="1d", now=NOW).rollup_friendly


def test_a_filter_describes_itself_as_a_dict() -> None:
    flt = build_filter(state="failed", name="n", batch="b", resource="Book:1", labels={"k": "v"},
                       since=NOW - 5, ids=["x"], now=NOW)
    assert flt.as_dict() == {"states": ["failed"], "names": ["n"], "ids": ["x"], "batch": "b",
                             "resource": "Book:1", "since": NOW - 5, "labels": {"k": "v"}}
    assert repr(JobQuery(None, flt)).startswith("JobQuery({'states': ['failed']")  # type: ignore[arg-type]


# ---- cursors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("key", [(NOW, "abc"), (NOW + 0.123456, "ünïcødé/=+"), (0.0, "")])
def test_a_cursor_reads_back_as_the_key_it_was_made_from(key: tuple[float, str]) -> None:
    cursor = encode_cursor(key)
    assert decode_cursor(cursor) == key
    assert "=" not in cursor and "/" not in cursor and "+" not in cursor  # safe in a query string


@pytest.mark.parametrize(
    "payload", [b"", b"not json", b'{"a": 1}', b"[1, 2, 3]", b'["x", "y"]', b"[null, 1]", b"5",
                b"\xff\xfe"],
)
def test_a_garbled_cursor_is_refused(payload: bytes) -> None:
    cursor = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    with pytest.raises(InvalidInput, match="invalid cursor"):
        decode_cursor(cursor)


def test_a_cursor_that_is_not_base64_is_refused() -> None:
    with pytest.raises(InvalidInput, match="invalid cursor"):
        decode_cursor("%%%")


def test_a_cursor_is_plain_json_inside() -> None:
    cursor = encode_cursor((NOW, "abc"))
    assert json.loads(base64.urlsafe_b64decode(cursor + "==")) == [NOW, "abc"]


# ---- exact summaries -------------------------------------------------------------------------


class _Durations:
    """A store that only knows the exact durations of its matching jobs."""

    def __init__(self, run: list[float], wait: list[float]) -> None:
        self.values = {"run": sorted(run), "wait": sorted(wait)}

    def durations(self, flt: JobFilter, kind: str) -> list[float]:
        return self.values[kind]


def test_exact_statistics_interpolate_between_ranks_like_numpy() -> None:
    store = _Durations(run=[float(i) for i in range(1, 101)], wait=[])
    stats = JobQuery(store, build_filter(state="succeeded", now=NOW)).stats()  # type: ignore[arg-type]
    assert stats.source == "exact"
    run = stats.run
    assert (run.count, run.min, run.max, run.avg) == (100, 1.0, 100.0, 50.5)
    # numpy.percentile(range(1, 101), [50, 95, 99]) with its default linear interpolation
    assert (run.p50, run.p95, run.p99) == pytest.approx((50.5, 95.05, 99.01))
    assert stats.wait.count == 0
    assert stats.wait.avg is None


def test_one_value_is_every_statistic() -> None:
    store = _Durations(run=[4.0], wait=[2.0])
    stats = JobQuery(store, build_filter(batch="b", now=NOW)).stats()  # type: ignore[arg-type]
    assert stats.run.as_dict() == {"count": 1, "min": 4.0, "avg": 4.0, "max": 4.0, "p50": 4.0,
                                   "p95": 4.0, "p99": 4.0}


# ---- the load series -------------------------------------------------------------------------


def test_the_load_series_shows_queued_and_running_jobs_over_time(trail: Any) -> None:
    # Given an hour boundary H and two jobs: one queued then run, one still queued
    h = (NOW // HOUR + 1) * HOUR
    trail.ingest([
        {"job_id": "a", "type": "queued", "at": h + 30},
        {"job_id": "a", "type": "started", "at": h + 150},
        {"job_id": "a", "type": "succeeded", "at": h + 400},
        {"job_id": "b", "type": "queued", "at": h + 200},
    ])
    # When the series is read per minute over the first ten minutes
    series = load_series(trail.store, h, h + 600, step=60)
    # Expect at the end of each minute: how many were queued and how many running
    assert series == [
        (h, 1, 0), (h + 60, 1, 0), (h + 120, 0, 1), (h + 180, 1, 1), (h + 240, 1, 1),
        (h + 300, 1, 1), (h + 360, 1, 0), (h + 420, 1, 0), (h + 480, 1, 0), (h + 540, 1, 0),
    ]
    # and per hour, the level carried across hours from before the window
    assert load_series(trail.store, h + 2 * HOUR, h + 4 * HOUR) == [
        (h + 2 * HOUR, 1, 0), (h + 3 * HOUR, 1, 0),
    ]


def test_a_load_series_of_several_hours_buckets_by_the_step_from_any_start(trail: Any) -> None:
    # Given a UTC midnight D, job a queued at 00:10 and still queued, and job b queued at 01:10,
    # started at 03:10 and done at 05:10
    d = NOW // DAY * DAY
    trail.ingest([
        {"job_id": "a", "type": "queued", "at": d + 600},
        {"job_id": "b", "type": "queued", "at": d + HOUR + 600},
        {"job_id": "b", "type": "started", "at": d + 3 * HOUR + 600},
        {"job_id": "b", "type": "succeeded", "at": d + 5 * HOUR + 600},
    ])
    # When the series is read in 2-hour and 1-day steps from 01:00, off both steps
    two_hours = load_series(trail.store, d + HOUR, d + 7 * HOUR, step=2 * HOUR)
    days = load_series(trail.store, d + HOUR, d + 2 * DAY, step=DAY)
    # Expect buckets at multiples of the step holding the levels at their ends, each delta once
    assert two_hours == [
        (d, 2, 0), (d + 2 * HOUR, 1, 1), (d + 4 * HOUR, 1, 0), (d + 6 * HOUR, 1, 0),
    ]
    assert days == [(d, 1, 0), (d + DAY, 1, 0)]


@pytest.mark.parametrize("step", [0, 59, 70, 5400])
def test_a_load_step_that_does_not_divide_an_hour_is_refused(step: int) -> None:
    with pytest.raises(InvalidInput, match="step must divide an hour"):
        load_series(None, NOW, NOW + HOUR, step=step)  # type: ignore[arg-type]
