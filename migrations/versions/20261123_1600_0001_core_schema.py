"""Core gateway schema: clients, services, registry, transactions, logs, outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 16:00
"""

from pathlib import Path

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SQL_FILE = Path(__file__).resolve().parents[2] / "sql" / "schema" / "0001_core.sql"


def upgrade() -> None:
    op.execute(SQL_FILE.read_text())


def downgrade() -> None:
    op.execute("DROP SCHEMA IF EXISTS clientfn CASCADE")
    op.execute("DROP SCHEMA IF EXISTS gateway CASCADE")
