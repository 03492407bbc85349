"""Periodic jobs are judged by their own schedule: late after interval + grace, down one interval on."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jobtrail import periodic
from jobtrail.errors import InvalidInput

H = 3600.0
T0 = datetime(2026, 11, 23, 0, 0, tzinfo=UTC).timestamp()


def test_a_six_hourly_job_is_late_only_after_six_hours_plus_grace_then_down() -> None:
    spec = periodic.spec("etl", every="6h", grace="30m", at=T0) | {"declared_at": T0}
    last = T0 + H
    assert periodic.status(spec, last, now=last + 2 * H).state == "ok"  # a 2h rule would fire here
    assert periodic.status(spec, last, now=last + 6.4 * H).state == "ok"
    late = periodic.status(spec, last, now=last + 6.6 * H)
    assert (late.state, late.level, late.due_at, late.late_at) == ("late", "degraded", last + 6 * H,
                                                                     last + 6.5 * H)
    assert "late" in late.reason and "6h 00m" in late.reason
    down = periodic.status(spec, last, now=last + 12.6 * H)
    assert (down.state, down.level, down.down_at) == ("down", "unhealthy", last + 12.5 * H)


def test_before_its_first_success_the_declaration_time_stands_in() -> None:
    spec = periodic.spec("etl", every="1h", at=T0) | {"declared_at": T0}
    assert spec["grace"] == 360.0  # a tenth of the interval
    assert periodic.status(spec, None, now=T0 + 0.5 * H).state == "never"
    assert periodic.status(spec, None, now=T0 + 1.2 * H).state == "late"


def test_a_cron_job_is_due_at_its_next_fire_after_the_last_success() -> None:
    spec = periodic.spec("nightly", cron="0 3 * * *", grace="1h", at=T0) | {"declared_at": T0}
    last = T0 + 3 * H + 60  # ran at 03:01 on the 23rd
    st = periodic.status(spec, last, now=T0 + 20 * H)
    assert (st.state, st.due_at, st.late_at) == ("ok", T0 + 27 * H, T0 + 28 * H)
    assert periodic.status(spec, last, now=T0 + 28.5 * H).state == "late"
    assert periodic.status(spec, last, now=T0 + 52.5 * H).state == "down"  # missed two nights


def test_an_explicit_down_after_counts_from_the_due_time() -> None:
    spec = periodic.spec("etl", every="1h", grace="5m", down_after="20m", at=T0) | {"declared_at": T0}
    assert periodic.status(spec, T0, now=T0 + H + 15 * 60).state == "late"
    assert periodic.status(spec, T0, now=T0 + H + 21 * 60).state == "down"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({}, "exactly one of"),
    ({"every": "1h", "cron": "* * * * *"}, "exactly one of"),
    ({"every": "0s"}, "must be positive"),
    ({"every": "soon"}, "not a duration"),
    ({"cron": "61 * * * *"}, "bad cron expression"),
    ({"cron": ",".join(map(str, range(60))) + " " + ",".join(map(str, range(24))) + " * * *"},
     "at most 200 characters"),
    ({"every": "1h", "grace": "-5m"}, "not a duration"),
])
def test_a_bad_schedule_is_refused_with_a_reason(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        periodic.spec("x", **kwargs)


@pytest.mark.parametrize(("name", "message"), [
    ("x" * 201, "the limit is 200"),
    ("nul\x00name", "NUL"),
    ("lone\ud800", "lone surrogate"),
])
def test_a_name_no_job_could_have_is_refused_before_the_store_sees_it(name: str, message: str
                                                                      ) -> None:
    # Given a name the store cannot keep (PostgreSQL refused it: a 503 the client retried forever,
    # holding back every declaration sent with it) / When it is declared / Expect a reason
    with pytest.raises(InvalidInput, match=message):
        periodic.spec(name, every="1h")
