"""Alert state in the database, the truth shared by every server process.

`advance` applies one evaluation's findings in one write transaction that evaluations take in turns
(a PostgreSQL advisory lock; SQLite's BEGIN IMMEDIATE). It first checks the instant of the last
applied evaluation: an evaluation of the same or an earlier instant changes nothing, so two
processes evaluating at once produce each transition once. Transitions into firing and resolved get
one outbox row per notification channel, written in that same transaction (see `outbox`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, OperationalError

from jobtrail.alerts.model import NOTIFIED, SEVERITIES, Alert, Finding, Rule, Transition
from jobtrail.errors import ConfigError, InvalidInput, StoreError
from jobtrail.store.base import Store
from jobtrail.store.sql.engine import WRITE
from jobtrail.store.sql.schema import alert_outbox, alert_state, alert_transitions, meta

__all__ = ["active", "advance", "engine_of", "history", "prune", "read", "write"]

_LOCK_KEY = 7_466_123_005  # PostgreSQL advisory lock held while applying an evaluation
_CLOCK = "alerts_evaluated_at"
_MAX_ID = 2**31 - 1  # ids are 32-bit integers on PostgreSQL


def engine_of(store: Store) -> sa.Engine:
    """Alert state lives beside the jobs, so it needs the SQL store's engine."""
    engine = getattr(store, "engine", None)
    if not isinstance(engine, sa.Engine):
        raise ConfigError(f"alerts need a SQL store (SQLite or PostgreSQL), not {store.url!r}")
    return engine


@contextmanager
def read(store: Store) -> Iterator[sa.Connection]:
    try:
        with engine_of(store).connect() as conn:
            yield conn
    except (OperationalError, DBAPIError) as exc:
        raise StoreError(f"could not read alerts: {exc.orig}") from exc


@contextmanager
def write(store: Store) -> Iterator[sa.Connection]:
    """One write transaction, taken in turns with every other alert writer."""
    try:
        with engine_of(store).connect().execution_options(**WRITE) as conn, conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
            yield conn
    except (OperationalError, DBAPIError) as exc:
        raise StoreError(f"could not write alerts: {exc.orig}") from exc


def _alert(row: Any) -> Alert:
    return Alert(row.rule, row.subject, row.state, row.severity, row.value, row.summary,
                 row.since, row.fired_at, row.updated_at)


def _transition(row: Any) -> Transition:
    return Transition(row.id, row.rule, row.subject, row.from_state, row.to_state, row.severity,
                      row.value, row.summary, row.since, row.at)


def active(store: Store) -> list[Alert]:
    """Pending and firing alerts: firing first, then the most severe, then the oldest."""
    with read(store) as conn:
        alerts = [_alert(r) for r in conn.execute(sa.select(alert_state))]
    rank = {s: i for i, s in enumerate(reversed(SEVERITIES))}
    return sorted(alerts, key=lambda a: (a.state != "firing", rank.get(a.severity, 9), a.since,
                                         a.rule, a.subject))


def history(
    store: Store,
    limit: int = 100,
    cursor: int | str | None = None,
    rule: str | None = None,
    subject: str | None = None,
) -> list[Transition]:
    """Transitions newest first; pass the last one's `id` as `cursor` for the next page."""
    if not 1 <= limit <= 1000:
        raise InvalidInput("limit must be between 1 and 1000")
    t = alert_transitions.c
    stmt = sa.select(alert_transitions).order_by(t.id.desc()).limit(limit)
    if cursor is not None and cursor != "":
        text = str(cursor)
        if not (text.isascii() and text.isdigit()):
            raise InvalidInput(f"invalid cursor {cursor!r}")
        stmt = stmt.where(t.id < min(int(text), _MAX_ID))
    if rule is not None:
        stmt = stmt.where(t.rule == rule)
    if subject is not None:
        stmt = stmt.where(t.subject == subject)
    with read(store) as conn:
        return [_transition(r) for r in conn.execute(stmt)]


