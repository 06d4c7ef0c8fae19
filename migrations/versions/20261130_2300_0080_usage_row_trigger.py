"""The API usage pre-aggregate counted by a row trigger (no transition table per request); api_endpoint in
PL/pgSQL so its plan is cached.

Revision ID: 0080
Revises: 0070
Create Date: 2026-11-30 23:00
"""

from pathlib import Path

from alembic import op

revision = "0080"
down_revision = "0070"
branch_labels = None
depends_on = None

SQL_DIR = Path(__file__).resolve().parents[2] / "sql" / "schema"


def upgrade() -> None:
    op.execute((SQL_DIR / "0080_usage_row_trigger.sql").read_text())


def downgrade() -> None:
    op.execute((SQL_DIR / "0080_usage_row_trigger_down.sql").read_text())
