"""Sign-in: bcrypt passwords, lockout, forced password change, TOTP two-factor, sign-out, safe redirects."""

from __future__ import annotations

import time

import pyotp
from sqlalchemy import text

from admin import users
from core import db
from tests.conftest import unique_name
from tests.factories import ACTOR, make_admin
from tests.portal.conftest import csrf_token, post, sign_in


def _user(app, username: str) -> dict:
    with app.app_context(), db.transaction() as conn:
        return dict(
            conn.execute(text("SELECT * FROM gateway.users WHERE username = :u"), {"u": username}).mappings().one()
        )


def test_sign_in_and_out(app):
    username, password = make_admin(app, "admin")
    client = app.test_client()
    response = sign_in(client, username, password)
    assert response.status_code == 302 and response.headers["Location"].endswith("/portal/")
    assert "HttpOnly" in response.headers["Set-Cookie"] and "SameSite=Lax" in response.headers["Set-Cookie"]
    assert client.get("/portal/").status_code == 200
    assert client.get("/portal/logout").status_code == 200  # GET only asks for confirmation
    assert client.get("/portal/").status_code == 200
    response = post(client, "/portal/logout", token_from="/portal/")
    assert response.status_code == 302
    assert client.get("/portal/").status_code == 302
    actions = [r["action"] for r in _audit(app, username)]
    assert "user.login" in actions and "user.logout" in actions


def _audit(app, target: str) -> list[dict]:
    with app.app_context(), db.transaction() as conn:
        return [
            dict(r)
            for r in conn.execute(
                text("SELECT * FROM gateway.audit_log WHERE target = :t ORDER BY id"), {"t": target}
            ).mappings()
        ]


def test_wrong_password_is_refused_without_saying_which_part(app, client):
    username, _ = make_admin(app, "viewer")
    response = sign_in(client, username, "not the password")
    body = response.get_data(as_text=True)
    assert response.status_code == 401
    assert "invalid username or password" in body
    response = sign_in(client, "nobody" + unique_name(), "whatever12345")
    assert response.status_code == 401 and "invalid username or password" in response.get_data(as_text=True)
    # A password typed into the username box is not written to the audit log.
    sign_in(client, "my secret pass phrase!", "x")
    with app.app_context(), db.transaction() as conn:
        targets = conn.execute(
            text("SELECT target FROM gateway.audit_log WHERE action = 'user.login_failed' ORDER BY id DESC LIMIT 1")
        ).scalar()
    assert targets == "(not a valid username)"


def test_empty_form_shows_field_errors(client):
    response = post(client, "/portal/login", {"username": "", "password": ""})
    assert response.status_code == 400
    assert "This field is required." in response.get_data(as_text=True)


def test_lockout_after_repeated_failures(app, client):
    username, password = make_admin(app, "viewer")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert sign_in(client, username, "wrong password!").status_code == 401
    response = sign_in(client, username, password)  # the right password no longer helps
    assert response.status_code == 401
    assert "account locked" in response.get_data(as_text=True)
    assert _user(app, username)["locked_until"] is not None


def test_generated_password_must_be_changed_first(app):
    username = unique_name("u")
    with app.app_context(), db.transaction() as conn:
        _, generated = users.create_user(conn, username, None, "admin", ACTOR)
    client = app.test_client()
    response = sign_in(client, username, generated)
    assert response.headers["Location"].endswith("/portal/account/password")
    # Every other page sends the user back to the password form.
    response = client.get("/portal/clients")
    assert response.status_code == 302 and response.headers["Location"].endswith("/portal/account/password")
    page = client.get("/portal/account/password").get_data(as_text=True)
    assert "Choose your password" in page
    token = csrf_token(client, "/portal/account/password")
    response = client.post(
        "/portal/account/password",
        data={"csrf_token": token, "current_password": generated, "new_password": "short", "confirm": "short"},
    )
    assert response.status_code == 400 and "use at least 10 characters" in response.get_data(as_text=True)
    response = client.post(
        "/portal/account/password",
        data={
            "csrf_token": token,
            "current_password": "wrong one!!",
            "new_password": "a much better one",
            "confirm": "a much better one",
        },
    )
    assert response.status_code == 400 and "not your current password" in response.get_data(as_text=True)
    response = client.post(
        "/portal/account/password",
        data={
            "csrf_token": token,
            "current_password": generated,
            "new_password": "a much better one",
            "confirm": "a much better one",
        },
    )
    assert response.status_code == 302
    assert client.get("/portal/clients").status_code == 200  # still signed in, no longer forced
    assert _user(app, username)["must_change_password"] is False


