"""Admin API sign-in: the TOTP code is required, the forced password change holds, one failure count for password
and code, unknown users cost the same time as known ones, over-long passwords are a 400."""

from __future__ import annotations

import statistics
import time

import pyotp
import pytest
from sqlalchemy import text

from admin import two_factor, users
from core import db
from tests.conftest import basic, unique_name
from tests.factories import ACTOR, make_admin
from tests.portal.conftest import post

PASSWORD = "correct horse battery"  # noqa: S105 - a test fixture
TOKEN = "/api/v1/admin/auth/token"
CHANGE = "/api/v1/admin/account/password"


def _totp_user(app) -> tuple[str, str]:
    username, _ = make_admin(app, "admin")
    secret = two_factor.new_secret()
    with app.app_context(), db.transaction() as conn:
        user = conn.execute(text("SELECT id, username FROM gateway.users WHERE username = :u"), {"u": username})
        two_factor.enable(conn, dict(user.mappings().one()), secret, pyotp.TOTP(secret).now(), ACTOR)
        # the enrolment consumed the current step; let this step's code be used once more by the test
        conn.execute(text("UPDATE gateway.users SET totp_last_step = NULL WHERE username = :u"), {"u": username})
    return username, secret


def _row(app, username: str) -> dict:
    with app.app_context(), db.transaction() as conn:
        return dict(
            conn.execute(
                text("SELECT failed_logins, locked_until FROM gateway.users WHERE username = :u"), {"u": username}
            )
            .mappings()
            .one()
        )


def test_token_needs_the_totp_code(app, client):
    username, secret = _totp_user(app)
    resp = client.post(TOKEN, headers={"Authorization": basic(username, PASSWORD)})
    assert resp.status_code == 401
    assert '"otp"' in resp.get_json()["message"] and "two-factor" in resp.get_json()["message"]
    wrong = client.post(TOKEN, headers={"Authorization": basic(username, PASSWORD)}, json={"otp": "000000"})
    assert wrong.status_code == 401 and "token" not in wrong.get_json()
    ok = client.post(
        TOKEN, headers={"Authorization": basic(username, PASSWORD)}, json={"otp": pyotp.TOTP(secret).now()}
    )
    assert ok.status_code == 200, ok.get_json()
    assert ok.get_json()["token"]


def test_required_but_not_enrolled_two_factor_is_refused(app, client):
    username, _ = make_admin(app, "admin")
    with app.app_context(), db.transaction() as conn:
        conn.execute(text("UPDATE gateway.users SET totp_required = true WHERE username = :u"), {"u": username})
    resp = client.post(TOKEN, headers={"Authorization": basic(username, PASSWORD)})
    assert resp.status_code == 403 and "portal" in resp.get_json()["message"]


def test_correct_password_does_not_reset_wrong_code_count(app, client):
    """Password + wrong codes, repeated: the fifth failure locks, and the lock holds for a correct code."""
    username, secret = _totp_user(app)
    for _ in range(5):
        resp = client.post(TOKEN, headers={"Authorization": basic(username, PASSWORD)}, json={"otp": "000000"})
        assert resp.status_code == 401
    assert _row(app, username)["locked_until"] is not None
    resp = client.post(
        TOKEN, headers={"Authorization": basic(username, PASSWORD)}, json={"otp": pyotp.TOTP(secret).now()}
    )
    assert resp.status_code == 401 and "locked" in resp.get_json()["message"]


def test_portal_password_step_does_not_reset_wrong_code_count(app):
    username, _ = _totp_user(app)
    for _ in range(3):  # password right, code wrong, twice per round: 6 failures in all
        browser = app.test_client()
        step = post(browser, "/portal/login", {"username": username, "password": PASSWORD})
        if step.status_code == 401:
            break
        assert step.status_code == 302 and step.headers["Location"].endswith("/portal/login/code")
        for _ in range(2):
            post(browser, "/portal/login/code", {"code": "000000"}, token_from="/portal/login/code")
    assert _row(app, username)["locked_until"] is not None


def test_forced_password_change_blocks_the_api_until_done(app, client):
    username = unique_name("u")
    with app.app_context(), db.transaction() as conn:
        users.create_user(conn, username, PASSWORD, "admin", ACTOR, must_change=True)
    resp = client.post(TOKEN, headers={"Authorization": basic(username, PASSWORD)})
    assert resp.status_code == 403 and CHANGE in resp.get_json()["message"]
    new = "a much better passphrase"
    bad = client.post(
        CHANGE,
        headers={"Authorization": basic(username, PASSWORD)},
        json={"current_password": "not it at all", "new_password": new},
    )
    assert bad.status_code == 400
    wrong_basic = client.post(
        CHANGE,
        headers={"Authorization": basic(username, "wrong pass")},
        json={"current_password": "wrong pass", "new_password": new},
    )
    assert wrong_basic.status_code == 401
    changed = client.post(
        CHANGE,
        headers={"Authorization": basic(username, PASSWORD)},
        json={"current_password": PASSWORD, "new_password": new},
    )
    assert changed.status_code == 200, changed.get_json()
    assert client.post(TOKEN, headers={"Authorization": basic(username, PASSWORD)}).status_code == 401
    assert client.post(TOKEN, headers={"Authorization": basic(username, new)}).status_code == 200


@pytest.mark.parametrize("where", ["token", "change", "create"])
def test_passwords_over_72_bytes_are_a_400(app, client, where):
    long = "é" * 40  # 80 bytes in UTF-8
    username, _ = make_admin(app, "super_admin")
    if where == "token":
        resp = client.post(TOKEN, headers={"Authorization": basic(username, long)})
    elif where == "change":
        resp = client.post(
            CHANGE,
            headers={"Authorization": basic(username, PASSWORD)},
            json={"current_password": PASSWORD, "new_password": long},
        )
    else:
        with app.app_context(), db.transaction() as conn:
            from core.errors import InvalidField

            with pytest.raises(InvalidField, match="72 bytes"):
                users.create_user(conn, unique_name("u"), long, "admin", ACTOR)
        return
    assert resp.status_code == 400, resp.get_json()
    assert "72 bytes" in resp.get_json()["message"]


def test_unknown_users_cost_the_same_time_as_known_ones(app, client):
    username, _ = make_admin(app, "viewer")

    def timed(name: str) -> float:
        started = time.perf_counter()
        resp = client.post(TOKEN, headers={"Authorization": basic(name, "wrong password!")})
        assert resp.status_code == 401
        return time.perf_counter() - started

    known = statistics.median(timed(username) for _ in range(3))
    unknown = statistics.median(timed(unique_name("ghost")) for _ in range(3))
    print(f"admin sign-in, wrong password: known user {known * 1000:.0f} ms, unknown user {unknown * 1000:.0f} ms")
    assert unknown > known * 0.6, (unknown, known)
    with app.app_context(), db.transaction() as conn:  # the wrong passwords above must not lock the user forever
        conn.execute(text("UPDATE gateway.users SET failed_logins = 0 WHERE username = :u"), {"u": username})
