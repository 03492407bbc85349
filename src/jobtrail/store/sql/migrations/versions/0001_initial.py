"""Initial schema: jobs, resource and label indexes, roll-ups at two resolutions.

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
        "rollup_counts",
        sa.Column("res", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("t", sa.BigInteger, primary_key=True),
        sa.Column("queue", sa.String(200), primary_key=True),
        sa.Column("metric", sa.String(40), primary_key=True),
        sa.Column("n", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_rollup_counts_metric", "rollup_counts", ["res", "metric", "t"])
    for table in ("rollup_hist", "rollup_summary"):
        extra = (
            [sa.Column("bucket", sa.Integer, primary_key=True),
             sa.Column("n", sa.BigInteger, nullable=False)]
            if table == "rollup_hist"
            else [sa.Column("n", sa.BigInteger, nullable=False),
                  sa.Column("total", T, nullable=False), sa.Column("lo", T), sa.Column("hi", T)]
        )
        op.create_table(
            table,
            sa.Column("res", sa.Integer, primary_key=True),
            sa.Column("kind", sa.String(16), primary_key=True),
            sa.Column("name", sa.String(200), primary_key=True),
            sa.Column("t", sa.BigInteger, primary_key=True),
            sa.Column("queue", sa.String(200), primary_key=True),
            *extra,
            sqlite_with_rowid=False,
        )
        op.create_index(f"ix_{table}_time", table, ["res", "kind", "t"])
    op.create_table(
        "jobtrail_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in ("jobtrail_meta", "rollup_summary", "rollup_hist", "rollup_counts",
                  "job_labels", "job_resources", "jobs"):
        op.drop_table(table)
