"""Rules from YAML: change defaults, override per name, disable, add rules; a bad file's error names
the file, the line and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.support import Feed, T, only, steps
from jobtrail.alerts import DEFAULT_RULES, AlertSettings, Evaluator, load_rules, parse_rules
from jobtrail.errors import ConfigError
from jobtrail.store.base import Store

GOOD = """\
rules:
  failure_rate_warning:
    threshold: 10%
    for: 10m
    overrides:
      reports.nightly: {threshold: 50%, severity: critical}
      flaky.import: {enabled: false}
  run_time_p95_warning:
    overrides:
      reports.monthly: {threshold: 2h}
  run_time_short: {enabled: false}
  billing_failures:
    kind: failure_rate
    severity: critical
    window: 1h
    threshold: 0.01
    min_finished: 1
    only: [billing.charge]
"""


def by_id(text: str) -> dict[str, object]:
    return {r.id: r for r in parse_rules(text)}


def test_an_empty_file_means_the_defaults() -> None:
    assert parse_rules("") == DEFAULT_RULES
    assert parse_rules("rules: {}\n") == DEFAULT_RULES


def test_overrides_disabling_and_new_rules() -> None:
    rules = {r.id: r for r in parse_rules(GOOD)}
    assert set(rules) == {r.id for r in DEFAULT_RULES} | {"billing_failures"}
    warn = rules["failure_rate_warning"]
    assert warn.params["threshold"] == 0.1 and warn.for_ == 600
    assert warn.params["window"] == 600  # untouched settings keep the default
    assert warn.param("reports.nightly", "threshold") == 0.5
    assert warn.severity_of("reports.nightly") == "critical"
    assert warn.param("other.job", "threshold") == 0.1
    assert not warn.applies_to("flaky.import") and warn.applies_to("other.job")
    assert rules["run_time_p95_warning"].param("reports.monthly", "threshold") == 7200
    assert not rules["run_time_short"].enabled
    billing = rules["billing_failures"]
    assert (billing.kind, billing.severity, billing.for_) == ("failure_rate", "critical", 0)
    assert billing.params["window"] == 3600 and billing.only == ("billing.charge",)


def test_defaults_false_keeps_only_the_listed_rules() -> None:
    rules = parse_rules("defaults: false\nrules:\n  stalled_jobs: {}\n")
    assert [r.id for r in rules] == ["stalled_jobs"]


def test_a_per_name_override_changes_what_fires(store: Store, feed: Feed) -> None:
    feed.runs("reports.nightly", [T - 250 + 10 * i for i in range(12)], ok=False)
    feed.runs("reports.daily", [T - 250 + 10 * i for i in range(12)], ok=False)
    rules = parse_rules("defaults: false\nrules:\n  failure_rate_critical:\n    overrides:\n"
                        "      reports.nightly: {enabled: false}\n")
    fired = Evaluator(rules, notifiers=()).evaluate(store, T)
    assert steps(fired) == [("reports.daily", "inactive", "firing")]
    assert only("failure_rate_critical").findings(store, T)["failure_rate_critical"][0].subject \
        == "reports.daily"


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("rules:\n  failure_rate_warning:\n    threshold: lots\n", 3,
         "rules.failure_rate_warning.threshold: expected a number, got 'lots'"),
        ("rules:\n  failure_rate_warning:\n    threshold: 150%\n", 3, "not between 0 and 1"),
        ("rules:\n  failure_rate_warning:\n    for: soon\n", 3, "rules.failure_rate_warning.for"),
        ("rules:\n  failure_rate_warning:\n    severity: page\n", 3, "not one of info, warning"),
        ("rules:\n  failure_rate_warning:\n    treshold: 0.1\n", 3, "unknown setting 'treshold'"),
        ("rules:\n  my_rule:\n    threshold: 0.1\n", 2, "a new rule needs `kind:`"),
        ("rules:\n  my_rule:\n    kind: magic\n", 3, "unknown kind 'magic'"),
        ("rules:\n  x: {kind: failure_rate}\n  y:\n    kind: failure_rate\n    overrides:\n"
         "      a.b: {window: 1h}\n", 6, "unknown setting 'window'"),
        ("rules:\n  failure_rate_warning:\n    enabled: maybe\n", 3, "expected true or false"),
        ("rules:\n  a: 1\n  a: 2\n", 3, "duplicate key 'a'"),
        ("rules:\n  failure_rate_warning:\n    threshold: [0.1\n", 4, "invalid YAML"),
        ("colour: blue\n", 1, "unknown key 'colour'"),
        ("rules:\n  " + "r" * 101 + ": {kind: stalled_jobs}\n", 2, "must be 1 to 100 characters"),
        ("- just\n- a list\n", 1, "must be a mapping"),
    ],
)
def test_a_bad_file_names_its_line_and_key(tmp_path: Path, text: str, line: int, words: str) -> None:
    path = tmp_path / "alerts.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_rules(path)
    message = str(caught.value)
    assert message.startswith(f"alerts file {path}, line {line}: "), message
    assert words in message


def test_settings_read_the_file_and_webhook_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "alerts.yml"
    path.write_text(GOOD)
    settings = AlertSettings.from_env({
        "JOBTRAIL_ALERTS_FILE": str(path), "JOBTRAIL_ALERTS_INTERVAL": "1m",
        "JOBTRAIL_ALERT_WEBHOOK": "https://hooks.example/x", "JOBTRAIL_ALERT_WEBHOOK_FORMAT": "slack",
    })
    assert settings.enabled and settings.interval == 60
    assert "billing_failures" in {r.id for r in settings.rules}
    assert [n.channel for n in settings.notifiers()] == ["log", "webhook"]
    assert settings.keep == 90 * 86400
    assert AlertSettings.from_env({"JOBTRAIL_ALERTS_KEEP": "forever"}).keep is None
    assert not AlertSettings.from_env({"JOBTRAIL_ALERTS": "off"}).enabled
    with pytest.raises(ConfigError, match="JOBTRAIL_ALERT_WEBHOOK_FORMAT"):
        AlertSettings.from_env({"JOBTRAIL_ALERT_WEBHOOK_FORMAT": "teams"})
    with pytest.raises(ConfigError, match="cannot read alerts file"):
        AlertSettings.from_env({"JOBTRAIL_ALERTS_FILE": str(tmp_path / "missing.yml")})
