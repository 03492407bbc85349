"""Rules from a YAML file: change the defaults' thresholds, `for` and severity, override them per
job name (queue, worker), switch rules off, or add rules of any kind.

    defaults: true                 # false: only the rules listed here (a default by its id)
    rules:
      failure_rate_warning:
        threshold: 10%
        for: 10m
        overrides:
          reports.nightly: {threshold: 50%}
          flaky.import: {enabled: false}
      run_time_short: {enabled: false}
      billing_failures:            # a new rule: `kind` is required
        kind: failure_rate
        severity: critical
        window: 1h
        threshold: 1%
        only: [billing.charge]

A mistake is a `ConfigError` naming the file, the line and the key, never a rule silently ignored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from jobtrail.alerts.defaults import DEFAULT_RULES, make_rule
from jobtrail.alerts.kinds import KINDS, Param
from jobtrail.alerts.model import SEVERITIES, Override, Rule
from jobtrail.durations import parse_duration
from jobtrail.errors import ConfigError, InvalidInput

__all__ = ["load_rules", "parse_rules"]

_RULE_KEYS = {"kind", "severity", "for", "enabled", "description", "only", "overrides"}
_OVERRIDE_KEYS = {"enabled", "for", "severity"}
_PER_RULE_ONLY = {"window", "baseline"}
"""Read once per rule for every subject, so they cannot differ per subject."""


class _Map(dict[str, Any]):
    """A YAML mapping that remembers the line of each key (1-based)."""

    line: int
    lines: dict[str, int]


class _Loader(yaml.SafeLoader):
    pass


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> _Map:
    out = _Map()
    out.line = node.start_mark.line + 1
    out.lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            raise _Error(key_node.start_mark.line + 1, f"keys must be text, not {key!r}")
        if key in out:
            raise _Error(key_node.start_mark.line + 1, f"duplicate key {key!r}")
        out[key] = loader.construct_object(value_node, deep=True)
        out.lines[key] = key_node.start_mark.line + 1
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)


class _Error(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def load_rules(path: str | Path) -> tuple[Rule, ...]:
    """The rules a YAML file describes (the defaults, changed as it says)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read alerts file {str(path)!r}: {exc.strerror}") from None
    return parse_rules(text, source=str(path))


def parse_rules(text: str, source: str = "<alerts>") -> tuple[Rule, ...]:
    try:
        doc = yaml.load(text, Loader=_Loader)  # a SafeLoader subclass
        return _document(doc)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f", line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"alerts file {source}{line}: invalid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"alerts file {source}: invalid YAML: {exc}") from None
    except _Error as exc:
        raise ConfigError(f"alerts file {source}, line {exc.line}: {exc.message}") from None


def _document(doc: Any) -> tuple[Rule, ...]:
    if doc is None:
        return DEFAULT_RULES
    if not isinstance(doc, _Map):
        raise _Error(1, "the file must be a mapping with `rules:` (and optionally `defaults:`)")
    for key in doc:
        if key not in ("defaults", "rules"):
            raise _Error(doc.lines[key], f"unknown key {key!r} (use defaults, rules)")
    keep_defaults = doc.get("defaults", True)
    if not isinstance(keep_defaults, bool):
        raise _Error(doc.lines["defaults"], "defaults: must be true or false")
    rules: dict[str, Rule] = {r.id: r for r in DEFAULT_RULES} if keep_defaults else {}
    entries = doc.get("rules")
    if entries is None:
        return tuple(rules.values())
    if not isinstance(entries, _Map):
        raise _Error(doc.lines.get("rules", doc.line), "rules: must be a mapping of rule id → settings")
    for rule_id, spec in entries.items():
        line = entries.lines[rule_id]
        if not rule_id.strip() or len(rule_id) > 100:
            raise _Error(line, f"rule id {rule_id[:40]!r}: must be 1 to 100 characters")
        if spec is None:
            spec = _Map()
            spec.line, spec.lines = line, {}
        if not isinstance(spec, _Map):
            raise _Error(line, f"rules.{rule_id}: must be a mapping of settings")
        base = rules.get(rule_id) or next((r for r in DEFAULT_RULES if r.id == rule_id), None)
        rules[rule_id] = _rule(rule_id, spec, base, line)
    return tuple(rules.values())


