"""Day and all-time roll-ups, built from the hourly ones, so long spans read a row per day and
unbounded reads (metrics, all-history statistics) one row per series.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

DAY, HOUR, ALL = 86400, 3600, 0


def upgrade() -> None:
    # t is an integer column: integer division on both backends. Ingest writes no counter row whose
    # delta nets to zero, so neither does this. The all-time resolution is res = 0, t = 0.
    for res, t in ((DAY, f"(t / {DAY}) * {DAY}"), (ALL, "0")):
        by = "" if res == ALL else f", {t}"  # GROUP BY 0 would mean "the first column" to SQLite
        op.execute(
            f"INSERT INTO rollup_counts (res, sid, t, metric, n) SELECT {res}, sid, {t}, metric, SUM(n)"
            f" FROM rollup_counts WHERE res = {HOUR} GROUP BY sid{by}, metric HAVING SUM(n) <> 0"
        )
        op.execute(
            f"INSERT INTO rollup_hist (res, kind, sid, t, bucket, n)"
            f" SELECT {res}, kind, sid, {t}, bucket, SUM(n) FROM rollup_hist WHERE res = {HOUR}"
            f" GROUP BY kind, sid{by}, bucket HAVING SUM(n) <> 0"
        )
        op.execute(
            f"INSERT INTO rollup_summary (res, kind, sid, t, n, total, lo, hi)"
            f" SELECT {res}, kind, sid, {t}, SUM(n), SUM(total), MIN(lo), MAX(hi)"
            f" FROM rollup_summary WHERE res = {HOUR} GROUP BY kind, sid{by}"
        )


def downgrade() -> None:
    for table in ("rollup_counts", "rollup_hist", "rollup_summary"):
        op.execute(f"DELETE FROM {table} WHERE res IN ({DAY}, {ALL})")
