"""ISP billing catalogue: plans and subscribers per client, and the paid periods, as the admin API edits and lists them.

SQL (sql/billing/) decides what a payment buys, when access ends and what the router should look like. This module
checks admin input and encrypts subscriber passwords (SQL only ever holds the ciphertext; gateway.service_secrets
hands one to the router adapter at call time). The worker's billing pass is in billing.jobs.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Connection

from admin import audit
from core import amounts, db
from core import validation as v
from core.actor import Actor
from core.crypto import app_secret_box
from core.errors import InvalidField
from gateway.fields import normalise_msisdn

SERVICE_TYPES = ("pppoe", "hotspot")
PLAN_CODE_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
USERNAME_RE = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
PRINTABLE_RE = re.compile(r"^[ -~]+$")  # the router API takes ASCII only
SUBSCRIPTION_STATUSES = ("active", "expired", "replaced")


def _choice(data: dict, key: str, choices: tuple[str, ...]) -> str:
    value = data.get(key)
    if value not in choices:
        raise InvalidField(f"{key} must be one of {', '.join(choices)}")
    return value


def _matching(data: dict, key: str, pattern: re.Pattern, what: str, *, max_length: int = 64) -> str:
    value = v.text_field(data, key, max_length=max_length) or ""
    if not pattern.match(value):
        raise InvalidField(f"{key} must be {what}")
    return value


def _price(data: dict) -> Decimal:
    return amounts.parse_amount(data.get("price"), "price", example='"500" or 499.50', max_digits=10)


def password_field(data: dict) -> str:
    """The subscriber password of a body. :raise InvalidField: not 6–64 printable ASCII characters."""
    password = data.get("password")
    if not isinstance(password, str) or not 6 <= len(password) <= 64 or not PRINTABLE_RE.match(password):
        raise InvalidField("password must be 6–64 printable ASCII characters (the PPPoE / hotspot password)")
    return password


def phone_field(data: dict) -> str | None:
    """The normalised phone of a body (254…), None when absent or empty. :raise InvalidField: not a mobile number."""
    if data.get("phone") in (None, ""):
        return None
    if not isinstance(data["phone"], str):
        raise InvalidField("phone must be a string such as 0712345678")
    try:
        return normalise_msisdn(data["phone"])
    except InvalidField as exc:
        raise InvalidField("phone must be a mobile number such as 0712345678 or 254712345678") from exc


def encrypt_password(password: str) -> str:
    """The ciphertext stored in billing.subscribers.password_enc."""
    return app_secret_box().encrypt(password)


def create_plan(conn: Connection, app_id: str, data: Any, actor: Actor | None) -> dict:
    """Add a plan {code, name, price, duration, profile, service_type}. Raises InvalidField, NotFound, Conflict."""
    data = v.body_object(data)
    code = _matching(data, "code", PLAN_CODE_RE, "1–32 letters, digits, '-' or '_', e.g. DAILY10", max_length=32)
    name = v.text_field(data, "name", max_length=100)
    price = _price(data)
    duration = v.text_field(data, "duration", max_length=60)
    profile = _matching(data, "profile", PRINTABLE_RE, "the router profile name (printable ASCII, at most 64)")
    service_type = _choice(data, "service_type", SERVICE_TYPES)
    plan = db.call_json(
        conn,
        "SELECT billing.create_plan(:app, :code, :name, :price, :duration, :profile, :type)",
        {
            "app": app_id,
            "code": code,
            "name": name,
            "price": price,
            "duration": duration,
            "profile": profile,
            "type": service_type,
        },
    )
    audit.record(conn, actor, "billing.plan.create", f"{app_id}/{code}", after=plan, app_id=app_id)
    return plan


PLAN_FIELDS = ("name", "price", "duration", "profile", "active")


def update_plan(conn: Connection, app_id: str, code: str, data: Any, actor: Actor | None) -> dict:
    """Change any of {name, price, duration, profile, active}; a new profile reaches running subscribers at once
    (router jobs). Returns the plan. Raises InvalidField, NotFound."""
    data = v.body_object(data)
    unknown = sorted(set(data) - set(PLAN_FIELDS))
    if unknown or not data:
        raise InvalidField(
            f"send one or more of {', '.join(PLAN_FIELDS)}" + (f"; not {', '.join(unknown)}" * bool(unknown))
        )
    changes: dict[str, Any] = {}
    if "name" in data:
        changes["name"] = v.text_field(data, "name", max_length=100)
    if "price" in data:
        changes["price"] = str(_price(data))
    if "duration" in data:
        changes["duration"] = v.text_field(data, "duration", max_length=60)
    if "profile" in data:
        changes["profile"] = _matching(data, "profile", PRINTABLE_RE, "the router profile name (printable ASCII)")
    if "active" in data:
        if not isinstance(data["active"], bool):
            raise InvalidField("active must be true or false")
        changes["active"] = data["active"]
    result = db.call_json(
        conn,
        "SELECT billing.update_plan(:app, :code, CAST(:changes AS jsonb))",
        {"app": app_id, "code": code, "changes": db.as_json(changes)},
    )
    before, after = result["before"], result["after"]
    audit.record(conn, actor, "billing.plan.update", f"{app_id}/{code}", before=before, after=after, app_id=app_id)
    return {**result["after"], "reprofiled": result["reprofiled"]}


def list_plans(conn: Connection, app_id: str) -> list[dict]:
    """The client's plans by code. Raises NotFound for an unknown app_id."""
    return db.call_json(conn, "SELECT billing.plans_of(:app)", {"app": app_id})


