"""TOTP two-factor sign-in for portal users: enrolment, verification without replay, failure counting."""

from __future__ import annotations

import hmac
import time
from datetime import UTC, datetime

import pyotp
from sqlalchemy import func, or_, update
from sqlalchemy.engine import Connection

from admin import audit
from core.actor import Actor
from core.crypto import app_secret_box
from core.errors import InvalidField, NotFound
from models import User

ISSUER = "MosPay gateway"
STEP_SECONDS = 30
# One step either side absorbs phone clocks that drift by up to 30 s.
DRIFT_STEPS = 1


def new_secret() -> str:
    """A fresh base32 secret for an authenticator app."""
    return pyotp.random_base32()


def encrypt(secret: str) -> str:
    return app_secret_box().encrypt(secret)


def decrypt(secret_enc: str) -> str:
    return app_secret_box().decrypt(secret_enc)


def provisioning_uri(secret: str, username: str) -> str:
    """The otpauth:// URI an authenticator app imports (shown beside the secret for manual entry)."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step whose code equals `code` (within the allowed drift), else None."""
    code = (code or "").strip().replace(" ", "")
    if not code.isdigit() or len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    current = int((now if now is not None else time.time()) // STEP_SECONDS)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def verify(conn: Connection, user_id: int, secret: str, code: str) -> bool:
    """Check a code and consume its time step: the same code (or an older one) is refused afterwards, so a
    code seen over a shoulder or in a proxy log cannot be replayed."""
    step = matching_step(secret, code)
    if step is None:
        return False
    # Only a later step than the last accepted one: a code is never accepted twice.
    unused = or_(User.totp_last_step.is_(None), User.totp_last_step < step)
    consumed = conn.execute(update(User).where(User.id == user_id, unused).values(totp_last_step=step)).rowcount
    return bool(consumed)


def enable(conn: Connection, user: dict, secret: str, code: str, actor: Actor | None) -> None:
    """Store the secret once the user proved their app produces its codes. Raises InvalidField otherwise."""
    step = matching_step(secret, code)
    if step is None:
        raise InvalidField("code does not match: check the time on your phone and type the current 6 digits")
    conn.execute(
        update(User)
        .where(User.id == user["id"])
        .values(totp_secret_enc=encrypt(secret), totp_last_step=step, updated_at=func.now())
    )
    audit.record(conn, actor, "user.totp_enable", user["username"], client_id=user.get("client_id"))


def disable(conn: Connection, user: dict, actor: Actor | None) -> None:
    """Remove a user's second factor (their own choice, or a super admin's reset after a lost phone)."""
    updated = conn.execute(
        update(User)
        .where(User.id == user["id"])
        .values(totp_secret_enc=None, totp_last_step=None, updated_at=func.now())
    ).rowcount
    if not updated:
        raise NotFound("no such user")
    audit.record(conn, actor, "user.totp_disable", user["username"], client_id=user.get("client_id"))


def is_locked(user: dict) -> bool:
    return bool(user.get("locked_until") and user["locked_until"] > datetime.now(UTC))
