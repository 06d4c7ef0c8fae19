"""Portal read paths: hourly transaction stats (trigger-maintained), filter indexes, TOTP replay guard.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 18:00
"""

from pathlib import Path

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SQL_FILE = Path(__file__).resolve().parents[2] / "sql" / "schema" / "0003_portal.sql"


def upgrade() -> None:
    op.execute(SQL_FILE.read_text())


def downgrade() -> None:
    op.execute("ALTER TABLE gateway.users DROP COLUMN IF EXISTS totp_last_step")
    op.execute("DROP INDEX IF EXISTS gateway.api_logs_status_created")
    op.execute("DROP INDEX IF EXISTS gateway.transactions_service_created")
    op.execute("DROP INDEX IF EXISTS gateway.transactions_f010")
    op.execute("DROP TRIGGER IF EXISTS transactions_stats_delete ON gateway.transactions")
    op.execute("DROP TRIGGER IF EXISTS transactions_stats_state ON gateway.transactions")
    op.execute("DROP TRIGGER IF EXISTS transactions_stats_insert ON gateway.transactions")
    op.execute("DROP FUNCTION IF EXISTS gateway.transactions_stats_delete()")
    op.execute("DROP FUNCTION IF EXISTS gateway.transactions_stats_state()")
    op.execute("DROP FUNCTION IF EXISTS gateway.transactions_stats_insert()")
    op.execute("DROP TABLE IF EXISTS gateway.transaction_stats_hourly")