def _rule(rule_id: str, spec: _Map, base: Rule | None, line: int) -> Rule:
    where = f"rules.{rule_id}"
    if "kind" in spec:
        kind = spec["kind"]
        if kind not in KINDS:
            raise _Error(spec.lines["kind"], f"{where}.kind: unknown kind {kind!r} "
                         f"(one of {', '.join(sorted(KINDS))})")
        if base is not None and base.kind != kind:
            raise _Error(spec.lines["kind"], f"{where}.kind: the default rule {rule_id!r} is "
                         f"{base.kind!r}; give a new rule another id")
    elif base is None:
        known = ", ".join(r.id for r in DEFAULT_RULES)
        raise _Error(line, f"{where}: not a default rule ({known}); a new rule needs `kind:`")
    else:
        kind = base.kind
    params = KINDS[kind].params
    for key in spec:
        if key not in _RULE_KEYS and key not in params:
            raise _Error(spec.lines[key], f"{where}: unknown setting {key!r} (for kind {kind!r}: "
                         f"{', '.join(sorted(_RULE_KEYS | set(params)))})")
    rule = base or make_rule(rule_id, kind, "warning", 0.0, "")
    values = dict(rule.params)
    for key, param in params.items():
        if key in spec:
            values[key] = _value(spec[key], param, f"{where}.{key}", spec.lines[key])
    changes: dict[str, Any] = {"params": values}
    if "severity" in spec:
        changes["severity"] = _severity(spec["severity"], f"{where}.severity", spec.lines["severity"])
    if "for" in spec:
        changes["for_"] = _seconds(spec["for"], f"{where}.for", spec.lines["for"])
    if "enabled" in spec:
        changes["enabled"] = _bool(spec["enabled"], f"{where}.enabled", spec.lines["enabled"])
    if "description" in spec:
        changes["description"] = str(spec["description"])
    if "only" in spec:
        changes["only"] = _names(spec["only"], f"{where}.only", spec.lines["only"])
    if "overrides" in spec:
        changes["overrides"] = _overrides(spec["overrides"], kind, where, spec.lines["overrides"])
    return replace(rule, **changes)


def _overrides(value: Any, kind: str, where: str, line: int) -> Mapping[str, Override]:
    if not isinstance(value, _Map):
        raise _Error(line, f"{where}.overrides: must map a job name (queue, worker) to settings")
    params = {k: p for k, p in KINDS[kind].params.items() if k not in _PER_RULE_ONLY}
    out: dict[str, Override] = {}
    for subject, spec in value.items():
        at, here = value.lines[subject], f"{where}.overrides.{subject}"
        if not isinstance(spec, _Map):
            raise _Error(at, f"{here}: must be a mapping of settings")
        for key in spec:
            if key not in _OVERRIDE_KEYS and key not in params:
                raise _Error(spec.lines[key], f"{here}: unknown setting {key!r} (use "
                             f"{', '.join(sorted(_OVERRIDE_KEYS | set(params)))})")
        out[subject] = Override(
            enabled=_bool(spec["enabled"], f"{here}.enabled", spec.lines["enabled"])
            if "enabled" in spec else True,
            for_=_seconds(spec["for"], f"{here}.for", spec.lines["for"]) if "for" in spec else None,
            severity=_severity(spec["severity"], f"{here}.severity", spec.lines["severity"])
            if "severity" in spec else None,
            params={k: _value(spec[k], params[k], f"{here}.{k}", spec.lines[k])
                    for k in params if k in spec},
        )
    return out


def _value(raw: Any, param: Param, where: str, line: int) -> float:
    if param.unit == "seconds":
        return _seconds(raw, where, line)
    if param.unit == "fraction":
        number = _number(raw.strip()[:-1], where, line) / 100 if isinstance(raw, str) and \
            raw.strip().endswith("%") else _number(raw, where, line)
        if not 0 <= number <= 1:
            raise _Error(line, f"{where}: {raw!r} is not between 0 and 1 (or 0% and 100%)")
        return number
    number = _number(raw, where, line)
    if number < 0:
        raise _Error(line, f"{where}: must not be negative, got {raw!r}")
    return number


def _number(raw: Any, where: str, line: int) -> float:
    if isinstance(raw, bool):
        raise _Error(line, f"{where}: expected a number, got {raw!r}")
    try:
        number = float(raw)
    except (TypeError, ValueError):
        raise _Error(line, f"{where}: expected a number, got {raw!r}") from None
    if not math.isfinite(number):
        raise _Error(line, f"{where}: expected a finite number, got {raw!r}")
    return number


def _seconds(raw: Any, where: str, line: int) -> float:
    try:
        return parse_duration(raw)
    except (InvalidInput, TypeError) as exc:
        raise _Error(line, f"{where}: {exc}") from None


def _severity(raw: Any, where: str, line: int) -> str:
    if raw not in SEVERITIES:
        raise _Error(line, f"{where}: {raw!r} is not one of {', '.join(SEVERITIES)}")
    return str(raw)


def _bool(raw: Any, where: str, line: int) -> bool:
    if not isinstance(raw, bool):
        raise _Error(line, f"{where}: expected true or false, got {raw!r}")
    return raw


def _names(raw: Any, where: str, line: int) -> tuple[str, ...]:
    if isinstance(raw, str):
        return (raw,)
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise _Error(line, f"{where}: expected a list of names")
    return tuple(raw)
