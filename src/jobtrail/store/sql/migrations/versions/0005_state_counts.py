"""Current-state counters per series, so all-time counts by state read a few rows, not every job.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "state_counts",
        sa.Column("sid", sa.Integer, primary_key=True),
        sa.Column("state", sa.String(16), primary_key=True),
        sa.Column("n", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )
    # Jobs that never produced a roll-up fact (e.g. only heartbeats) may have no series row yet.
    op.execute(
        "INSERT INTO series (name, queue) SELECT DISTINCT j.name, j.queue FROM jobs j"
        " WHERE NOT EXISTS (SELECT 1 FROM series s WHERE s.name = j.name AND s.queue = j.queue)"
    )
    op.execute(
        "INSERT INTO state_counts (sid, state, n) SELECT s.id, j.state, COUNT(*) FROM jobs j"
        " JOIN series s ON s.name = j.name AND s.queue = j.queue GROUP BY s.id, j.state"
    )


def downgrade() -> None:
    op.drop_table("state_counts")
