"""The report's shape and levels, and the thresholds read from the environment."""

from __future__ import annotations

import pytest

from jobtrail.errors import ConfigError
from jobtrail.health import Check, HealthReport, HealthSettings, worst


def report(*levels: str) -> HealthReport:
    return HealthReport(tuple(Check(f"c{i}", lvl, f"because {i}") for i, lvl in enumerate(levels)),
                        checked_at=1.0)


@pytest.mark.parametrize(("levels", "level", "code", "status"), [
    ((), "healthy", 0, 200),
    (("healthy", "healthy"), "healthy", 0, 200),
    (("healthy", "degraded", "healthy"), "degraded", 1, 200),
    (("degraded", "unhealthy", "healthy"), "unhealthy", 2, 503),
])
def test_the_report_is_as_bad_as_its_worst_check(levels: tuple[str, ...], level: str, code: int,
                                                 status: int) -> None:
    r = report(*levels)
    assert r.level == level == worst(levels)
    assert r.exit_code == code
    assert r.http_status == status


def test_the_report_round_trips_through_its_dict() -> None:
    r = HealthReport((Check("queues", "degraded", "queue 'mail' holds 1,200 jobs",
                            {"queues": [{"queue": "mail", "queued": 1200}]}),), checked_at=5.0)
    data = r.to_dict()
    assert data["level"] == data["status"] == "degraded"
    assert HealthReport.from_dict(data) == r


def test_a_check_with_an_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown health level"):
        Check("x", "fine", "?")


def test_thresholds_come_from_the_environment_with_durations_in_words() -> None:
    s = HealthSettings.from_env({"JOBTRAIL_STALL_TIMEOUT": "90s", "JOBTRAIL_QUEUE_DEGRADED": "50",
                                 "JOBTRAIL_WORKER_TIMEOUT": "2m", "JOBTRAIL_LOST_WINDOW": "1h30m"})
    assert (s.stall_timeout, s.queue_degraded, s.worker_timeout, s.lost_window) == (90, 50, 120, 5400)
    assert HealthSettings.from_env({}) == HealthSettings()


@pytest.mark.parametrize("env", [{"JOBTRAIL_QUEUE_DEGRADED": "many"},
                                 {"JOBTRAIL_STALL_TIMEOUT": "soon"},
                                 {"JOBTRAIL_QUEUE_UNHEALTHY": "-1"}])
def test_a_bad_threshold_is_a_config_error_naming_the_variable(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match=next(iter(env))):
        HealthSettings.from_env(env)
