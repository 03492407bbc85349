"""`jobtrail export grafana`: a dashboard model whose every query is valid PromQL (checked by the
real promtool) over metrics that `/metrics` really serves."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "metrics"))
from metrics_support import history, parse, promtool

from jobtrail.metrics import JobCollector, render

PANELS = ["Job Execution Status Overview", "Job Success Rate (%)", "Job Queue Sizes",
          "Job Execution Rate by Job", "Job Duration (P95) by Job", "Time Since Last Successful Run",
          "Items Processed Rate by Job", "Job Failure Rate by Job", "Job Execution Heatmap",
          "Job Execution Details"]
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "6h",
                     "$job_name": ".*", "$queue": ".*"}
NOT_METRICS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
               "group_left", "group_right", "inf", "nan"}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The dashboard as the installed command writes it to stdout."""
    command = str(Path(sys.executable).with_name("jobtrail"))
    done = subprocess.run([command, "export", "grafana"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    model: dict[str, Any] = json.loads(done.stdout)
    return model


def expressions(model: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in model["panels"] for t in p["targets"]]


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects: identifiers left once strings, label
    selectors, ranges, grouping clauses and function calls are set aside."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\$\w+", "", e)
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    found = set(re.findall(r"\b([A-Za-z_:][A-Za-z0-9_:]*)\b(?!\s*\()", e))
    return {n for n in found if n.lower() not in NOT_METRICS}


def test_the_dashboard_has_its_uid_and_the_ten_panels(exported: dict[str, Any]) -> None:
    assert exported["uid"] == "jobtrail-jobs"
    assert [p["title"] for p in exported["panels"]] == PANELS
    assert len({p["id"] for p in exported["panels"]}) == 10
    for panel in exported["panels"]:
        assert panel["targets"] and all(t["expr"] and t["refId"] for t in panel["targets"])
        assert panel["datasource"]["type"] == "prometheus"
    kinds = {p["title"]: p["type"] for p in exported["panels"]}
    assert (kinds["Job Success Rate (%)"], kinds["Job Execution Heatmap"],
            kinds["Job Failure Rate by Job"], kinds["Job Execution Details"]) == (
        "gauge", "heatmap", "bargauge", "table")
    assert {v["name"] for v in exported["templating"]["list"]} == {"datasource", "job_name", "queue"}


def test_every_query_selects_only_metrics_that_metrics_serves(
    exported: dict[str, Any], sqlite_url: str
) -> None:
    from jobtrail import Trail

    trail = Trail(sqlite_url)
    try:
        trail.ingest(history(time.time()))
        trail.declare_periodic("reports.send", every="1h")
        trail.flush()
        served = {name for name, _ in parse(render(JobCollector(trail.store)).decode())}
    finally:
        trail.close()
    used = set().union(*(metric_names(e) for e in expressions(exported)))
    assert used, "no metric names found in the queries"
    assert used <= served, f"queries use metrics /metrics does not serve: {used - served}"
    assert {"job_execution_total", "job_execution_duration_seconds_bucket", "job_queue_size",
            "job_last_success_timestamp_seconds", "job_items_processed_total"} <= used


def test_the_name_parser_finds_names_and_skips_functions_labels_and_clauses() -> None:
    expr = ('histogram_quantile(0.95, sum by (job_name, le) (rate(a_bucket{job_name=~"$job_name", '
            'x="b_metric"}[$__rate_interval]))) / on (queue) group_left c_total and time() - d')
    assert metric_names(expr) == {"a_bucket", "c_total", "d"}


def test_promtool_parses_every_query(exported: dict[str, Any], tmp_path: Path) -> None:
    rules = []
    for i, expr in enumerate(expressions(exported)):
        for variable, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, value)
        rules.append({"record": f"grafana_query_{i}", "expr": expr})
    path = tmp_path / "queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "grafana", "rules": rules}]}))
    checked = promtool("check", "rules", str(path))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(rules)} rules found" in checked.stdout


def test_output_goes_to_a_file_when_asked(tmp_path: Path) -> None:
    command = str(Path(sys.executable).with_name("jobtrail"))
    target = tmp_path / "dashboard.json"
    done = subprocess.run([command, "export", "grafana", "--output", str(target)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout == ""
    assert json.loads(target.read_text())["uid"] == "jobtrail-jobs"
    bad = subprocess.run([command, "export", "grafana", "--output", str(tmp_path / "no" / "x.json")],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "cannot write" in bad.stderr and "Traceback" not in bad.stderr
