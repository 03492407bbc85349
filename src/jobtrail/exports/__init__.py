"""Prometheus alerting rules and a Grafana dashboard over jobtrail's `/metrics` (SPEC §4, §7)."""

from jobtrail.exports.grafana import DASHBOARD_UID, dashboard, to_json
from jobtrail.exports.prometheus_rules import rule_groups, to_yaml

__all__ = ["DASHBOARD_UID", "dashboard", "rule_groups", "to_json", "to_yaml"]
