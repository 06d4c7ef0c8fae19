"""ISP operations: manual hold and removal of subscribers, replaced periods, router 'remove' jobs.

Revision ID: 0030
Revises: 0010
Create Date: 2026-11-30 16:00
"""

from pathlib import Path

from alembic import op

revision = "0030"
down_revision = "0010"
branch_labels = None
depends_on = None

SQL_FILE = Path(__file__).resolve().parents[2] / "sql" / "schema" / "0030_isp_operations.sql"


def upgrade() -> None:
    op.execute(SQL_FILE.read_text())


def downgrade() -> None:
    op.execute(
        """
        DROP INDEX IF EXISTS gateway.transactions_client_account;
        DROP INDEX IF EXISTS billing.router_jobs_subscriber;
        DELETE FROM billing.router_jobs WHERE action = 'remove';
        ALTER TABLE billing.router_jobs DROP CONSTRAINT router_jobs_action_valid,
            ADD CONSTRAINT router_jobs_action_valid CHECK (action IN ('activate', 'suspend'));
        UPDATE billing.subscriptions SET status = 'expired' WHERE status = 'replaced';
        ALTER TABLE billing.subscriptions DROP CONSTRAINT subscriptions_status_valid,
            ADD CONSTRAINT subscriptions_status_valid CHECK (status IN ('active', 'expired'));
        DROP INDEX IF EXISTS billing.subscribers_client_phone;
        DROP INDEX IF EXISTS billing.subscribers_client_username_prefix;
        UPDATE billing.subscribers SET status = 'suspended' WHERE status = 'removed';
        ALTER TABLE billing.subscribers DROP CONSTRAINT subscribers_status_valid,
            ADD CONSTRAINT subscribers_status_valid CHECK (status IN ('new', 'active', 'suspended')),
            DROP COLUMN hold_reason, DROP COLUMN held_at, DROP COLUMN removed_at;
        """
    )
