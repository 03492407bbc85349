"""`jobtrail export prometheus-rules`, checked and unit-tested by the real promtool: every exported
alert fires on the series that should fire it, stays quiet on the ones that should not (low
volume, other jobs), and resolves when the cause goes away."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "metrics"))
from metrics_support import promtool

STATUSES = ("success", "failed", "killed", "cancelled")


def executions(job: str, queue: str, **per_status: str) -> list[dict[str, str]]:
    """Every status of one series, as `/metrics` serves them (zeros included)."""
    return [{"series": f'job_execution_total{{job_name="{job}",queue="{queue}",status="{s}"}}',
             "values": per_status.get(s, "0x120")} for s in STATUSES]


def histogram(job: str, queue: str, per_bucket: dict[str, str]) -> list[dict[str, str]]:
    return [{"series": f'job_execution_duration_seconds_bucket{{job_name="{job}",le="{le}",queue="{queue}"}}',
             "values": values} for le, values in per_bucket.items()]


def gauge(name: str, values: str, **labels: str) -> dict[str, str]:
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return {"series": f"{name}{{{inner}}}", "values": values}


# (input series, [(minutes, alert, [label sets expected to fire then])]): each case isolates one
# cause; an empty list means the alert must not be firing at that time.
CASES: list[tuple[list[dict[str, str]], list[tuple[int, str, list[dict[str, str]]]]]] = [
    (  # failure rates: "a" fails 1 in 11 (warning), "c" 3 in 5 (critical), "b" once (too few)
        executions("a", "q", success="0+10x120", failed="0+1x40 40x80")
        + executions("c", "q", success="0+2x120", failed="0+3x40 120x80")
        + executions("b", "q", failed="0x5 1x115"),
        [(3, "JobFailureRateHigh", []),
         (12, "JobFailureRateHigh", [{"job_name": "a", "queue": "q"}, {"job_name": "c", "queue": "q"}]),
         (12, "JobFailureRateCritical", [{"job_name": "c", "queue": "q"}]),
         (60, "JobFailureRateHigh", []),
         (60, "JobFailureRateCritical", [])],
    ),
    (  # periodic deadlines (Unix seconds; the test clock starts at 0)
        [gauge("job_periodic_late_timestamp_seconds", "600x20 4000x100", job_name="nightly"),
         gauge("job_periodic_down_timestamp_seconds", "1800x20 7000x100", job_name="nightly"),
         gauge("job_periodic_late_timestamp_seconds", "300x35 9000x85", job_name="hourly"),
         gauge("job_periodic_down_timestamp_seconds", "800x35 12000x85", job_name="hourly")],
        [(4, "JobPeriodicLate", []),
         (15, "JobPeriodicLate", [{"job_name": "nightly"}, {"job_name": "hourly"}]),
         (15, "JobPeriodicDown", [{"job_name": "hourly"}]),
         (25, "JobPeriodicLate", [{"job_name": "hourly"}]),
         (40, "JobPeriodicLate", []),
         (40, "JobPeriodicDown", [])],
    ),
    (  # p95 run time: "slow" runs ~450 s, "slower" ~900 s, "fast" 0.5 s; all fast after 40 min
        histogram("slow", "q", {"1.0": "0x40 40+1x80", "300.0": "0x40 40+1x80",
                                "600.0": "0+1x120", "1200.0": "0+1x120", "+Inf": "0+1x120"})
        + histogram("slower", "q", {"1.0": "0x40 40+1x80", "300.0": "0x40 40+1x80",
                                    "600.0": "0x40 40+1x80", "1200.0": "0+1x120", "+Inf": "0+1x120"})
        + histogram("fast", "q", {"1.0": "0+1x120", "300.0": "0+1x120", "600.0": "0+1x120",
                                  "1200.0": "0+1x120", "+Inf": "0+1x120"}),
        [(10, "JobDurationP95High", []),
         (30, "JobDurationP95High", [{"job_name": "slow", "queue": "q"},
                                     {"job_name": "slower", "queue": "q"}]),
         (30, "JobDurationP95Critical", [{"job_name": "slower", "queue": "q"}]),
         (115, "JobDurationP95High", []),
         (115, "JobDurationP95Critical", [])],
    ),
    (  # queues: "big" above 1,000, "grow" growing past 100, "steady" at 500 but not growing
        [gauge("job_queue_size", "1500x20 10x100", job_name="big", queue="q"),
         gauge("job_queue_size", "100+10x40 500x80", job_name="grow", queue="q"),
         gauge("job_queue_size", "500x120", job_name="steady", queue="q"),
         gauge("job_oldest_queued_age_seconds", "3000+60x30 0x90", job_name="stuck", queue="q")],
        [(10, "JobQueueSizeCritical", [{"job_name": "big", "queue": "q"}]),
         (30, "JobQueueSizeCritical", []),
         (10, "JobQueueGrowing", []),
         (30, "JobQueueGrowing", [{"job_name": "grow", "queue": "q"}]),
         (60, "JobQueueGrowing", []),
         (20, "JobWaitingTooLong", [{"job_name": "stuck", "queue": "q"}]),
         (40, "JobWaitingTooLong", [])],
    ),
    (  # items: "items" fails 3 in 11 for 30 min; "few" failed a single item
        [gauge("job_items_processed_total", "0+8x120", job_name="items", status="success"),
         gauge("job_items_processed_total", "0+3x30 90x90", job_name="items", status="failed"),
         gauge("job_items_processed_total", "0x120", job_name="items", status="skipped"),
         gauge("job_items_processed_total", "0x120", job_name="few", status="success"),
         gauge("job_items_processed_total", "0 1x119", job_name="few", status="failed")],
        [(20, "JobItemFailureRateHigh", [{"job_name": "items"}]),
         (70, "JobItemFailureRateHigh", [])],
    ),
    (  # workers: q1 loses its only worker for 20 min; q2's workers idle while 10 jobs wait
        [gauge("job_worker_busy", "1x10 0x20 1x90", queue="q1"),
         gauge("job_worker_idle", "0x120", queue="q1"),
         gauge("job_queue_size", "5x120", job_name="x", queue="q1"),
         gauge("job_worker_busy", "0x120", queue="q2"),
         gauge("job_worker_idle", "2x120", queue="q2"),
         gauge("job_queue_size", "10x40 0x80", job_name="y", queue="q2")],
        [(10, "JobWorkersLost", []),
         (20, "JobWorkersLost", [{"queue": "q1"}]),
         (35, "JobWorkersLost", []),
         (20, "JobWorkersIdleWithBacklog", [{"queue": "q2"}]),
         (50, "JobWorkersIdleWithBacklog", [])],
    ),
    (  # stalled jobs marked lost; jobtrail's own health
        [gauge("job_lost_total", "0x10 1x110", job_name="s", queue="q"),
         gauge("jobtrail_health_status", "0x5 2x15 0x100")],
        [(5, "JobStalled", []),
         (12, "JobStalled", [{"job_name": "s", "queue": "q"}]),
         (30, "JobStalled", []),
         (15, "JobtrailUnhealthy", [{}]),
         (25, "JobtrailUnhealthy", [])],
    ),
]


@pytest.fixture(scope="module")
def rules_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The rules as the installed command writes them."""
    path = tmp_path_factory.mktemp("rules") / "jobtrail-rules.yml"
    command = str(Path(sys.executable).with_name("jobtrail"))
    done = subprocess.run([command, "export", "prometheus-rules", "--output", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return path


def alerts(rules_file: Path) -> dict[str, dict[str, Any]]:
    groups = yaml.safe_load(rules_file.read_text())["groups"]
    return {r["alert"]: r for g in groups for r in g["rules"]}


def expand(template: str, labels: dict[str, str]) -> str:
    return re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels.get(m.group(1), ""), template)


def test_promtool_accepts_the_exported_rules(rules_file: Path) -> None:
    checked = promtool("check", "rules", str(rules_file))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(alerts(rules_file))} rules found" in checked.stdout


