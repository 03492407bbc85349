"""Tables. Timestamps are Unix seconds as doubles: compact, exact enough (µs), the same on both
backends. Everything a query filters or sorts on is a column; the rest of a record is one JSON doc.
Roll-up tables are keyed by (resolution, series, bucket start, ...) and only ever added to; reads
seek them by series id, so they need no secondary index.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = [
    "COLUMNS",
    "alert_outbox",
    "alert_state",
    "alert_transitions",
    "job_labels",
    "job_resources",
    "jobs",
    "meta",
    "metadata",
    "periodic",
    "rollup_counts",
    "rollup_hist",
    "rollup_summary",
    "series",
    "state_counts",
    "workers",
]

metadata = sa.MetaData()
T = sa.Double

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("queue", sa.String(200), nullable=False),
    sa.Column("batch", sa.String(200)),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("created_at", T, nullable=False),
    sa.Column("updated_at", T, nullable=False),
    sa.Column("queued_at", T),
    sa.Column("started_at", T),
    sa.Column("finished_at", T),
    sa.Column("heartbeat_at", T),
    sa.Column("kill_requested_at", T),
    sa.Column("wait", T),
    sa.Column("run", T),
    sa.Column("keep", T),
    sa.Column("doc", sa.Text, nullable=False),
    # No index repeats `id` after created_at: rows tied on created_at are rare, and sorting those few
    # by id is cheaper than eleven-odd bytes per job in every index.
    sa.Index("ix_jobs_created", "created_at"),
    sa.Index("ix_jobs_name_created", "name", "created_at", "state"),
    sa.Index("ix_jobs_state_created", "state", "created_at"),
    sa.Index("ix_jobs_queue_created", "queue", "created_at"),
    sa.Index(
        "ix_jobs_batch",
        "batch",
        "created_at",
        sqlite_where=sa.text("batch IS NOT NULL"),
        postgresql_where=sa.text("batch IS NOT NULL"),
    ),
)
COLUMNS = tuple(c.name for c in jobs.columns if c.name != "doc")

job_resources = sa.Table(
    "job_resources",
    metadata,
    sa.Column("resource", sa.String(200), primary_key=True),
    sa.Column("created_at", T, primary_key=True),
    sa.Column("job_id", sa.String(200), primary_key=True),
    sqlite_with_rowid=False,
)

job_labels = sa.Table(
    "job_labels",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(200), primary_key=True),
    sa.Column("created_at", T, primary_key=True),
    sa.Column("job_id", sa.String(200), primary_key=True),
    sqlite_with_rowid=False,
)

series = sa.Table(
    "series",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("queue", sa.String(200), nullable=False),
    sa.UniqueConstraint("name", "queue", name="uq_series_name_queue"),
)
"""One row per (job name, queue): roll-ups refer to it by id, which keeps their rows small."""

rollup_counts = sa.Table(
    "rollup_counts",
    metadata,
    sa.Column("res", sa.Integer, primary_key=True),
    sa.Column("sid", sa.Integer, primary_key=True),
    sa.Column("t", sa.BigInteger, primary_key=True),
    sa.Column("metric", sa.SmallInteger, primary_key=True),
    sa.Column("n", sa.BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

rollup_hist = sa.Table(
    "rollup_hist",
    metadata,
    sa.Column("res", sa.Integer, primary_key=True),
    sa.Column("kind", sa.SmallInteger, primary_key=True),
    sa.Column("sid", sa.Integer, primary_key=True),
    sa.Column("t", sa.BigInteger, primary_key=True),
    sa.Column("bucket", sa.Integer, primary_key=True),
    sa.Column("n", sa.BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

rollup_summary = sa.Table(
    "rollup_summary",
    metadata,
    sa.Column("res", sa.Integer, primary_key=True),
    sa.Column("kind", sa.SmallInteger, primary_key=True),
    sa.Column("sid", sa.Integer, primary_key=True),
    sa.Column("t", sa.BigInteger, primary_key=True),
    sa.Column("n", sa.BigInteger, nullable=False),
    sa.Column("total", T, nullable=False),
    sa.Column("lo", T),
    sa.Column("hi", T),
    sqlite_with_rowid=False,
)

state_counts = sa.Table(
    "state_counts",
    metadata,
    sa.Column("sid", sa.Integer, primary_key=True),
    sa.Column("state", sa.String(16), primary_key=True),
    sa.Column("n", sa.BigInteger, nullable=False),
    sqlite_with_rowid=False,
)
"""How many jobs of each series are in each state now: kept at ingest and delete, so counting a busy
name's jobs by state reads a few rows instead of every one of its jobs."""

meta = sa.Table(
    "jobtrail_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
"""Small facts about the database itself, e.g. up to when per-minute roll-ups were compacted."""

workers = sa.Table(
    "workers",
    metadata,
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("host", sa.String(200), nullable=False),
    sa.Column("pid", sa.Integer),
    sa.Column("queues", sa.Text, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("running", sa.Integer, nullable=False),
    sa.Column("started_at", T, nullable=False),
    sa.Column("last_seen", T, nullable=False),
)
"""The latest heartbeat of each worker process (`queues` is a JSON list); newest `last_seen` wins."""

periodic = sa.Table(
    "periodic",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("every", T),
    sa.Column("cron", sa.String(200)),
    sa.Column("grace", T, nullable=False),
    sa.Column("down_after", T),
    sa.Column("declared_at", T, nullable=False),
)
"""Declared periodic jobs: an interval or a cron expression; the latest declaration wins."""

# ---- alerts (jobtrail.alerts) -------------------------------------------------------------------

alert_state = sa.Table(
    "alert_state",
    metadata,
    sa.Column("rule", sa.String(100), primary_key=True),
    sa.Column("subject", sa.String(200), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("value", T),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("since", T, nullable=False),
    sa.Column("fired_at", T),
    sa.Column("updated_at", T, nullable=False),
)
"""Alerts that are pending or firing now, one row per (rule, subject); cleared ones are deleted."""

alert_transitions = sa.Table(
    "alert_transitions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("rule", sa.String(100), nullable=False),
    sa.Column("subject", sa.String(200), nullable=False),
    sa.Column("from_state", sa.String(16), nullable=False),
    sa.Column("to_state", sa.String(16), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("value", T),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("since", T, nullable=False),
    sa.Column("at", T, nullable=False),
    sa.UniqueConstraint("rule", "subject", "since", "to_state", name="uq_alert_transition"),
)
"""Every transition, kept as history, newest = highest id (evaluations take turns under a lock);
one episode (rule, subject, since) enters each state once."""

alert_outbox = sa.Table(
    "alert_outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("transition_id", sa.Integer, nullable=False),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_at", T, nullable=False),
    sa.Column("lease_until", T),
    sa.Column("lease_owner", sa.String(100)),
    sa.Column("sent_at", T),
    sa.Column("last_error", sa.Text),
    sa.UniqueConstraint("transition_id", "channel", name="uq_alert_outbox_delivery"),
    sa.Index("ix_alert_outbox_due", "status", "next_at"),
)
"""One notification to deliver per (transition, channel); claimed with a lease before sending, so
several server processes deliver each exactly once (status pending → sent, or dead after retries)."""
