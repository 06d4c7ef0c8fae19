"""Hot summary rows spread over slots: transaction_stats_hourly and api_usage_daily gain a slot in their key.

Revision ID: 0060
Revises: 0020
Create Date: 2026-11-30 19:00
"""

from pathlib import Path

from alembic import op

revision = "0060"
down_revision = "0020"
branch_labels = None
depends_on = None

SQL_DIR = Path(__file__).resolve().parents[2] / "sql" / "schema"


def upgrade() -> None:
    op.execute((SQL_DIR / "0060_counter_slots.sql").read_text())


def downgrade() -> None:
    op.execute((SQL_DIR / "0060_counter_slots_down.sql").read_text())
