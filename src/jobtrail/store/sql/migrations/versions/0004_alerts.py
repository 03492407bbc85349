"""Alerts: the state of pending and firing alerts, their transition history, the delivery outbox.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

T = sa.Double


def upgrade() -> None:
    op.create_table(
        "alert_state",
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
    op.create_table(
        "alert_transitions",
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
    op.create_table(
        "alert_outbox",
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
    )
    op.create_index("ix_alert_outbox_due", "alert_outbox", ["status", "next_at"])


def downgrade() -> None:
    op.drop_index("ix_alert_outbox_due", "alert_outbox")
    op.drop_table("alert_outbox")
    op.drop_table("alert_transitions")
    op.drop_table("alert_state")
