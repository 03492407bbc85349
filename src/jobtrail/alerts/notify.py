"""Notifiers: where a firing or resolved alert is announced (the log, a webhook).

`deliver_due` drains the outbox: claim a delivery, send it, mark it sent or schedule a retry. Job
names and error text are untrusted: the webhook body is JSON built with `json.dumps` (nothing is
templated), and the Slack-compatible text escapes the three characters Slack treats as markup.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import time
from collections.abc import Sequence
from typing import Any, Protocol

import httpx

from jobtrail.alerts import outbox
from jobtrail.alerts.model import Transition
from jobtrail.store.base import Store

__all__ = ["LogNotifier", "Notifier", "WebhookNotifier", "deliver_due", "payload", "slack_text"]

log = logging.getLogger("jobtrail.alerts")


class Notifier(Protocol):
    """Sends one transition somewhere; raises to say it did not arrive (it is retried later)."""

    channel: str

    def send(self, transition: Transition, delivery_id: int) -> None: ...


def payload(t: Transition) -> dict[str, Any]:
    """The JSON body of a notification: the transition's fields, nothing interpreted."""
    return {
        "source": "jobtrail",
        "status": t.to_state,
        "rule": t.rule,
        "subject": t.subject,
        "severity": t.severity,
        "value": t.value,
        "summary": t.summary,
        "since": t.since,
        "at": t.at,
        "transition_id": t.id,
    }


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_text(t: Transition) -> str:
    state = "FIRING" if t.to_state == "firing" else t.to_state.upper()
    subject = f" · {t.subject}" if t.subject else ""
    return _slack_escape(f"[{state} {t.severity}] {t.rule}{subject}: {t.summary}")


class LogNotifier:
    """Writes each notification as one log line (logger `jobtrail.alerts`), its fields as JSON."""

    channel = "log"

    def send(self, transition: Transition, delivery_id: int) -> None:
        level = logging.WARNING if transition.to_state == "firing" else logging.INFO
        log.log(level, "alert %s: %s", transition.to_state, json.dumps(payload(transition)))


class WebhookNotifier:
    """POSTs JSON to `url`; `fmt` "json" sends `payload()`, "slack" sends `{"text": ...}`. Any
    answer other than 2xx, or no answer within `timeout` seconds, is a failure to retry. The
    `Idempotency-Key` header lets a receiver drop a repeat after a sender crashed mid-delivery."""

    channel = "webhook"

    def __init__(self, url: str, fmt: str = "json", timeout: float = 10.0) -> None:
        if fmt not in ("json", "slack"):
            raise ValueError(f"webhook format {fmt!r} is not json or slack")
        self.url = url
        self.fmt = fmt
        self.timeout = timeout

    def send(self, transition: Transition, delivery_id: int) -> None:
        body = payload(transition) if self.fmt == "json" else {"text": slack_text(transition)}
        response = httpx.post(
            self.url,
            content=json.dumps(body).encode(),
            headers={"content-type": "application/json",
                     "idempotency-key": f"jobtrail-{transition.id}-{self.channel}"},
            timeout=self.timeout,
        )
        if not response.is_success:
            raise RuntimeError(f"webhook answered HTTP {response.status_code}")


def owner_id() -> str:
    """Who holds a lease: host and pid for the record, and a random token, so two senders with the
    same host and pid (two schedulers in one process, two containers on the host's network both
    running jobtrail as pid 1) are never taken for one."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{secrets.token_hex(4)}"


def deliver_due(
    store: Store,
    notifiers: Sequence[Notifier],
    now: float,
    *,
    owner: str | None = None,
    lease: float = 60.0,
    max_attempts: int = 10,
) -> int:
    """Send every due delivery whose channel has a notifier here; returns how many were sent.

    Each channel drains on its own and stops at its first failure (the rest wait for the next
    pass): a webhook that times out costs one timeout per pass, not one per alert, and its backlog
    never crowds the other channels out of a pass.

    `now` is the pass's start; each claim, and what follows it, is dated `now` plus the time the
    pass has taken so far, so every delivery gets its whole `lease` however long the sends before
    it took. Keep `lease` longer than a notifier's send can take (the webhook's `timeout` bounds
    each of its connect, write and read), or another sender may take over a delivery still being
    sent and send it again (the receiver can drop that repeat by its `Idempotency-Key`); the one
    that lost its lease then records nothing, so what the new holder recorded stands."""
    owner = owner or owner_id()
    started = time.monotonic()

    def clock() -> float:
        return now + (time.monotonic() - started)

    done = 0
    for notifier in {n.channel: n for n in notifiers}.values():
        for d in outbox.due(store, now, [notifier.channel]):
            if not outbox.claim(store, d.id, owner, clock(), lease):  # another has it
                continue
            try:
                notifier.send(d.transition, d.id)
            except Exception as exc:  # noqa: BLE001 - any failure of a notifier is retried
                error = f"{type(exc).__name__}: {exc}"
                dead = outbox.failed(store, d.id, owner, clock(), error, max_attempts)
                log.warning("alert notification %s via %s failed (attempt %d%s): %s",
                            d.transition.id, d.channel, d.attempts + 1,
                            ", giving up" if dead else "", error)
                break
            outbox.sent(store, d.id, owner, clock())
            done += 1
    return done
