"""User management by super admins: every change audited, sessions ended where rights change."""

from __future__ import annotations

import re

from sqlalchemy import text

from core import db
from tests.conftest import unique_name
from tests.factories import make_admin
from tests.portal.conftest import csrf_token, sign_in


def _id(app, username: str) -> int:
    with app.app_context(), db.transaction() as conn:
        return conn.execute(text("SELECT id FROM gateway.users WHERE username = :u"), {"u": username}).scalar_one()


def _act(client, user_id: int, action: str, **extra):
    return client.post(
        f"/portal/users/{user_id}", data={"csrf_token": csrf_token(client, "/portal/users"), "action": action, **extra}
    )


def test_create_user_with_generated_password_shown_once(app, super_client):
    username = unique_name("u")
    response = super_client.post(
        "/portal/users",
        data={
            "csrf_token": csrf_token(super_client, "/portal/users"),
            "username": username,
            "role": "viewer",
            "totp_required": "y",
        },
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and 'data-test="shown-once"' in body
    password = re.search(r'value="([^"]+)" data-test="secret-password"', body).group(1)
    assert password not in super_client.get("/portal/users").get_data(as_text=True)
    fresh = app.test_client()
    assert sign_in(fresh, username, password).headers["Location"].endswith("/portal/login/enrol")


def test_create_user_validation(super_client):
    token = csrf_token(super_client, "/portal/users")
    response = super_client.post("/portal/users", data={"csrf_token": token, "username": "a b", "role": "viewer"})
    assert response.status_code == 400 and "3–64 letters" in response.get_data(as_text=True)
    response = super_client.post(
        "/portal/users",
        data={"csrf_token": token, "username": super_client.username, "role": "viewer", "password": "long enough pw"},
    )
    assert response.status_code == 400 and "exists" in response.get_data(as_text=True)


def test_role_change_and_deactivation_end_sessions(app, super_client):
    username, password = make_admin(app, "admin")
    user_client = app.test_client()
    sign_in(user_client, username, password)
    assert user_client.get("/portal/clients/new").status_code == 200
    assert _act(super_client, _id(app, username), "role", role="viewer").status_code == 302
    assert user_client.get("/portal/").status_code == 302  # signed out by the change
    sign_in(user_client, username, password)
    assert user_client.get("/portal/clients/new").status_code == 403
    assert _act(super_client, _id(app, username), "deactivate").status_code == 302
    assert user_client.get("/portal/").status_code == 302
    assert sign_in(user_client, username, password).status_code == 401
    assert _act(super_client, _id(app, username), "activate").status_code == 302
    assert sign_in(user_client, username, password).status_code == 302


def test_super_admin_cannot_lock_themself_out(app, super_client):
    response = _act(super_client, _id(app, super_client.username), "deactivate")
    assert response.status_code == 302
    page = super_client.get("/portal/users").get_data(as_text=True)
    assert "you cannot deactivate your own account" in page


def test_unlock_and_reset_password(app, super_client, client):
    username, password = make_admin(app, "viewer")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        sign_in(client, username, "wrong password!")
    assert sign_in(client, username, password).status_code == 401
    assert _act(super_client, _id(app, username), "unlock").status_code == 302
    assert sign_in(client, username, password).status_code == 302
    response = _act(super_client, _id(app, username), "reset_password")
    new_password = re.search(r'value="([^"]+)" data-test="secret-password"', response.get_data(as_text=True)).group(1)
    fresh = app.test_client()
    assert sign_in(fresh, username, new_password).headers["Location"].endswith("/portal/account/password")
    audit = super_client.get(f"/portal/audit?target={username}").get_data(as_text=True)
    assert "user.unlock" in audit and "user.reset_password" in audit
    assert new_password not in audit


def test_unknown_action_and_user(app, super_client):
    assert "unknown action" in super_client.get(
        _act(super_client, _id(app, super_client.username), "explode").headers["Location"]
    ).get_data(as_text=True)
    response = _act(super_client, 987654321, "unlock")
    assert "no user with id 987654321" in super_client.get(response.headers["Location"]).get_data(as_text=True)
