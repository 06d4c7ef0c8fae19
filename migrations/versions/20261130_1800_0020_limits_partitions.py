"""Per-client rate limit and monthly quota, shared rate counters, monthly partitions of api_logs and
call_attempts.

Revision ID: 0020
Revises: 0050
Create Date: 2026-11-30 18:00
"""

from pathlib import Path

from alembic import op

revision = "0020"
down_revision = "0050"
branch_labels = None
depends_on = None

SQL_DIR = Path(__file__).resolve().parents[2] / "sql" / "schema"


def upgrade() -> None:
    op.execute((SQL_DIR / "0020_limits_partitions.sql").read_text())


def downgrade() -> None:
    # Rows are kept; partitions past retention that the worker already dropped are gone either way.
    op.execute((SQL_DIR / "0020_limits_partitions_down.sql").read_text())
