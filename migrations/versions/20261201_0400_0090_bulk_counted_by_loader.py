"""The summaries' statement triggers go: their transition tables copied every hot-path INSERT's rows; bulk
loaders count their own rows (demo/bulk.py).

Revision ID: 0090
Revises: 0080
Create Date: 2026-12-01 04:00
"""

from pathlib import Path

from alembic import op

revision = "0090"
down_revision = "0080"
branch_labels = None
depends_on = None

SQL_DIR = Path(__file__).resolve().parents[2] / "sql" / "schema"


def upgrade() -> None:
    op.execute((SQL_DIR / "0090_bulk_counted_by_loader.sql").read_text())


def downgrade() -> None:
    op.execute((SQL_DIR / "0090_bulk_counted_by_loader_down.sql").read_text())
