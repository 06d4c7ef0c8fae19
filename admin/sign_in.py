"""Admin API sign-in: password and, for enrolled users, the TOTP code, under one failure count and lockout;
the forced password change holds here as in the portal."""

from __future__ import annotations

from admin import audit, two_factor, users
from core import db
from core.crypto import constant_time_equal
from core.errors import AuthError, InvalidField, NotAssigned
from gateway.auth import check_password_length

SIGN_IN_ACTOR = {"id": None, "username": "(api sign-in)"}
CHANGE_PASSWORD_PATH = "/api/v1/admin/account/password"
OTP_MISSING = (
    'this account uses two-factor sign-in: send the current 6-digit code from your authenticator app as {"otp": '
    '"123456"} in the JSON body'
)
LOCKED = "account locked after repeated failures; try again later or ask a super admin"


def verify(username: str, password: str, otp: object) -> dict:
    """The user once the password and (when enrolled) the TOTP code are right. Failures of either count once.
    Raises AuthError (401: wrong, missing code, locked), NotAssigned (403: two-factor required but not set up),
    InvalidField (400: password over 72 bytes)."""
    with db.transaction() as conn:
        user = users.authenticate(conn, username, password)  # counts a wrong password in its own transaction
    if user["totp_secret_enc"]:
        if otp in (None, ""):
            raise AuthError(OTP_MISSING)
        with db.transaction() as conn:
            ok = two_factor.verify(conn, user["id"], two_factor.decrypt(user["totp_secret_enc"]), str(otp))
            locked = False
            if not ok:
                locked = users.count_failure(conn, user["id"])
                audit.record(
                    conn,
                    SIGN_IN_ACTOR,
                    "user.login_failed",
                    user["username"],
                    after={"step": "totp"},
                    client_id=user["client_id"],
                )
        if not ok:
            raise AuthError(LOCKED if locked else "that code is not valid now (or was already used)")
    elif user["totp_required"]:
        raise NotAssigned("two-factor sign-in is required for this account: set it up in the portal first")
    with db.transaction() as conn:
        users.login_succeeded(conn, user["id"])
    return user


def token_user(username: str, password: str, otp: object) -> dict:
    """verify(), then the forced password change: NotAssigned (403) until the user chose their own."""
    user = verify(username, password, otp)
    if user["must_change_password"]:
        raise NotAssigned(
            "you must change your password before using the admin API: sign in to the portal, or POST "
            f'{CHANGE_PASSWORD_PATH} {{"current_password", "new_password"}} with Basic auth'
        )
    return user


def change_password(username: str, password: str, body: dict) -> None:
    """Change the signed-in user's own password (Basic auth with the current one, the same in the body).
    Raises as verify(); InvalidField when the body's current_password differs or the new one is too weak."""
    current, new = body.get("current_password"), body.get("new_password")
    if not isinstance(new, str) or not new:
        raise InvalidField("new_password is required (a string of at least 10 characters)")
    check_password_length(new, "new_password")
    user = verify(username, password, body.get("otp"))
    # Basic already proved the current password; the body repeats it so a replayed header alone changes nothing.
    if not isinstance(current, str) or not constant_time_equal(current, password):
        raise InvalidField("current_password is not your current password")
    if new == current:
        raise InvalidField("new_password must differ from the current one")
    with db.transaction() as conn:
        users.set_password(conn, user["id"], new, users.actor_of(user))
