"""Alert settings from the environment (read here, so the core `Settings` stays unaware of alerts).

JOBTRAIL_ALERTS (on|off, default on: the server evaluates rules), JOBTRAIL_ALERTS_INTERVAL (default
30s), JOBTRAIL_ALERTS_FILE (YAML rules; default: the built-in rules), JOBTRAIL_ALERT_WEBHOOK (URL to
POST notifications to), JOBTRAIL_ALERT_WEBHOOK_FORMAT (json|slack, default json),
JOBTRAIL_ALERTS_KEEP (alert history to keep, default 90d; "forever" keeps all).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from jobtrail.alerts.defaults import DEFAULT_RULES
from jobtrail.alerts.model import Rule
from jobtrail.alerts.notify import LogNotifier, Notifier, WebhookNotifier
from jobtrail.alerts.rulefile import load_rules
from jobtrail.durations import parse_duration
from jobtrail.errors import ConfigError, InvalidInput

__all__ = ["AlertSettings"]

_ON = ("1", "true", "yes", "on")
_OFF = ("0", "false", "no", "off")


@dataclass(frozen=True, slots=True)
class AlertSettings:
    enabled: bool = True
    interval: float = 30.0
    rules: tuple[Rule, ...] = DEFAULT_RULES
    webhook: str | None = None
    webhook_format: str = "json"
    keep: float | None = 90 * 86400.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AlertSettings:
        env = os.environ if env is None else env
        switch = env.get("JOBTRAIL_ALERTS", "on").strip().lower()
        if switch not in _ON + _OFF:
            raise ConfigError(f"JOBTRAIL_ALERTS must be on or off, not {switch!r}")
        try:
            interval = parse_duration(env.get("JOBTRAIL_ALERTS_INTERVAL", "30s"))
        except InvalidInput as exc:
            raise ConfigError(f"JOBTRAIL_ALERTS_INTERVAL: {exc}") from None
        if interval < 1:
            raise ConfigError("JOBTRAIL_ALERTS_INTERVAL must be at least 1s")
        fmt = env.get("JOBTRAIL_ALERT_WEBHOOK_FORMAT", "json").strip().lower()
        if fmt not in ("json", "slack"):
            raise ConfigError(f"JOBTRAIL_ALERT_WEBHOOK_FORMAT must be json or slack, not {fmt!r}")
        webhook = env.get("JOBTRAIL_ALERT_WEBHOOK", "").strip() or None
        if webhook is not None and not webhook.startswith(("http://", "https://")):
            raise ConfigError("JOBTRAIL_ALERT_WEBHOOK must be an http:// or https:// URL")
        keep_text = env.get("JOBTRAIL_ALERTS_KEEP", "90d").strip().lower()
        try:
            keep = None if keep_text == "forever" else parse_duration(keep_text)
        except InvalidInput as exc:
            raise ConfigError(f"JOBTRAIL_ALERTS_KEEP: {exc} (or forever)") from None
        path = env.get("JOBTRAIL_ALERTS_FILE", "").strip()
        return cls(
            enabled=switch in _ON,
            interval=interval,
            rules=load_rules(path) if path else DEFAULT_RULES,
            webhook=webhook,
            webhook_format=fmt,
            keep=keep,
        )

    def notifiers(self) -> tuple[Notifier, ...]:
        out: list[Notifier] = [LogNotifier()]
        if self.webhook:
            out.append(WebhookNotifier(self.webhook, self.webhook_format))
        return tuple(out)