def test_the_rules_cover_the_issues_default_alerts(rules_file: Path) -> None:
    rules = alerts(rules_file)
    assert {"JobFailureRateHigh", "JobFailureRateCritical", "JobPeriodicLate", "JobPeriodicDown",
            "JobDurationP95High", "JobDurationP95Critical", "JobQueueSizeCritical",
            "JobQueueGrowing", "JobItemFailureRateHigh", "JobWorkersLost", "JobStalled"} <= set(rules)
    assert {r["labels"]["severity"] for r in rules.values()} == {"warning", "critical"}
    # the failure ratio divides two sums over the same labels, never raw series of two statuses
    expr = rules["JobFailureRateHigh"]["expr"]
    assert expr.count("sum by (job_name, queue)") == 3 and "[10m]" in expr and "> 0.05" in expr
    assert "> 0.5" in rules["JobFailureRateCritical"]["expr"]


def test_every_exported_alert_fires_and_resolves_under_promtool(rules_file: Path, tmp_path: Path) -> None:
    rules = alerts(rules_file)
    tests = []
    covered = set()
    for series, checks in CASES:
        alert_tests = []
        for minute, name, firing in checks:
            rule = rules[name]
            if firing:
                covered.add(name)
            alert_tests.append({"eval_time": f"{minute}m", "alertname": name, "exp_alerts": [
                {"exp_labels": {**labels, **rule["labels"]},
                 "exp_annotations": {k: expand(v, labels) for k, v in rule["annotations"].items()}}
                for labels in firing]})
        tests.append({"interval": "1m", "input_series": series, "alert_rule_test": alert_tests})
    assert covered == set(rules), f"alerts without a firing test: {set(rules) - covered}"
    spec = tmp_path / "rules_test.yml"
    spec.write_text(yaml.safe_dump({"rule_files": [str(rules_file)], "evaluation_interval": "1m",
                                    "tests": tests}, sort_keys=False))
    result = promtool("test", "rules", str(spec))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
