"""ISP billing: plans, subscribers, subscriptions (paid periods), router jobs, drift reports.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 17:00
"""

from pathlib import Path

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SQL_FILE = Path(__file__).resolve().parents[2] / "sql" / "schema" / "0002_billing.sql"


def upgrade() -> None:
    op.execute(SQL_FILE.read_text())


def downgrade() -> None:
    # btree_gist stays: other schemas may use it, and dropping an extension is a DBA's decision.
    op.execute("DROP SCHEMA IF EXISTS billing CASCADE")
