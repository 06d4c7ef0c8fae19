"""The summaries' triggers append deltas (no upsert and row lock per request); the worker folds them in and
readers read the *_live views.

Revision ID: 0110
Revises: 0100
Create Date: 2026-12-01 06:00
"""

from pathlib import Path

from alembic import op

revision = "0110"
down_revision = "0100"
branch_labels = None
depends_on = None

SQL_DIR = Path(__file__).resolve().parents[2] / "sql" / "schema"


def upgrade() -> None:
    op.execute((SQL_DIR / "0110_summary_deltas.sql").read_text())


def downgrade() -> None:
    op.execute((SQL_DIR / "0110_summary_deltas_down.sql").read_text())
