"""Admin users: bcrypt passwords, lockout after repeated failures, roles."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import case, func, insert, select, update
from sqlalchemy.engine import Connection

from admin import audit
from admin.roles import CLIENT_ROLES, GATEWAY_ROLES
from core import db
from core.actor import Actor
from core.errors import AuthError, Conflict, InvalidField, NotFound
from gateway.auth import check_password_length, hash_password, verify_password
from models import Client, User

ROLES = GATEWAY_ROLES
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{3,64}$")  # gateway.users' own CHECK
# Everything of a user row but the password hash (read only where a password is checked), and the app_id of
# the client a tenant user belongs to.
USER_PUBLIC = (*(c for c in User.__table__.c if c.name != "password_hash"), Client.app_id.label("client_app_id"))
_USERS = User.__table__.outerjoin(Client, Client.id == User.client_id)


def get_user(conn: Connection, user_id: int) -> dict | None:
    row = conn.execute(select(*USER_PUBLIC).select_from(_USERS).where(User.id == user_id)).mappings().first()
    return dict(row) if row else None


def actor_of(user: dict) -> Actor:
    """The audit identity of a users row (a tenant user's actions belong to their client's log)."""
    return {"id": user["id"], "username": user["username"], "role": user["role"], "client_id": user["client_id"]}


def roles_for(client_id: int | None) -> tuple[str, ...]:
    """The roles a user of the gateway (None) or of a client may hold."""
    return GATEWAY_ROLES if client_id is None else CLIENT_ROLES


def check_role(role: object, client_id: int | None) -> str:
    allowed = roles_for(client_id)
    if role not in allowed:
        kind = "a gateway user" if client_id is None else "a client's user"
        raise InvalidField(f"role of {kind} must be one of {', '.join(allowed)}")
    return str(role)


def check_email(email: object) -> str | None:
    if email in (None, ""):
        return None
    if not isinstance(email, str) or len(email) > 254 or "@" not in email.strip("@") or any(c.isspace() for c in email):
        raise InvalidField("email must be an address such as ops@example.com (at most 254 characters)")
    return email


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
    client_id: int | None = None,
    email: str | None = None,
) -> tuple[dict, str]:
    """Create a gateway user, or with `client_id` a client's own user; a missing password is generated (and must
    be changed at first sign-in). Returns (user, password)."""
    if not isinstance(username, str) or not USERNAME_RE.match(username):
        raise InvalidField("username must be 3-64 letters, digits, '.', '_', '@' or '-'")
    check_role(role, client_id)
    email = check_email(email)
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
            client_id=client_id,
            email=email,
        )
        .returning(User.id)
    ).scalar_one()
    audit.record(conn, actor, "user.create", username, after={"role": role}, client_id=client_id)
    return get_user(conn, user_id) or {}, password


def has_second_factor(user: dict) -> bool:
    return bool(user.get("totp_secret_enc") or user.get("totp_required"))


def authenticate(conn: Connection, username: str, password: str) -> dict:
    """The user for a correct username/password. Counts failures and locks the account after too many; the
    count is reset here only for users without a second factor (theirs after the code: login_succeeded).
    Raises AuthError with a message that does not reveal which part was wrong, InvalidField over 72 bytes."""
    check_password_length(password)
    row = (
        conn.execute(select(*USER_PUBLIC, User.password_hash).select_from(_USERS).where(User.username == username))
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
    client_id = conn.execute(
        update(User)
        .where(User.id == user_id)
        .values(
            password_hash=hash_password(password),
            must_change_password=False,
            token_version=User.token_version + 1,
            updated_at=func.now(),
        )
        .returning(User.client_id)
    ).first()
    if client_id is None:
        raise NotFound("no such user")
    audit.record(conn, actor, "user.set_password", str(user_id), client_id=client_id[0])


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


def list_users(conn: Connection, client_id: int | None = None) -> list[dict]:
    """The gateway's own users, or with `client_id` the users of that client (each listed on its client's page)."""
    belongs = User.client_id.is_(None) if client_id is None else User.client_id == client_id
    query = select(*USER_PUBLIC).select_from(_USERS).where(belongs).order_by(User.username)
    return [dict(r) for r in conn.execute(query).mappings()]
