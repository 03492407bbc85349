"""Workers (their latest heartbeat) and declared periodic jobs.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

T = sa.Double


def upgrade() -> None:
    op.create_table(
        "workers",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("host", sa.String(200), nullable=False),
        sa.Column("pid", sa.Integer),
        sa.Column("queues", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("running", sa.Integer, nullable=False),
        sa.Column("started_at", T, nullable=False),
        sa.Column("last_seen", T, nullable=False),
    )
    op.create_table(
        "periodic",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("every", T),
        sa.Column("cron", sa.String(200)),
        sa.Column("grace", T, nullable=False),
        sa.Column("down_after", T),
        sa.Column("declared_at", T, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("periodic")
    op.drop_table("workers")
