"""`jobtrail health` over a database URL: the checks as a table or JSON, exit 0/1/2."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from typer.testing import Result

from jobtrail import Trail
from jobtrail.store import open_store
from jobtrail.store.sql.migrate import downgrade

Invoke = Callable[..., Result]

SMALL_QUEUES = {"JOBTRAIL_QUEUE_DEGRADED": "1", "JOBTRAIL_QUEUE_UNHEALTHY": "2"}


def enqueue(url: str, n: int) -> None:
    with Trail(url) as trail:
        trail.ingest([{"job_id": f"j{i}", "type": "queued", "at": time.time(), "name": "send",
                       "queue": "mail"} for i in range(n)])


def test_health_exits_0_1_2_as_the_database_goes_from_healthy_to_unhealthy(
        invoke: Invoke, sqlite_url: str) -> None:
    enqueue(sqlite_url, 0)
    codes = []
    for n in (0, 1, 2):
        enqueue(sqlite_url, n)
        codes.append(invoke(sqlite_url, "health", env=SMALL_QUEUES).exit_code)
    assert codes == [0, 1, 2]


def test_health_prints_each_check_with_its_level_and_reason(invoke: Invoke, sqlite_url: str) -> None:
    enqueue(sqlite_url, 1)
    result = invoke(sqlite_url, "health", env=SMALL_QUEUES)
    assert result.exit_code == 1, result.output
    assert "jobtrail health: degraded" in result.stdout
    for name in ("store", "queues", "stalled", "workers", "periodic"):
        assert name in result.stdout
    assert "queue 'mail' holds 1 job waiting (degraded from 1)" in result.stdout


def test_health_json_is_the_report_in_the_apis_shape(invoke: Invoke, sqlite_url: str) -> None:
    enqueue(sqlite_url, 2)
    result = invoke(sqlite_url, "health", "--json", env=SMALL_QUEUES)
    report = json.loads(result.stdout)
    assert result.exit_code == 2
    assert report["level"] == report["status"] == "unhealthy"
    assert [c["name"] for c in report["checks"]] == ["store", "queues", "stalled", "workers",
                                                     "periodic"]
    assert json.loads(invoke(sqlite_url, "--json", "health", env=SMALL_QUEUES).stdout)["level"] \
        == "unhealthy"


def test_health_marks_stalled_jobs_lost_when_it_runs(invoke: Invoke, sqlite_url: str) -> None:
    with Trail(sqlite_url) as trail:
        trail.ingest([{"job_id": "s", "type": "started", "at": time.time() - 120, "name": "n"}])
    result = invoke(sqlite_url, "health", env={"JOBTRAIL_STALL_TIMEOUT": "60s"})
    assert result.exit_code == 1, result.output
    assert "marked lost ('n')" in result.stdout
    with Trail(sqlite_url) as trail:
        assert trail.get("s").state == "lost"


def test_health_does_not_migrate_a_database_it_checks(invoke: Invoke, sqlite_url: str) -> None:
    enqueue(sqlite_url, 0)
    store = open_store(sqlite_url)
    downgrade(store.engine, "-1")  # type: ignore[attr-defined]
    store.close()
    result = invoke(sqlite_url, "health")
    assert result.exit_code == 2, result.output
    assert "jobtrail db upgrade" in result.stdout
    result = invoke(sqlite_url, "health")  # still behind: the check only looked
    assert result.exit_code == 2


def test_health_of_a_database_that_cannot_be_opened_is_unhealthy(invoke: Invoke) -> None:
    result = invoke("sqlite:////nonexistent-dir/x/jobs.db", "health", "--json")
    assert result.exit_code == 2, result.output
    report = json.loads(result.stdout)
    assert report["checks"][0]["level"] == "unhealthy"
    assert report["checks"][0]["name"] == "store"
