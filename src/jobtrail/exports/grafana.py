"""A Grafana dashboard over jobtrail's metrics: the ten panels of the background-jobs dashboard
this project's users already know, on our metric names, filterable by job name and queue."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["DASHBOARD_UID", "dashboard", "to_json"]

DASHBOARD_UID = "jobtrail-jobs"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
SEL = 'job_name=~"$job_name", queue=~"$queue"'
ENDED = f'{SEL}, status=~"success|failed|killed"'


def _quantile(q: float, window: str = "$__rate_interval") -> str:
    return (f"histogram_quantile({q}, sum by (job_name, le) "
            f"(rate(job_execution_duration_seconds_bucket{{{SEL}}}[{window}])))")


def _target(expr: str, legend: str = "", ref: str = "A", **extra: Any) -> dict[str, Any]:
    return {"datasource": DATASOURCE, "expr": expr, "legendFormat": legend, "refId": ref, **extra}


def _steps(*steps: tuple[str, float | None]) -> dict[str, Any]:
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for c, v in steps]}


def _panel(pid: int, kind: str, title: str, description: str, grid: tuple[int, int, int, int],
           targets: list[dict[str, Any]], unit: str = "short",
           thresholds: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    x, y, w, h = grid
    defaults: dict[str, Any] = {"unit": unit}
    if thresholds is not None:
        defaults["thresholds"] = thresholds
        defaults["color"] = {"mode": "thresholds"}
    return {"id": pid, "type": kind, "title": title, "description": description,
            "datasource": DATASOURCE, "gridPos": {"x": x, "y": y, "w": w, "h": h},
            "targets": targets, "fieldConfig": {"defaults": defaults, "overrides": []}, **extra}


def _panels() -> list[dict[str, Any]]:
    per_min = "sum(rate(job_execution_total{{{sel}}}[$__rate_interval])) * 60"
    since_success = ("(time() - max by (job_name) "
                     '(job_last_success_timestamp_seconds{job_name=~"$job_name"})) / 60')
    return [
        _panel(1, "stat", "Job Execution Status Overview",
               "Successes and failures per minute across the selected jobs.", (0, 0, 8, 5),
               [_target(per_min.format(sel=f'{SEL}, status="success"'), "success/min", "A"),
                _target(per_min.format(sel=f'{SEL}, status="failed"'), "failed/min", "B")],
               "short", _steps(("green", None), ("yellow", 0.1), ("red", 1))),
        _panel(2, "gauge", "Job Success Rate (%)",
               "Share of ended executions that succeeded over the time range.", (8, 0, 8, 5),
               [_target(f'100 * sum(increase(job_execution_total{{{SEL}, status="success"}}[$__range]))'
                        f" / sum(increase(job_execution_total{{{ENDED}}}[$__range]))", "success %")],
               "percent", _steps(("red", None), ("yellow", 50), ("green", 90)),
               options={"reduceOptions": {"calcs": ["lastNotNull"]}, "minVizValue": 0, "maxVizValue": 100}),
        _panel(3, "timeseries", "Job Queue Sizes", "Jobs queued now per job name and queue. "
               "Warning above 100 and growing, critical above 1,000.", (16, 0, 8, 5),
               [_target(f"sum by (job_name, queue) (job_queue_size{{{SEL}}})", "{{job_name}} ({{queue}})")],
               "short", _steps(("green", None), ("yellow", 100), ("red", 1000))),
        _panel(4, "timeseries", "Job Execution Rate by Job",
               "Successful and failed executions per minute, per job name.", (0, 5, 12, 8),
               [_target(f'sum by (job_name, status) (rate(job_execution_total{{{SEL}, '
                        f'status=~"success|failed"}}[$__rate_interval])) * 60',
                        "{{job_name}} {{status}}")],
               "short", options={"legend": {"displayMode": "table", "calcs": ["lastNotNull", "mean"]}}),
        _panel(5, "timeseries", "Job Duration (P95) by Job",
               "95th and 50th percentile run time per job name. Warning above 300 s, critical "
               "above 600 s.", (12, 5, 12, 8),
               [_target(_quantile(0.95), "p95 {{job_name}}", "A"),
                _target(_quantile(0.5), "p50 {{job_name}}", "B")],
               "s", _steps(("green", None), ("yellow", 300), ("red", 600))),
        _panel(6, "stat", "Time Since Last Successful Run",
               "Minutes since each job name last succeeded. Periodic jobs are judged by their own "
               "schedule in the JobPeriodicLate/Down alerts.", (0, 13, 12, 6),
               [_target(since_success, "{{job_name}}")],
               "m", _steps(("green", None), ("yellow", 120), ("red", 360))),
        _panel(7, "timeseries", "Items Processed Rate by Job",
               "Items per second finished jobs reported, by outcome.", (12, 13, 12, 6),
               [_target('sum by (job_name, status) (rate(job_items_processed_total{job_name=~"$job_name"}'
                        "[$__rate_interval]))", "{{job_name}} {{status}}")],
               "short", options={"legend": {"displayMode": "table",
                                            "calcs": ["lastNotNull", "mean", "sum"]}}),
        _panel(8, "bargauge", "Job Failure Rate by Job",
               "Share of ended executions that failed over the time range, per job name.",
               (0, 19, 12, 8),
               [_target(f'100 * sum by (job_name) (increase(job_execution_total{{{SEL}, status="failed"}}'
                        "[$__range])) / sum by (job_name) "
                        f"(increase(job_execution_total{{{ENDED}}}[$__range]))",
                        "{{job_name}}")],
               "percent", _steps(("green", None), ("yellow", 5), ("red", 20)),
               options={"displayMode": "gradient", "orientation": "horizontal"}),
        _panel(9, "heatmap", "Job Execution Heatmap", "How run times are distributed over time.",
               (12, 19, 12, 8),
               [_target("sum by (le) "
                        f"(increase(job_execution_duration_seconds_bucket{{{SEL}}}[$__interval]))",
                        "{{le}}", format="heatmap")],
               "s", options={"calculate": False, "color": {"scheme": "Spectral", "mode": "scheme"},
                             "yAxis": {"unit": "s"}}),
        _panel(10, "table", "Job Execution Details",
               "Per job name: successes and failures per minute, p95 run time, minutes since the "
               "last success.", (0, 27, 24, 8),
               [_target(f'sum by (job_name) (rate(job_execution_total{{{SEL}, status="success"}}[5m])) * 60',
                        "", "A", instant=True, format="table"),
                _target(f'sum by (job_name) (rate(job_execution_total{{{SEL}, status="failed"}}[5m])) * 60',
                        "", "B", instant=True, format="table"),
                _target(_quantile(0.95, "1h"), "", "C", instant=True,
                        format="table"),
                _target(since_success, "", "D", instant=True, format="table")],
               "short", _steps(("green", None), ("red", 1)),
               transformations=[
                   {"id": "merge", "options": {}},
                   {"id": "organize", "options": {
                       "excludeByName": {"Time": True},
                       "renameByName": {"job_name": "Job Name", "Value #A": "Success/min",
                                        "Value #B": "Failures/min", "Value #C": "P95 Duration (s)",
                                        "Value #D": "Time Since Success (min)"}}}]),
    ]


def _variable(name: str, label: str, query: str) -> dict[str, Any]:
    return {"name": name, "label": label, "type": "query", "datasource": DATASOURCE,
            "query": {"query": query, "refId": name}, "definition": query, "refresh": 2,
            "includeAll": True, "multi": True, "allValue": ".*", "sort": 1,
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]}}


def dashboard() -> dict[str, Any]:
    """The dashboard model, for Grafana's import or a provisioning folder."""
    return {
        "uid": DASHBOARD_UID,
        "title": "jobtrail: background jobs",
        "description": "Job executions, durations, queues, staleness and items from jobtrail's /metrics.",
        "tags": ["jobtrail", "jobs"],
        "timezone": "utc",
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": [
            {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
             "current": {}, "hide": 0},
            _variable("job_name", "Job", "label_values(job_execution_total, job_name)"),
            _variable("queue", "Queue", 'label_values(job_execution_total{job_name=~"$job_name"}, queue)'),
        ]},
        "annotations": {"list": []},
        "panels": _panels(),
    }


def to_json() -> str:
    return json.dumps(dashboard(), indent=2, ensure_ascii=False) + "\n"
