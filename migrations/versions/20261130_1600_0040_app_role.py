"""The gateway's own database role (mospay_gateway): migrations run as the owner, the app as this role;
an index for late success callbacks awaiting their STK query.

Revision ID: 0040
Revises: 0030
Create Date: 2026-11-30 16:00
"""

from pathlib import Path

from alembic import op

revision = "0040"
down_revision = "0030"
branch_labels = None
depends_on = None

SQL_FILE = Path(__file__).resolve().parents[2] / "sql" / "schema" / "0040_app_role.sql"


def upgrade() -> None:
    op.execute(SQL_FILE.read_text())


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS gateway.transactions_late_checks")
    # The role may own client functions and have members: dropping it is the operator's decision.
