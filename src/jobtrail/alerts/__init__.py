"""Alert rules evaluated against the roll-ups, with state and history in the database and
notifications on transitions (log, webhook). See `defaults` for the built-in rules."""

from __future__ import annotations

from jobtrail.alerts.defaults import DEFAULT_RULES
from jobtrail.alerts.engine import Evaluator
from jobtrail.alerts.kinds import KINDS
from jobtrail.alerts.model import Alert, Finding, Override, Rule, Transition
from jobtrail.alerts.notify import LogNotifier, Notifier, WebhookNotifier
from jobtrail.alerts.rulefile import load_rules, parse_rules
from jobtrail.alerts.settings import AlertSettings
from jobtrail.alerts.state import active, history

__all__ = [
    "DEFAULT_RULES",
    "KINDS",
    "Alert",
    "AlertSettings",
    "Evaluator",
    "Finding",
    "LogNotifier",
    "Notifier",
    "Override",
    "Rule",
    "Transition",
    "WebhookNotifier",
    "active",
    "history",
    "load_rules",
    "parse_rules",
]
