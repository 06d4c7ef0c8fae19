"""Super-admin actions on portal users beyond users.py: role, activation, unlock, 2FA policy, password reset.
Every change is audited, and changes that end a user's sessions bump token_version."""

from __future__ import annotations

import secrets

from sqlalchemy import func, update
from sqlalchemy.engine import Connection

from admin import audit, two_factor, users
from core.actor import Actor
from core.errors import Conflict, NotFound
from models import User


def _user(conn: Connection, user_id: int) -> dict:
    user = users.get_user(conn, user_id)
    if user is None:
        raise NotFound(f"no user with id {user_id}")
    return user


def _not_self(user: dict, actor: Actor, what: str) -> None:
    # A super admin who demotes or disables themself can lock everyone out of user management.
    if actor.get("id") == user["id"]:
        raise Conflict(f"you cannot {what} your own account; ask another administrator")


def _update(conn: Connection, user_id: int, **values: object) -> None:
    conn.execute(update(User).where(User.id == user_id).values(**values, updated_at=func.now()))


def set_role(conn: Connection, user_id: int, role: str, actor: Actor) -> dict:
    """Change a user's role; their open sessions end so the new rights apply at once."""
    user = _user(conn, user_id)
    users.check_role(role, user["client_id"])  # a client's user keeps a client role, a gateway user a gateway one
    _not_self(user, actor, "change the role of")
    _update(conn, user_id, role=role, token_version=User.token_version + 1)
    audit.record(
        conn,
        actor,
        "user.set_role",
        user["username"],
        before={"role": user["role"]},
        after={"role": role},
        client_id=user["client_id"],
    )
    return _user(conn, user_id)


def set_active(conn: Connection, user_id: int, active: bool, actor: Actor) -> dict:
    """Deactivate (sessions end at once) or reactivate a user."""
    user = _user(conn, user_id)
    _not_self(user, actor, "deactivate")
    _update(conn, user_id, active=active, token_version=User.token_version + 1)
    audit.record(
        conn,
        actor,
        "user.activate" if active else "user.deactivate",
        user["username"],
        before={"active": user["active"]},
        after={"active": active},
        client_id=user["client_id"],
    )
    return _user(conn, user_id)


def unlock(conn: Connection, user_id: int, actor: Actor) -> dict:
    """Clear a lockout after repeated failures."""
    user = _user(conn, user_id)
    _update(conn, user_id, failed_logins=0, locked_until=None)
    audit.record(
        conn,
        actor,
        "user.unlock",
        user["username"],
        before={"locked_until": user["locked_until"]},
        client_id=user["client_id"],
    )
    return _user(conn, user_id)


def set_totp_required(conn: Connection, user_id: int, required: bool, actor: Actor) -> dict:
    """Require (or stop requiring) a second factor: a user without one enrols at their next sign-in."""
    user = _user(conn, user_id)
    _update(conn, user_id, totp_required=required)
    audit.record(
        conn,
        actor,
        "user.totp_required",
        user["username"],
        before={"totp_required": user["totp_required"]},
        after={"totp_required": required},
        client_id=user["client_id"],
    )
    return _user(conn, user_id)


def reset_totp(conn: Connection, user_id: int, actor: Actor) -> dict:
    """Forget a user's authenticator (lost phone); if 2FA is required they enrol again at sign-in."""
    user = _user(conn, user_id)
    two_factor.disable(conn, user, actor)
    _update(conn, user_id, token_version=User.token_version + 1)
    return _user(conn, user_id)


def reset_password(conn: Connection, user_id: int, actor: Actor) -> tuple[dict, str]:
    """Give a user a generated password (shown once to the super admin) that must be changed at sign-in."""
    user = _user(conn, user_id)
    password = secrets.token_urlsafe(12)
    users.set_password(conn, user_id, password, actor)
    _update(conn, user_id, must_change_password=True, failed_logins=0, locked_until=None)
    audit.record(conn, actor, "user.reset_password", user["username"], client_id=user["client_id"])
    return _user(conn, user_id), password
