"""The alert model as plain data: rules, what one evaluation finds, stored alerts and transitions.

A rule instance is keyed by (rule id, subject), the subject being the job name, queue or worker the
rule looked at ("" for a rule about the whole system). States move pending → firing → resolved, or
pending → inactive when the condition clears before the rule's `for` duration.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "NOTIFIED",
    "SEVERITIES",
    "STATES",
    "Alert",
    "Finding",
    "Override",
    "Rule",
    "Transition",
]

SEVERITIES = ("info", "warning", "critical")
STATES = ("pending", "firing", "resolved", "inactive")
NOTIFIED = ("firing", "resolved")
"""Transitions into these states are sent to the notifiers; pending and inactive only go to history."""


@dataclass(frozen=True, slots=True)
class Override:
    """Per-subject changes to a rule: other thresholds, `for`, severity, or switched off."""

    enabled: bool = True
    for_: float | None = None
    severity: str | None = None
    params: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule: a `kind` (what it measures, see `kinds.KINDS`), its thresholds and how long the
    condition must hold (`for_`, seconds) before it fires. `only` limits it to some subjects."""

    id: str
    kind: str
    severity: str
    for_: float
    params: Mapping[str, float]
    description: str = ""
    enabled: bool = True
    only: tuple[str, ...] = ()
    overrides: Mapping[str, Override] = field(default_factory=dict)

    def applies_to(self, subject: str) -> bool:
        if self.only and subject not in self.only:
            return False
        override = self.overrides.get(subject)
        return override is None or override.enabled

    def param(self, subject: str, key: str) -> float:
        override = self.overrides.get(subject)
        if override is not None and key in override.params:
            return override.params[key]
        return self.params[key]

    def for_of(self, subject: str) -> float:
        override = self.overrides.get(subject)
        return override.for_ if override is not None and override.for_ is not None else self.for_

    def severity_of(self, subject: str) -> str:
        override = self.overrides.get(subject)
        if override is not None and override.severity is not None:
            return override.severity
        return self.severity


@dataclass(frozen=True, slots=True)
class Finding:
    """The condition of a rule holds for `subject` now; `summary` says why in one line."""

    subject: str
    value: float
    summary: str


@dataclass(frozen=True, slots=True)
class Alert:
    """A pending or firing rule instance, as stored. `since` is when its condition began to hold;
    `updated_at` when its state, value, summary or severity last changed."""

    rule: str
    subject: str
    state: str
    severity: str
    value: float | None
    summary: str
    since: float
    fired_at: float | None
    updated_at: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "subject": self.subject,
            "state": self.state,
            "severity": self.severity,
            "value": self.value,
            "summary": self.summary,
            "since": self.since,
            "fired_at": self.fired_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True, slots=True)
class Transition:
    """One step in an alert's life, kept as history; `since` identifies the episode it belongs to."""

    id: int
    rule: str
    subject: str
    from_state: str
    to_state: str
    severity: str
    value: float | None
    summary: str
    since: float
    at: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "rule": self.rule,
            "subject": self.subject,
            "from": self.from_state,
            "to": self.to_state,
            "severity": self.severity,
            "value": self.value,
            "summary": self.summary,
            "since": self.since,
            "at": self.at,
        }
