"""Usage pre-aggregates: transactions by service (hourly stats keyed by service) and API calls per day.

Revision ID: 0050
Revises: 0040
Create Date: 2026-11-30 17:00
"""

from pathlib import Path

from alembic import op

revision = "0050"
down_revision = "0040"
branch_labels = None
depends_on = None

SQL_FILE = Path(__file__).resolve().parents[2] / "sql" / "schema" / "0050_usage.sql"


def upgrade() -> None:
    op.execute(SQL_FILE.read_text())


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS api_logs_usage ON gateway.api_logs")
    op.execute("DROP FUNCTION IF EXISTS gateway.api_logs_usage()")
    op.execute("DROP FUNCTION IF EXISTS gateway.api_endpoint(text)")
    op.execute("DROP TABLE IF EXISTS gateway.api_usage_daily")
    # The hourly stats keep their service column: dropping it would merge rows and needs a rebuild.
