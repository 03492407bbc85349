"""The delivery outbox: one row per (transition, channel), claimed before it is sent.

A claim is one conditional UPDATE (pending, due, and not leased by anyone else, or the lease ran
out), so of several processes racing for a row exactly one gets it. The claimer sends, then marks the
row sent, or failed with the next attempt pushed back exponentially; after `max_attempts` it is
dead (kept, with the last error, for the record). A process that dies mid-send leaves a lease that
runs out, and the notification is sent again then: at least once if a sender crashes (or a send
outlives its lease), exactly once otherwise. Only the lease's holder records an outcome: a sender
whose lease ran out and was claimed by another records nothing, so it never undoes the other's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from jobtrail.alerts.model import Transition
from jobtrail.alerts.state import read, write
from jobtrail.store.base import Store
from jobtrail.store.sql.schema import alert_outbox, alert_transitions

__all__ = ["Delivery", "backoff", "claim", "due", "failed", "sent"]


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    channel: str
    attempts: int
    transition: Transition


def backoff(attempts: int, base: float = 5.0, cap: float = 600.0) -> float:
    """Seconds before the next try after `attempts` failed ones: 5, 10, 20, … up to 10 minutes."""
    return float(min(cap, base * 2 ** max(0, attempts - 1)))


def due(store: Store, now: float, channels: Sequence[str] | None = None, limit: int = 100
        ) -> list[Delivery]:
    """Pending deliveries (of `channels`, default all) whose time has come and whose lease (if any)
    ran out, oldest first. One waits while an earlier transition of its alert (rule and subject)
    is still pending on its channel: a retry pushed back past the alert's resolution must not let
    the resolution be announced before the firing it ends."""
    o, t = alert_outbox.c, alert_transitions.c
    eo, et = alert_outbox.alias("earlier_o"), alert_transitions.alias("earlier_t")
    earlier = (
        sa.select(eo.c.id).join(et, et.c.id == eo.c.transition_id)
        .where(eo.c.channel == o.channel, eo.c.status == "pending",
               eo.c.transition_id < o.transition_id, et.c.rule == t.rule,
               et.c.subject == t.subject)
    )
    stmt = (
        sa.select(o.id.label("oid"), o.channel, o.attempts, alert_transitions)
        .join(alert_transitions, t.id == o.transition_id)
        .where(o.status == "pending", o.next_at <= now,
               sa.or_(o.lease_until.is_(None), o.lease_until < now), ~sa.exists(earlier))
        .order_by(o.next_at, o.id)
        .limit(limit)
    )
    if channels is not None:
        stmt = stmt.where(o.channel.in_(list(channels)))
    with read(store) as conn:
        return [
            Delivery(r.oid, r.channel, r.attempts, Transition(
                r.id, r.rule, r.subject, r.from_state, r.to_state, r.severity, r.value, r.summary,
                r.since, r.at))
            for r in conn.execute(stmt)
        ]


def claim(store: Store, delivery_id: int, owner: str, now: float, lease: float) -> bool:
    """Take the delivery for `lease` seconds; False when another process has it or it is done."""
    o = alert_outbox.c
    with write(store) as conn:
        result = conn.execute(
            alert_outbox.update()
            .where(o.id == delivery_id, o.status == "pending", o.next_at <= now,
                   sa.or_(o.lease_until.is_(None), o.lease_until < now))
            .values(lease_until=now + lease, lease_owner=owner)
        )
        return result.rowcount == 1


def sent(store: Store, delivery_id: int, owner: str, now: float) -> None:
    """Record the delivery as sent, unless `owner` lost it (its lease ran out and another claimed
    it, which may since have recorded its own outcome)."""
    o = alert_outbox.c
    with write(store) as conn:
        conn.execute(
            alert_outbox.update()
            .where(o.id == delivery_id, o.lease_owner == owner, o.status == "pending")
            .values(status="sent", sent_at=now, attempts=o.attempts + 1, lease_until=None,
                    last_error=None)
        )


def failed(store: Store, delivery_id: int, owner: str, now: float, error: str,
           max_attempts: int) -> bool:
    """Record a failed try; returns True when that was the last one (the delivery is dead). Nothing
    is recorded when `owner` lost the delivery to another sender (see `sent`)."""
    o = alert_outbox.c
    with write(store) as conn:
        attempts = conn.execute(
            sa.select(o.attempts).where(o.id == delivery_id, o.lease_owner == owner,
                                        o.status == "pending")
        ).scalar_one_or_none()
        if attempts is None:
            return False
        attempts += 1
        dead = attempts >= max_attempts
        conn.execute(
            alert_outbox.update()
            .where(o.id == delivery_id, o.lease_owner == owner, o.status == "pending")
            .values(status="dead" if dead else "pending", attempts=attempts, lease_until=None,
                    next_at=now + backoff(attempts), last_error=error[:2000])
        )
        return bool(dead)
