"""The DBA's workshop: version origins and reasons, tests attached to functions.

Revision ID: 0010
Revises: 0004
Create Date: 2026-11-30 16:00
"""

from pathlib import Path

from alembic import op

revision = "0010"
down_revision = "0004"
branch_labels = None
depends_on = None

SQL_FILE = Path(__file__).resolve().parents[2] / "sql" / "schema" / "0010_workshop.sql"


def upgrade() -> None:
    op.execute(SQL_FILE.read_text())


def downgrade() -> None:
    op.execute("DROP EVENT TRIGGER IF EXISTS record_client_function_ddl")
    op.execute("DROP FUNCTION IF EXISTS gateway.record_function_ddl()")
    op.execute("DROP TABLE IF EXISTS gateway.function_tests")
    op.execute("DROP INDEX IF EXISTS gateway.function_versions_registry")
    op.execute("ALTER TABLE gateway.function_versions DROP COLUMN IF EXISTS reason")
    op.execute(
        "UPDATE gateway.function_versions SET origin = 'dba_edit' WHERE origin IN ('api', 'portal', 'psql', 'import')"
    )
    op.execute("ALTER TABLE gateway.function_versions DROP CONSTRAINT function_versions_origin_valid")
    op.execute(
        "ALTER TABLE gateway.function_versions ADD CONSTRAINT function_versions_origin_valid "
        "CHECK (origin IN ('generated', 'dba_edit', 'rollback'))"
    )
