"""Workers, periodic declarations and the current queue levels: the small tables monitoring reads.

Worker heartbeats and periodic declarations are registers: the newest `at` wins, so heartbeats that
arrive late or twice (a client's retry, two server processes) leave the same row.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from jobtrail.rollup import KIND_CODES
from jobtrail.store.sql.rollups import HOUR, MINUTE, minute_horizon
from jobtrail.store.sql.schema import jobs, periodic, rollup_summary, series, workers

__all__ = [
    "beat_worker",
    "declare_periodic",
    "last_success",
    "list_periodic",
    "list_workers",
    "queue_levels",
]

ACTIVE = ("queued", "retrying", "started", "kill_requested")


def _insert(dialect: str, table: sa.Table) -> Any:
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


def beat_worker(conn: sa.Connection, worker: Mapping[str, Any]) -> None:
    row = {
        "id": worker["id"],
        "host": worker["host"],
        "pid": worker.get("pid"),
        "queues": json.dumps(sorted(worker.get("queues") or [])),
        "state": worker["state"],
        "running": int(worker.get("running") or 0),
        "started_at": worker["at"],
        "last_seen": worker["at"],
    }
    stmt = _insert(conn.dialect.name, workers).values(row)
    new = stmt.excluded
    newer = new.last_seen >= workers.c.last_seen

    def pick(column: str) -> Any:
        return sa.case((newer, getattr(new, column)), else_=workers.c[column])

    # No WHERE: an older beat may still move `started_at` back to the first one seen.
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["id"],
            set_={
                **{c: pick(c) for c in ("host", "pid", "queues", "state", "running", "last_seen")},
                "started_at": sa.func.min(new.started_at, workers.c.started_at)
                if conn.dialect.name == "sqlite"
                else sa.func.least(new.started_at, workers.c.started_at),
            },
        )
    )


def list_workers(conn: sa.Connection) -> list[dict[str, Any]]:
    out = []
    for row in conn.execute(sa.select(workers).order_by(workers.c.id)):
        item = dict(row._mapping)
        item["queues"] = json.loads(item["queues"])
        out.append(item)
    return out


def declare_periodic(conn: sa.Connection, spec: Mapping[str, Any]) -> None:
    row = {
        "name": spec["name"],
        "every": spec.get("every"),
        "cron": spec.get("cron"),
        "grace": spec["grace"],
        "down_after": spec.get("down_after"),
        "declared_at": spec["at"],
    }
    stmt = _insert(conn.dialect.name, periodic).values(row)
    new, old = stmt.excluded, periodic.c
    # The same schedule declared again (each `jobtrail run`, each process start) keeps its first
    # declaration time: before a first success that is the clock, so a job failing at every run
    # still goes late.
    same = sa.and_(old.every.is_not_distinct_from(new.every), old.cron.is_not_distinct_from(new.cron))
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["name"],
            set_={**{c: getattr(new, c) for c in ("every", "cron", "grace", "down_after")},
                  "declared_at": sa.case((same, old.declared_at), else_=new.declared_at)},
            where=old.declared_at <= new.declared_at,
        )
    )


def list_periodic(conn: sa.Connection) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(sa.select(periodic).order_by(periodic.c.name))]


def last_success(conn: sa.Connection, names: Sequence[str]) -> dict[str, float]:
    """Newest success instant per name, from the roll-ups so it survives retention deleting the
    rows. A summary's max cannot forget a success that is retracted later (the attempt failed
    after all), but the count of the success's row drops back: so this takes the newest row still
    counting one, per minute while those are kept and per hour before the minute horizon. Exact to
    that row's minute (hour) when a retracted success shares it with another."""
    s = rollup_summary
    horizon = minute_horizon(conn)

    def newest(res: int, *cond: Any) -> Any:
        return (
            sa.select(s.c.hi)
            .where(s.c.res == res, s.c.kind == KIND_CODES["success"], s.c.sid == series.c.id,
                   s.c.n > 0, *cond)
            .order_by(s.c.t.desc())
            .limit(1)
            .scalar_subquery()
        )

    hourly = sa.null() if horizon == -math.inf else newest(HOUR, s.c.t < math.ceil(horizon))
    stmt = sa.select(series.c.name, newest(MINUTE), hourly)
    if names:
        stmt = stmt.where(series.c.name.in_(list(names)))
    out: dict[str, float] = {}
    for name, *his in conn.execute(stmt):
        for hi in his:
            if hi is not None and hi > out.get(name, -math.inf):
                out[name] = float(hi)
    return out


def queue_levels(conn: sa.Connection) -> list[dict[str, Any]]:
    """Queued and running jobs now per (queue, name), from the unfinished rows alone."""
    running = sa.and_(jobs.c.started_at.is_not(None), jobs.c.state != "retrying")
    stmt = (
        sa.select(
            jobs.c.queue,
            jobs.c.name,
            sa.func.sum(sa.case((running, 0), else_=1)),
            sa.func.sum(sa.case((running, 1), else_=0)),
            sa.func.min(sa.case((running, None), else_=sa.func.coalesce(jobs.c.queued_at,
                                                                        jobs.c.created_at))),
        )
        .where(jobs.c.state.in_(ACTIVE))
        .group_by(jobs.c.queue, jobs.c.name)
        .order_by(jobs.c.queue, jobs.c.name)
    )
    return [
        {"queue": q, "name": n, "queued": int(qd or 0), "running": int(rn or 0),
         "oldest_queued_at": None if oldest is None else float(oldest)}
        for q, n, qd, rn, oldest in conn.execute(stmt)
    ]