def create_subscriber(conn: Connection, app_id: str, data: Any, actor: Actor | None) -> dict:
    """Add a subscriber {username, password, phone?, service_type}; the password is stored encrypted, never shown."""
    data = v.body_object(data)
    username = _matching(data, "username", USERNAME_RE, "1–64 letters, digits, '.', '_', '@' or '-' (the router login)")
    password = password_field(data)
    phone = phone_field(data)
    service_type = _choice(data, "service_type", SERVICE_TYPES)
    subscriber = db.call_json(
        conn,
        "SELECT billing.create_subscriber(:app, :username, :enc, :phone, :type)",
        {
            "app": app_id,
            "username": username,
            "enc": app_secret_box().encrypt(password),
            "phone": phone,
            "type": service_type,
        },
    )
    audit.record(conn, actor, "billing.subscriber.create", f"{app_id}/{username}", after=subscriber, app_id=app_id)
    return subscriber


def list_subscribers(conn: Connection, app_id: str) -> list[dict]:
    """The client's subscribers, each with its current state (plan, end, provisioning)."""
    return db.call_json(conn, "SELECT billing.subscribers_of(:app)", {"app": app_id})


def list_subscriptions(conn: Connection, app_id: str, args: dict, page: int = 1, per_page: int = 50) -> dict:
    """A page of paid periods, newest first; filters: username, status (active|expired)."""
    status = args.get("status") or None
    if status is not None and status not in SUBSCRIPTION_STATUSES:
        raise InvalidField(f"status must be one of {', '.join(SUBSCRIPTION_STATUSES)}")
    page, per_page = max(page, 1), min(max(per_page, 1), 200)
    result = db.call_json(
        conn,
        "SELECT billing.subscriptions_of(:app, :username, :status, :limit, :offset)",
        {
            "app": app_id,
            "username": args.get("username") or None,
            "status": status,
            "limit": per_page,
            "offset": (page - 1) * per_page,
        },
    )
    return {**result, "page": page, "per_page": per_page}


def list_drift_reports(conn: Connection, app_id: str, limit: int = 100) -> list[dict]:
    """The latest differences found between the client's router and billing, with their repair job's status."""
    limit = min(max(limit, 1), 500)
    return db.call_json(conn, "SELECT billing.drift_reports_of(:app, :n)", {"app": app_id, "n": limit})
