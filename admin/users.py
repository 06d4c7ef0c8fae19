"""Admin users: bcrypt passwords, lockout after repeated failures, roles."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import text
from sqlalchemy.engine import Connection

from admin import audit
from core import db
from core import validation as v
from core.actor import Actor
from core.errors import AuthError, Conflict, InvalidField, NotFound
from gateway.auth import check_password_length, hash_password, verify_password

ROLES = ("super_admin", "admin", "viewer")
USER_COLUMNS = (
    "id, username, role, active, must_change_password, totp_required, totp_secret_enc, failed_logins, "
    "locked_until, token_version, last_login_at, created_at"
)


def get_user(conn: Connection, user_id: int) -> dict | None:
    row = (
        conn.execute(
            text(f"SELECT {USER_COLUMNS} FROM gateway.users WHERE id = :i"),  # noqa: S608
            {"i": user_id},
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def check_password_strength(password: str) -> None:
    if len(password) < 10:
        raise InvalidField("password must be at least 10 characters")
    check_password_length(password)


def create_user(
    conn: Connection,
    username: str,
    password: str | None,
    role: str,
    actor: Actor | None = None,
    *,
    must_change: bool = False,
) -> tuple[dict, str]:
    """Create an admin user; a missing password is generated (and must be changed at first sign-in).
    Returns (user, password)."""
    v.text_field({"username": username}, "username", max_length=64)
    if role not in ROLES:
        raise InvalidField(f"role must be one of {', '.join(ROLES)}")
    generated = password is None
    password = password or secrets.token_urlsafe(12)
    check_password_strength(password)
    if conn.execute(text("SELECT 1 FROM gateway.users WHERE username = :u"), {"u": username}).first():
        raise Conflict(f"user {username!r} exists")
    user_id = conn.execute(
        text(
            "INSERT INTO gateway.users (username, password_hash, role, must_change_password) "
            "VALUES (:u, :p, :r, :m) RETURNING id"
        ),
        {"u": username, "p": hash_password(password), "r": role, "m": generated or must_change},
    ).scalar_one()
    audit.record(conn, actor, "user.create", username, after={"role": role})
    return get_user(conn, user_id) or {}, password


def has_second_factor(user: dict) -> bool:
    return bool(user.get("totp_secret_enc") or user.get("totp_required"))


def authenticate(conn: Connection, username: str, password: str) -> dict:
    """The user for a correct username/password. Counts failures and locks the account after too many; the
    count is reset here only for users without a second factor (theirs after the code: login_succeeded).
    Raises AuthError with a message that does not reveal which part was wrong, InvalidField over 72 bytes."""
    check_password_length(password)
    row = (
        conn.execute(
            text(f"SELECT {USER_COLUMNS}, password_hash FROM gateway.users WHERE username = :u"),  # noqa: S608
            {"u": username},
        )
        .mappings()
        .first()
    )
    now = datetime.now(UTC)
    if row is None:
        verify_password(password, None)  # a real bcrypt check of the same cost: no timing tells who exists
        raise AuthError("invalid username or password")
    if row["locked_until"] and row["locked_until"] > now:
        raise AuthError("account locked after repeated failures; try again later or ask a super admin")
    if not verify_password(password, row["password_hash"]) or not row["active"]:
        _count_failure(row["id"])
        raise AuthError("invalid username or password")
    user = dict(row)
    user.pop("password_hash")
    if not has_second_factor(user):
        login_succeeded(conn, user["id"])
    return user


def login_succeeded(conn: Connection, user_id: int) -> None:
    """Every factor passed: reset the failure count (one count for password and code, so a right password alone
    never clears failed codes)."""
    conn.execute(
        text("UPDATE gateway.users SET failed_logins = 0, locked_until = NULL, last_login_at = now() WHERE id = :i"),
        {"i": user_id},
    )


def _count_failure(user_id: int) -> None:
    # Its own transaction: the caller's is rolled back by the AuthError, and the count must stick.
    with db.transaction() as conn:
        conn.execute(
            text(
                "UPDATE gateway.users SET failed_logins = CASE WHEN failed_logins + 1 >= :max THEN 0 "
                "ELSE failed_logins + 1 END, locked_until = CASE WHEN failed_logins + 1 >= :max "
                "THEN now() + make_interval(secs => :lock) ELSE locked_until END WHERE id = :i"
            ),
            {
                "max": current_app.config["LOGIN_MAX_FAILURES"],
                "lock": current_app.config["LOGIN_LOCKOUT_SECONDS"],
                "i": user_id,
            },
        )


def set_password(conn: Connection, user_id: int, password: str, actor: Actor | None) -> None:
    check_password_strength(password)
    updated = conn.execute(
        text(
            "UPDATE gateway.users SET password_hash = :p, must_change_password = false, "
            "token_version = token_version + 1, updated_at = now() WHERE id = :i"
        ),
        {"p": hash_password(password), "i": user_id},
    ).rowcount
    if not updated:
        raise NotFound("no such user")
    audit.record(conn, actor, "user.set_password", str(user_id))


def any_super_admin(conn: Connection) -> bool:
    return bool(conn.execute(text("SELECT 1 FROM gateway.users WHERE role = 'super_admin' AND active")).first())


def list_users(conn: Connection) -> list[dict]:
    return [
        dict(r)
        for r in conn.execute(text(f"SELECT {USER_COLUMNS} FROM gateway.users ORDER BY username")).mappings().all()
    ]  # noqa: S608
