"""Per-client rate limit and monthly quota, shared rate counters, monthly partitions of api_logs and
call_attempts.

Revision ID: 0020
Revises: 0004
Create Date: 2026-11-30 16:00
"""

from pathlib import Path

from alembic import op

revision = "0020"
down_revision = "0004"
branch_labels = None
depends_on = None

SQL_FILE = Path(__file__).resolve().parents[2] / "sql" / "schema" / "0020_limits_partitions.sql"


def upgrade() -> None:
    op.execute(SQL_FILE.read_text())


def downgrade() -> None:
    raise NotImplementedError("0020 is not reversible: restore from a backup taken before the upgrade")
