"""Human durations and times: "7d" ⇄ seconds, seconds → "5d 18h", instants → "3m ago"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobtrail.durations import format_duration, format_relative, parse_duration, parse_instant
from jobtrail.errors import InvalidInput

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("7d", 7 * 86400),
        ("1h30m", 5400),
        ("1h 30m", 5400),
        ("2m 03s", 123),
        ("5d 18h", 5 * 86400 + 18 * 3600),
        ("90s", 90),
        ("500ms", 0.5),
        ("1m500ms", 60.5),
        ("2w", 14 * 86400),
        ("1.5h", 5400),
        ("15M", 900),
        ("  10m  ", 600),
        ("90", 90),
        ("0.25", 0.25),
        (3600, 3600),
        (1.5, 1.5),
        (0, 0),
    ],
)
def test_durations_parse_to_seconds(text: str | float, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text", ["", "soon", "7 days", "-5m", "1h-30m", "h", "1x", "5m ago", "inf", "nan", "-1",
             float("inf"), -3, True, 10**400, "9" * 400 + "d"],
)
def test_anything_else_is_not_a_duration(text: str | float) -> None:
    with pytest.raises(InvalidInput, match="not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.85, "850ms"),
        (0, "0ms"),
        (1.25, "1.2s"),
        (9.5, "9.5s"),
        (41, "41s"),
        (41.4, "41s"),
        (123, "2m 03s"),
        (123.6, "2m 04s"),
        (3600, "1h 00m"),
        (3 * 3600 + 5 * 60 + 40, "3h 05m"),
        (5 * 86400 + 18 * 3600, "5d 18h"),
        (86400, "1d 0h"),
        (-123, "-2m 03s"),
        (None, "–"),
        (float("nan"), "–"),
        (float("inf"), "–"),
    ],
)
def test_durations_format_as_their_two_most_significant_units(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(("seconds", "text"), [(0.9996, "1.0s"), (9.96, "10s"), (59.6, "1m 00s")])
def test_rounding_up_to_the_next_unit_shows_that_unit(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@given(st.floats(min_value=0.001, max_value=1e8))
def test_a_formatted_duration_reads_back_close_to_the_original(seconds: float) -> None:
    # The second unit bounds the error: 1 ms, 0.05 s, 0.5 s, 30 s (of "h mm") or 30 min (of "d h")
    text = format_duration(seconds)
    if seconds < 1:
        tolerance = 0.0005
    elif seconds < 10:
        tolerance = 0.05
    elif seconds < 3600:
        tolerance = 0.5
    elif seconds < 86400:
        tolerance = 60.5
    else:
        tolerance = 3600.5
    assert abs(parse_duration(text) - seconds) <= tolerance + 1e-9, text


def test_relative_times_say_ago_or_in() -> None:
    assert format_relative(NOW - 185, NOW) == "3m 05s ago"
    assert format_relative(NOW + 2 * 3600 + 600, NOW) == "in 2h 10m"
    assert format_relative(NOW - 0.4, NOW) == "just now"
    assert format_relative(None, NOW) == "–"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7d", NOW - 7 * 86400),
        ("1h30m", NOW - 5400),
        ("90s", NOW - 90),
        ("2023-11-14T22:13:20Z", 1_700_000_000.0),
        ("2023-11-14T23:13:20+01:00", 1_700_000_000.0),
        ("2023-11-14T22:13:20", 1_700_000_000.0),  # naive: UTC, the same on every host
        ("2023-11-14", 1_699_920_000.0),
        ("1699990000", 1_699_990_000.0),
        (1_699_990_000, 1_699_990_000.0),
        (datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC), 1_700_000_000.0),
        (datetime(2023, 11, 14, 22, 13, 20), 1_700_000_000.0),
        (datetime(2023, 11, 14, 23, 13, 20, tzinfo=timezone(timedelta(hours=1))), 1_700_000_000.0),
    ],
)
def test_instants_parse_from_spans_text_numbers_and_datetimes(value: object, expected: float) -> None:
    assert parse_instant(value, NOW) == pytest.approx(expected)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value", ["last week", "2023-13-01", "", True, "nan", "inf", float("nan"), 10**400,
              "1e19", -1e19, 10**12, "99999999999999d"],  # beyond what a database integer holds
)
def test_anything_else_is_not_a_time(value: object) -> None:
    with pytest.raises(InvalidInput, match="not a time"):
        parse_instant(value, NOW)  # type: ignore[arg-type]