def advance(
    store: Store,
    rules: Sequence[Rule],
    findings: Mapping[str, Iterable[Finding]],
    now: float,
    channels: Sequence[str],
) -> list[Transition]:
    """Apply findings of rules evaluated at `now` (keys: the rules that were evaluated; a rule that
    failed to evaluate is absent and keeps its alerts as they are). Alerts of rules no longer
    enabled resolve. Returns the transitions written, oldest first."""
    enabled = {r.id: r for r in rules if r.enabled}
    found = {rid: {f.subject: f for f in fs} for rid, fs in findings.items()}
    out: list[Transition] = []
    with write(store) as conn:
        last = conn.execute(sa.select(meta.c.value).where(meta.c.key == _CLOCK)).scalar_one_or_none()
        if last is not None and float(last) >= now:
            return []  # another process applied this instant (or a later one) already
        conn.execute(meta.delete().where(meta.c.key == _CLOCK))
        conn.execute(meta.insert().values(key=_CLOCK, value=repr(float(now))))
        current = {(a.rule, a.subject): a for a in map(_alert, conn.execute(sa.select(alert_state)))}
        for (rid, subject), alert in sorted(current.items()):
            if rid in enabled and rid not in found:
                continue  # evaluation failed this time: leave it as it was
            if subject in found.get(rid, {}):
                continue
            to = "resolved" if alert.state == "firing" else "inactive"
            out.append(_record(conn, alert, to, now, alert.value, alert.summary, alert.severity))
            conn.execute(alert_state.delete().where(alert_state.c.rule == rid,
                                                    alert_state.c.subject == subject))
        updates: list[dict[str, Any]] = []
        for rid, by_subject in sorted(found.items()):
            rule = enabled.get(rid)
            if rule is None:
                continue
            for subject, f in sorted(by_subject.items()):
                out.extend(_step(conn, rule, current.get((rid, subject)), f, now, updates))
        if updates:
            s = alert_state.c
            conn.execute(
                alert_state.update().where(s.rule == sa.bindparam("k_rule"),
                                           s.subject == sa.bindparam("k_subject"))
                .values(severity=sa.bindparam("severity"), value=sa.bindparam("value"),
                        summary=sa.bindparam("summary"), updated_at=sa.bindparam("updated_at")),
                updates,
            )
        for tr in out:
            if tr.to_state in NOTIFIED:
                for channel in channels:
                    conn.execute(alert_outbox.insert().values(
                        transition_id=tr.id, channel=channel, status="pending", attempts=0,
                        next_at=now))
    return out


def _step(conn: sa.Connection, rule: Rule, alert: Alert | None, f: Finding, now: float,
          updates: list[dict[str, Any]]) -> list[Transition]:
    """The transitions of one rule instance that holds now; a changed value of an alert that stays
    where it is goes to `updates`, written in one batch."""
    severity = rule.severity_of(f.subject)
    s = alert_state.c
    key = (s.rule == rule.id, s.subject == f.subject)
    if alert is None:
        since = now
        firing = rule.for_of(f.subject) <= 0
        state = "firing" if firing else "pending"
        conn.execute(alert_state.insert().values(
            rule=rule.id, subject=f.subject, state=state, severity=severity, value=f.value,
            summary=f.summary, since=since, fired_at=now if firing else None, updated_at=now))
        start = Alert(rule.id, f.subject, "inactive", severity, f.value, f.summary, since, None, now)
        out = [] if firing else [_record(conn, start, "pending", now, f.value, f.summary, severity)]
        if firing:
            out.append(_record(conn, start, "firing", now, f.value, f.summary, severity))
        return out
    if alert.state == "pending" and now - alert.since >= rule.for_of(f.subject):
        conn.execute(alert_state.update().where(*key).values(
            state="firing", severity=severity, value=f.value, summary=f.summary, fired_at=now,
            updated_at=now))
        return [_record(conn, alert, "firing", now, f.value, f.summary, severity)]
    if (alert.severity, alert.value, alert.summary) != (severity, f.value, f.summary):
        updates.append({"k_rule": rule.id, "k_subject": f.subject, "severity": severity,
                        "value": f.value, "summary": f.summary, "updated_at": now})
    return []


def _record(conn: sa.Connection, alert: Alert, to: str, now: float, value: float | None,
            summary: str, severity: str) -> Transition:
    values = {
        "rule": alert.rule, "subject": alert.subject, "from_state": alert.state, "to_state": to,
        "severity": severity, "value": value, "summary": summary, "since": alert.since, "at": now,
    }
    result = conn.execute(alert_transitions.insert().values(**values))
    key = result.inserted_primary_key
    assert key is not None
    tid = int(key[0])
    return Transition(tid, alert.rule, alert.subject, alert.state, to, severity, value, summary,
                      alert.since, now)


def prune(store: Store, before: float) -> int:
    """Forget history older than `before`: transitions, and their deliveries once sent or given up
    (a delivery still pending keeps its transition). Returns how many transitions went."""
    t, o = alert_transitions.c, alert_outbox.c
    old = sa.select(t.id).where(t.at < before)
    with write(store) as conn:
        conn.execute(alert_outbox.delete().where(o.transition_id.in_(old), o.status != "pending"))
        waiting = sa.select(o.transition_id).where(o.status == "pending")
        result = conn.execute(alert_transitions.delete().where(t.at < before, t.id.not_in(waiting)))
        return int(result.rowcount)
