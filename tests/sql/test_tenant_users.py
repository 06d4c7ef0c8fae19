"""The database itself keeps a user's role paired with where it belongs: gateway roles without a client, client
roles with one (so no code path, psql included, can make a client's user a gateway admin)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from tests.conftest import unique_name
from tests.factories import make_client

INSERT = (
    "INSERT INTO gateway.users (username, password_hash, role, client_id) "
    "VALUES (:u, 'x', :role, (SELECT id FROM gateway.clients WHERE app_id = :app))"
)


@pytest.mark.parametrize(
    ("role", "with_client", "ok"),
    [
        ("admin", False, True),
        ("org_admin", True, True),
        ("user", True, True),
        ("org_admin", False, False),
        ("manager", False, False),
        ("super_admin", True, False),
        ("viewer", True, False),
        ("owner", True, False),
    ],
)
def test_role_and_client_go_together(app, database_url, role, with_client, ok):
    app_id = make_client(app).app_id if with_client else None
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            params = {"u": unique_name("u"), "role": role, "app": app_id}
            if ok:
                conn.execute(text(INSERT), params)
            else:
                with pytest.raises(IntegrityError, match="users_role_valid"):
                    conn.execute(text(INSERT), params)
            conn.rollback()
    finally:
        engine.dispose()