def test_password_change_ends_other_sessions(app):
    username, password = make_admin(app, "admin")
    first, second = app.test_client(), app.test_client()
    sign_in(first, username, password)
    sign_in(second, username, password)
    token = csrf_token(first, "/portal/account")
    response = first.post(
        "/portal/account/password",
        data={
            "csrf_token": token,
            "current_password": password,
            "new_password": "brand new passphrase",
            "confirm": "brand new passphrase",
        },
    )
    assert response.status_code == 302
    assert first.get("/portal/").status_code == 200
    assert second.get("/portal/").status_code == 302  # its session carried the old token_version


def _require_totp(app, username: str) -> None:
    with app.app_context(), db.transaction() as conn:
        conn.execute(text("UPDATE gateway.users SET totp_required = true WHERE username = :u"), {"u": username})


def test_required_two_factor_is_set_up_at_sign_in_then_asked_every_time(app):
    username, password = make_admin(app, "admin")
    _require_totp(app, username)
    client = app.test_client()
    response = sign_in(client, username, password)
    assert response.headers["Location"].endswith("/portal/login/enrol")
    assert client.get("/portal/").status_code == 302  # not signed in until the second factor is set
    page = client.get("/portal/login/enrol").get_data(as_text=True)
    secret = page.split('data-test="secret-totp"')[0].rsplit('value="', 1)[1].split('"', 1)[0]
    token = csrf_token(client, "/portal/login/enrol")
    response = client.post("/portal/login/enrol", data={"csrf_token": token, "code": "000000"})
    assert response.status_code == 400 and "code does not match" in response.get_data(as_text=True)
    response = client.post("/portal/login/enrol", data={"csrf_token": token, "code": pyotp.TOTP(secret).now()})
    assert response.status_code == 302
    assert client.get("/portal/").status_code == 200
    assert _user(app, username)["totp_secret_enc"] and secret not in _user(app, username)["totp_secret_enc"]

    # Next sign-in: password, then a code; a wrong code and a replayed code are refused.
    other = app.test_client()
    response = sign_in(other, username, password)
    assert response.headers["Location"].endswith("/portal/login/code")
    token = csrf_token(other, "/portal/login/code")
    response = other.post("/portal/login/code", data={"csrf_token": token, "code": "123456"})
    assert response.status_code == 401 and "not valid" in response.get_data(as_text=True)
    # The enrolment consumed a time step: its code (still inside the drift window) is refused now.
    used = pyotp.TOTP(secret).generate_otp(_user(app, username)["totp_last_step"])
    response = other.post("/portal/login/code", data={"csrf_token": token, "code": used})
    assert response.status_code == 401, "a code already used must not sign in again"
    # Instead of waiting up to 30 s for the next step, pretend the last code used was one step older.
    with app.app_context(), db.transaction() as conn:
        conn.execute(
            text("UPDATE gateway.users SET totp_last_step = totp_last_step - 2 WHERE username = :u"), {"u": username}
        )
    response = other.post("/portal/login/code", data={"csrf_token": token, "code": pyotp.TOTP(secret).now()})
    assert response.status_code == 302
    assert other.get("/portal/").status_code == 200


def test_code_step_needs_the_password_step_first(client):
    response = client.get("/portal/login/code")
    assert response.status_code == 302 and response.headers["Location"].endswith("/portal/login")


def test_next_is_followed_only_on_this_site(app):
    username, password = make_admin(app, "viewer")
    client = app.test_client()
    token = csrf_token(client)
    response = client.post(
        "/portal/login?next=/portal/clients", data={"csrf_token": token, "username": username, "password": password}
    )
    assert response.headers["Location"].endswith("/portal/clients")
    client = app.test_client()
    token = csrf_token(client)
    response = client.post(
        "/portal/login?next=https://evil.example/phish",
        data={"csrf_token": token, "username": username, "password": password},
    )
    assert response.headers["Location"].endswith("/portal/")


def test_idle_sessions_end(app):
    username, password = make_admin(app, "viewer")
    client = app.test_client()
    sign_in(client, username, password)
    with client.session_transaction() as session:
        session["seen_at"] = int(time.time()) - 4000
    response = client.get("/portal/clients")
    assert response.status_code == 302 and "/portal/login" in response.headers["Location"]
    assert "inactivity" in client.get("/portal/login").get_data(as_text=True)
