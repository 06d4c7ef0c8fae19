"""Tenant users (users.client_id, email; role paired with it) and the client an audit row concerns.

Revision ID: 0070
Revises: 0060
Create Date: 2026-11-30 19:00
"""

from pathlib import Path

from alembic import op

revision = "0070"
down_revision = "0060"
branch_labels = None
depends_on = None

SQL_DIR = Path(__file__).resolve().parents[2] / "sql" / "schema"


def upgrade() -> None:
    op.execute((SQL_DIR / "0070_tenant_users.sql").read_text())


def downgrade() -> None:
    op.execute((SQL_DIR / "0070_tenant_users_down.sql").read_text())
