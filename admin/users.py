"""Admin users: bcrypt passwords, lockout after repeated failures, roles."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import case, func, insert, select, update
from sqlalchemy.engine import Connection

from admin import audit
from core import db
from core import validation as v
from core.actor import Actor
from core.errors import AuthError, Conflict, InvalidField, NotFound
from gateway.auth import check_password_length, hash_password, verify_password
from models import User

ROLES = ("super_admin", "admin", "viewer")
# Everything of a user row but the password hash (read only where a password is checked).
USER_PUBLIC = tuple(c for c in User.__table__.c if c.name != "password_hash")


def get_user(conn: Connection, user_id: int) -> dict | None:
    row = conn.execute(select(*USER_PUBLIC).where(User.id == user_id)).mappings().first()
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
    if conn.execute(select(User.id).where(User.username == username)).first():
        raise Conflict(f"user {username!r} exists")
    user_id = conn.execute(
        insert(User)
        .values(
            username=username,
            password_hash=hash_password(password),
            role=role,
            must_change_password=generated or must_change,
        )
        .returning(User.id)
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
    row = conn.execute(select(*USER_PUBLIC, User.password_hash).where(User.username == username)).mappings().first()
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
        update(User).where(User.id == user_id).values(failed_logins=0, locked_until=None, last_login_at=func.now())
    )


def _count_failure(user_id: int) -> None:
    # Its own transaction: the caller's is rolled back by the AuthError, and the count must stick.
    with db.transaction() as conn:
        count_failure(conn, user_id)


def count_failure(conn: Connection, user_id: int) -> bool:
    """One more failed sign-in step (password or code: one count for both); at the limit the account locks for
    LOGIN_LOCKOUT_SECONDS and the count starts again. Returns True when the account is now locked."""
    limit_reached = User.failed_logins + 1 >= current_app.config["LOGIN_MAX_FAILURES"]
    lockout = timedelta(seconds=current_app.config["LOGIN_LOCKOUT_SECONDS"])
    locked_until = conn.execute(
        update(User)
        .where(User.id == user_id)
        .values(
            failed_logins=case((limit_reached, 0), else_=User.failed_logins + 1),
            locked_until=case((limit_reached, func.now() + lockout), else_=User.locked_until),
        )
        .returning(User.locked_until)
    ).scalar()
    return bool(locked_until and locked_until > datetime.now(UTC))


def set_password(conn: Connection, user_id: int, password: str, actor: Actor | None) -> None:
    check_password_strength(password)
    updated = conn.execute(
        update(User)
        .where(User.id == user_id)
        .values(
            password_hash=hash_password(password),
            must_change_password=False,
            token_version=User.token_version + 1,
            updated_at=func.now(),
        )
    ).rowcount
    if not updated:
        raise NotFound("no such user")
    audit.record(conn, actor, "user.set_password", str(user_id))


def change_own_password(conn: Connection, user_id: int, current: str, new: str, actor: Actor) -> dict:
    """A signed-in user's own change: the current password is asked again and the new one must differ.
    Returns the fresh row (token_version moved on, so other sessions end). Raises InvalidField."""
    current_hash = conn.execute(select(User.password_hash).where(User.id == user_id)).scalar_one()
    if not verify_password(current, current_hash):
        raise InvalidField("current_password is not your current password")
    if new == current:
        raise InvalidField("new_password must differ from the current one")
    set_password(conn, user_id, new, actor)
    return get_user(conn, user_id) or {}


def any_super_admin(conn: Connection) -> bool:
    return bool(conn.execute(select(User.id).where(User.role == "super_admin", User.active)).first())


def list_users(conn: Connection) -> list[dict]:
    return [dict(r) for r in conn.execute(select(*USER_PUBLIC).order_by(User.username)).mappings()]
