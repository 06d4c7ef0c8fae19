"""A client's own users (org_admin, manager, user): created by a gateway admin or the client's org admin with a
generated password shown once, listed, and changed (role, active) by username within that client only."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Connection

from admin import clients, user_management, users
from core.actor import Actor
from core.errors import Conflict, InvalidField, NotFound
from models import User

# What the API and the portal show of a client's user (never a hash or a second-factor secret).
VIEW_KEYS = (
    "username",
    "role",
    "email",
    "active",
    "must_change_password",
    "totp_required",
    "last_login_at",
    "locked_until",
    "created_at",
)


def view(user: dict) -> dict:
    out = {k: user.get(k) for k in VIEW_KEYS}
    out["app_id"] = user.get("client_app_id")
    out["two_factor"] = bool(user.get("totp_secret_enc"))
    return out


def _object(data: object) -> dict:
    if not isinstance(data, dict):
        raise InvalidField('send a JSON object, e.g. {"username": "jane", "role": "manager"}')
    return data


def create(conn: Connection, app_id: str, data: object, actor: Actor) -> dict:
    """{"username", "role", "email"?} → the new user with its generated password (shown this once; changed at
    first sign-in). Raises NotFound (client), InvalidField, Conflict (username taken anywhere)."""
    data = _object(data)
    unknown = set(data) - {"username", "role", "email"}
    if unknown:
        raise InvalidField(f"unknown field(s) {', '.join(sorted(unknown))}: send username, role and optionally email")
    client = clients.get_client(conn, app_id)
    user, password = users.create_user(
        conn, data["username"], None, data.get("role"), actor, client_id=client["id"], email=data.get("email")
    )
    return {**view(user), "password": password}


def list_users(conn: Connection, app_id: str) -> list[dict]:
    client = clients.get_client(conn, app_id)
    return [view(u) for u in users.list_users(conn, client["id"])]


def get(conn: Connection, app_id: str, username: str) -> dict:
    """The client's user by username; NotFound for a user of the gateway or of another client."""
    client = clients.get_client(conn, app_id)
    user_id = conn.execute(select(User.id).where(User.username == username, User.client_id == client["id"])).scalar()
    user = users.get_user(conn, user_id) if user_id is not None else None
    if user is None:
        raise NotFound(f"no user {username[:64]!r} in client {app_id}")
    return user


def update(conn: Connection, app_id: str, username: str, data: object, actor: Actor) -> dict:
    """Any of {"role", "active", "totp_required", "unlock": true}: a new role or deactivation ends the user's
    sessions at once; totp_required makes them enrol at their next sign-in; unlock clears a lockout. Nobody
    changes their own role or deactivates themself (Conflict)."""
    data = _object(data)
    unknown = set(data) - {"role", "active", "totp_required", "unlock"}
    if unknown or not data:
        raise InvalidField('send any of {"role": "manager", "active": false, "totp_required": true, "unlock": true}')
    for key in ("active", "totp_required"):
        if key in data and not isinstance(data[key], bool):
            raise InvalidField(f"{key} must be true or false")
    if "unlock" in data and data["unlock"] is not True:
        raise InvalidField("unlock must be true (it clears a lockout after repeated failures)")
    user = get(conn, app_id, username)
    if "role" in data and data["role"] != user["role"]:
        user = user_management.set_role(conn, user["id"], data["role"], actor)
    if "active" in data and data["active"] != user["active"]:
        user = user_management.set_active(conn, user["id"], data["active"], actor)
    if "totp_required" in data and data["totp_required"] != user["totp_required"]:
        user = user_management.set_totp_required(conn, user["id"], data["totp_required"], actor)
    if data.get("unlock"):
        user = user_management.unlock(conn, user["id"], actor)
    return view(user)


def reset_password(conn: Connection, app_id: str, username: str, actor: Actor) -> dict:
    """A generated password (shown this once) that the user must change at sign-in; their sessions end."""
    user = get(conn, app_id, username)
    if user["id"] == actor.get("id"):
        raise Conflict("change your own password in the portal or with POST /api/v1/admin/account/password")
    user, password = user_management.reset_password(conn, user["id"], actor)
    return {**view(user), "password": password}
