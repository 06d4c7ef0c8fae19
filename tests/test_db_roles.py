"""The gateway connects as a role that is not a superuser, cannot create roles or alter the gateway and billing
tables, and may create and replace functions in the client-function schema only."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import create_engine, pool, text

from core import db
from core.errors import GatewayError
from gateway import function_builder


def _as_app(app, statement: str):
    with app.app_context(), db.transaction() as conn:
        return conn.execute(text(statement)).first()


def test_the_app_is_not_a_superuser(app):
    row = _as_app(
        app,
        "SELECT current_user, session_user, r.rolsuper, r.rolcreaterole, r.rolcreatedb "
        "FROM pg_roles r WHERE r.rolname = current_user",
    )
    assert row[0] == "mospay_gateway" and row[1] == "mospay_app"
    assert (row[2], row[3], row[4]) == (False, False, False)


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE ROLE intruder LOGIN SUPERUSER",
        "CREATE ROLE intruder",
        "ALTER TABLE gateway.transactions ADD COLUMN x integer",
        "ALTER TABLE gateway.users DISABLE TRIGGER ALL",
        "DROP TABLE gateway.api_logs",
        "TRUNCATE gateway.audit_log",
        "CREATE TABLE gateway.x (id int)",
        "ALTER TABLE billing.subscribers ADD COLUMN x integer",
        "CREATE OR REPLACE FUNCTION gateway.settle(bigint, json, text, jsonb) RETURNS jsonb "
        "LANGUAGE sql AS $$ SELECT '{}'::jsonb $$",
        "CREATE FUNCTION public.x() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$",
        "ALTER ROLE mospay_app SUPERUSER",
    ],
)
def test_the_app_cannot_change_the_schema_or_roles(app, statement):
    # The caller sees a generic 500 (database messages are never echoed); the cause is PostgreSQL's refusal.
    with pytest.raises(GatewayError) as refused:
        _as_app(app, statement)
    assert re.search("permission denied|must be owner|must be superuser|privilege", str(refused.value.__cause__))


def test_the_app_creates_and_replaces_client_functions(app):
    body = "CREATE OR REPLACE FUNCTION clientfn.zz_probe() RETURNS int LANGUAGE sql AS $$ SELECT {} $$"
    with app.app_context(), db.transaction() as conn:
        conn.execute(text(body.format(1)))
        conn.execute(text(body.format(2)))
        assert conn.execute(text("SELECT clientfn.zz_probe()")).scalar() == 2
        owner = conn.execute(text("SELECT pg_get_userbyid(proowner) FROM pg_proc WHERE proname = 'zz_probe'")).scalar()
        conn.execute(text("DROP FUNCTION clientfn.zz_probe()"))
    assert owner == "mospay_gateway"
    assert function_builder.FN_SCHEMA == "clientfn"


def test_migrations_run_as_the_owner(app, database_url):
    """The owner (MIGRATION_DATABASE_URL) owns every gateway and billing table; the app's role owns none."""
    engine = create_engine(database_url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            owners = (
                conn.execute(
                    text("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname IN ('gateway', 'billing')")
                )
                .scalars()
                .all()
            )
    finally:
        engine.dispose()
    assert owners and "mospay_gateway" not in owners and "mospay_app" not in owners
