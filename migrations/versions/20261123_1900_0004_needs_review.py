"""Partial index for transactions flagged for review.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 19:00
"""

from pathlib import Path

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SQL_FILE = Path(__file__).resolve().parents[2] / "sql" / "schema" / "0004_review.sql"


def upgrade() -> None:
    op.execute(SQL_FILE.read_text())


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS gateway.transactions_needs_review")
