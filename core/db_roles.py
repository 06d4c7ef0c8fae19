"""Login roles for the gateway: members of mospay_gateway that switch to it at sign-in, so everything they
create (generated client functions) is owned by the shared role and any instance can replace it."""

from __future__ import annotations

import re
import secrets

from sqlalchemy import create_engine, pool, text
from sqlalchemy.engine import make_url

APP_ROLE = "mospay_gateway"
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def ensure_login_role(owner_url: str, name: str = "mospay_app") -> str:
    """Create (or reset the password of) login role `name` as a member of mospay_gateway; returns a database
    URL that signs in as it. Runs as the owner (a superuser or a role with CREATEROLE). Raises ValueError for a
    name that is not a plain lowercase identifier."""
    if not _NAME.match(name):
        raise ValueError("the role name must be lowercase letters, digits and _ (at most 63)")
    password = secrets.token_urlsafe(24)
    engine = create_engine(owner_url, poolclass=pool.NullPool)
    try:
        with engine.begin() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :n"), {"n": name}).first()
            verb = "ALTER" if exists else "CREATE"
            # Identifiers cannot be bound: the name is checked against _NAME above; the password is a literal
            # quoted by PostgreSQL itself.
            literal = conn.execute(text("SELECT quote_literal(:p)"), {"p": password}).scalar_one()
            conn.exec_driver_sql(
                f"{verb} ROLE {name} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT PASSWORD {literal}"
            )
            conn.exec_driver_sql(f"GRANT {APP_ROLE} TO {name}")
            conn.exec_driver_sql(f"ALTER ROLE {name} SET role = '{APP_ROLE}'")
    finally:
        engine.dispose()
    return make_url(owner_url).set(username=name, password=password).render_as_string(hide_password=False)
