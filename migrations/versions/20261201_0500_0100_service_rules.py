"""A service's field rules and their version kept on its row by a trigger, so authentication reads them
instead of aggregating service_fields for every request.

Revision ID: 0100
Revises: 0090
Create Date: 2026-12-01 05:00
"""

from pathlib import Path

from alembic import op

revision = "0100"
down_revision = "0090"
branch_labels = None
depends_on = None

SQL_DIR = Path(__file__).resolve().parents[2] / "sql" / "schema"


def upgrade() -> None:
    op.execute((SQL_DIR / "0100_service_rules.sql").read_text())


def downgrade() -> None:
    op.execute((SQL_DIR / "0100_service_rules_down.sql").read_text())
