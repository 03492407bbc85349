"""Initial schema: jobs, resource and label indexes, series and roll-ups at two resolutions.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

T = sa.Double


def upgrade() -> None:
    op.create_table(
        "jobs",
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
    )
    op.create_index("ix_jobs_created", "jobs", ["created_at", "id"])
    op.create_index("ix_jobs_name_created", "jobs", ["name", "created_at", "state"])
    op.create_index("ix_jobs_state_created", "jobs", ["state", "created_at", "id"])
    op.create_index("ix_jobs_queue_created", "jobs", ["queue", "created_at", "id"])
    op.create_index(
        "ix_jobs_batch",
        "jobs",
        ["batch", "created_at"],
        sqlite_where=sa.text("batch IS NOT NULL"),
        postgresql_where=sa.text("batch IS NOT NULL"),
    )
    op.create_table(
        "job_resources",
        sa.Column("resource", sa.String(200), primary_key=True),
        sa.Column("created_at", T, primary_key=True),
        sa.Column("job_id", sa.String(200), primary_key=True),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "job_labels",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(200), primary_key=True),
        sa.Column("created_at", T, primary_key=True),
        sa.Column("job_id", sa.String(200), primary_key=True),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "series",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("queue", sa.String(200), nullable=False),
        sa.UniqueConstraint("name", "queue", name="uq_series_name_queue"),
    )
    op.create_table(
        "rollup_counts",
        sa.Column("res", sa.Integer, primary_key=True),
        sa.Column("sid", sa.Integer, primary_key=True),
        sa.Column("t", sa.BigInteger, primary_key=True),
        sa.Column("metric", sa.SmallInteger, primary_key=True),
        sa.Column("n", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "rollup_hist",
        sa.Column("res", sa.Integer, primary_key=True),
        sa.Column("kind", sa.SmallInteger, primary_key=True),
        sa.Column("sid", sa.Integer, primary_key=True),
        sa.Column("t", sa.BigInteger, primary_key=True),
        sa.Column("bucket", sa.Integer, primary_key=True),
        sa.Column("n", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "rollup_summary",
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
    op.create_table(
        "jobtrail_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in ("jobtrail_meta", "rollup_summary", "rollup_hist", "rollup_counts", "series",
                  "job_labels", "job_resources", "jobs"):
        op.drop_table(table)
