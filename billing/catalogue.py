"""ISP billing: plans, subscribers and paid periods per client, and the worker's billing pass (expiry, drift repair).

SQL (sql/billing/) decides what a payment buys, when access ends and what the router should look like. This module
checks admin input, encrypts subscriber passwords (SQL only ever holds the ciphertext), hands a password to the
router adapter at call time (`servicesecrets`), and lists router accounts for the drift repair.
"""

from __future__ import annotations

import logging
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Flask, current_app
from sqlalchemy import text
from sqlalchemy.engine import Connection

from admin import audit
from core import db
from core import validation as v
from core.crypto import SecretBox
from core.errors import InvalidField
from gateway.fields import normalise_msisdn

log = logging.getLogger(__name__)

SERVICE_TYPES = ("pppoe", "hotspot")
PLAN_CODE_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
USERNAME_RE = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
PRINTABLE_RE = re.compile(r"^[ -~]+$")  # the router API takes ASCII only
PRICE_RE = re.compile(r"^\d{1,10}(\.\d{1,2})?$")
SUBSCRIPTION_STATUSES = ("active", "expired")
# servicesecrets: payload key → reference. Only these keys, only these references.
SECRET_KEYS = ("password",)
SECRET_REF_RE = re.compile(r"^subscriber:(\d{1,18})$")
EXPIRE_BATCH = 200
DRIFT_BATCH = 20
DEFAULT_DRIFT_INTERVAL_S = 300


class SecretReferenceError(ValueError):
    """A `servicesecrets` entry that is malformed or names a subscriber of another client."""


def _box() -> SecretBox:
    return SecretBox(current_app.config["ENCRYPTION_KEY"])


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
    raw = data.get("price")
    if isinstance(raw, bool) or not isinstance(raw, str | int | float) or not PRICE_RE.match(str(raw)):
        raise InvalidField('price must be a positive amount with at most 2 decimal places, e.g. "500" or 499.50')
    try:
        price = Decimal(str(raw))
    except InvalidOperation as exc:  # pragma: no cover - the regex already guarantees a number
        raise InvalidField("price must be a number") from exc
    if price <= 0:
        raise InvalidField("price must be greater than zero")
    return price


# ---------------------------------------------------------------------------------------------- admin API


def create_plan(conn: Connection, app_id: str, data: Any, actor: dict | None) -> dict:
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
    audit.record(conn, actor, "billing.plan.create", f"{app_id}/{code}", after=plan)
    return plan


def list_plans(conn: Connection, app_id: str) -> list[dict]:
    """The client's plans by code. Raises NotFound for an unknown app_id."""
    return db.call_json(conn, "SELECT billing.plans_of(:app)", {"app": app_id})


def create_subscriber(conn: Connection, app_id: str, data: Any, actor: dict | None) -> dict:
    """Add a subscriber {username, password, phone?, service_type}; the password is stored encrypted, never shown."""
    data = v.body_object(data)
    username = _matching(data, "username", USERNAME_RE, "1–64 letters, digits, '.', '_', '@' or '-' (the router login)")
    password = data.get("password")
    if not isinstance(password, str) or not 6 <= len(password) <= 64 or not PRINTABLE_RE.match(password):
        raise InvalidField("password must be 6–64 printable ASCII characters (the PPPoE / hotspot password)")
    phone = None
    if data.get("phone") not in (None, ""):
        if not isinstance(data["phone"], str):
            raise InvalidField("phone must be a string such as 0712345678")
        try:
            phone = normalise_msisdn(data["phone"])
        except InvalidField as exc:
            raise InvalidField("phone must be a mobile number such as 0712345678 or 254712345678") from exc
    service_type = _choice(data, "service_type", SERVICE_TYPES)
    subscriber = db.call_json(
        conn,
        "SELECT billing.create_subscriber(:app, :username, :enc, :phone, :type)",
        {"app": app_id, "username": username, "enc": _box().encrypt(password), "phone": phone, "type": service_type},
    )
    audit.record(conn, actor, "billing.subscriber.create", f"{app_id}/{username}", after=subscriber)
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


# ---------------------------------------------------------------------------------------------- secrets at call time


def resolve_subscriber_password(client_id: int, subscriber_id: int) -> str:
    """The clear password of one of this client's subscribers. :raise SecretReferenceError: not this client's."""
    with db.transaction() as conn:
        enc = conn.execute(
            text("SELECT billing.subscriber_password_enc(:c, :s)"), {"c": client_id, "s": subscriber_id}
        ).scalar()
    if enc is None:
        raise SecretReferenceError(f"servicesecrets: subscriber {subscriber_id} is not a subscriber of this client")
    try:
        return _box().decrypt(enc)
    except ValueError as exc:
        raise SecretReferenceError(
            f"servicesecrets: the password of subscriber {subscriber_id} cannot be "
            "decrypted with the configured ENCRYPTION_KEY"
        ) from exc


def resolve_service_secrets(client_id: int, refs: Any) -> dict[str, str]:
    """Turn a call spec's `servicesecrets` ({"password": "subscriber:<id>"}) into payload values, scoped to the
    client the call is made for. :raise SecretReferenceError: for anything else."""
    if not isinstance(refs, dict) or not refs:
        raise SecretReferenceError('servicesecrets must be an object such as {"password": "subscriber:42"}')
    resolved = {}
    for key, ref in refs.items():
        match = SECRET_REF_RE.match(ref) if isinstance(ref, str) else None
        if key not in SECRET_KEYS or match is None:
            raise SecretReferenceError(
                f'servicesecrets: {key!r} → {str(ref)[:40]!r} is not supported; only {{"password": "subscriber:<id>"}}'
            )
        resolved[key] = resolve_subscriber_password(client_id, int(match.group(1)))
    return resolved


# ---------------------------------------------------------------------------------------------- worker pass


def expire_due(limit: int = EXPIRE_BATCH) -> dict:
    """End every period past its end (up to `limit`); suspensions are queued as router jobs. Returns counts."""
    with db.transaction(timeout_ms=current_app.config["DB_STATEMENT_TIMEOUT_MS"]) as conn:
        return db.call_json(conn, "SELECT billing.expire_due(:n)", {"n": limit})


def _router_target(conn: Connection, client_id: int, service_name: str):
    from payment_processor import service_target  # payment_processor imports this module

    return service_target(conn, client_id, service_name)


def list_router_accounts(client_id: int, service_name: str, service_type: str) -> tuple[list | None, str | None]:
    """(accounts, None) from the router adapter's POST /accounts, or (None, why it failed)."""
    from adapters import ServiceReply
    from payment_processor import adapter, build_call

    with db.transaction() as conn:
        target = _router_target(conn, client_id, service_name)
    if target is None:
        return None, f"service {service_name!r} is not assigned to this client"
    spec = {
        "serviceurl": "/accounts",
        "servicemethod": "POST",
        "servicecredentials": "router",
        "servicepayload": {"service_type": service_type},
    }
    call = build_call(spec, target, f"drift-{client_id}-{service_type}", [])
    reply = call if isinstance(call, ServiceReply) else adapter().call(call)
    data = reply.data if isinstance(reply.data, dict) else {}
    if reply.code == 200 and isinstance(data.get("accounts"), list):
        return data["accounts"], None
    return None, f"listing {service_type} accounts failed: HTTP {reply.code}: {data.get('message') or reply.error}"


def run_drift(interval_s: int, app_id: str | None = None, limit: int = DRIFT_BATCH) -> dict:
    """Reconcile every router due for a check (or only `app_id`'s): each difference is recorded in
    billing.drift_reports and its repair queued. Returns counts and, per client, what was found."""
    with db.transaction() as conn:
        due = (
            conn.execute(
                text("SELECT * FROM billing.claim_drift_checks(:i, :n, :a)"),
                {"i": max(int(interval_s), 0), "n": limit, "a": app_id},
            )
            .mappings()
            .all()
        )
    summary: dict[str, Any] = {"routers": len(due), "differences": 0, "errors": 0, "clients": {}}
    for row in due:
        result: dict[str, Any] = {}
        for service_type in row["service_types"]:
            accounts, error = list_router_accounts(row["client_id"], row["router_service"], service_type)
            if error:
                summary["errors"] += 1
                result[service_type] = {"error": error}
                log.warning("drift check of %s (%s) skipped: %s", row["app_id"], service_type, error)
                continue
            with db.transaction() as conn:
                found = db.call_json(
                    conn,
                    "SELECT billing.reconcile_router(:c, :t, CAST(:a AS jsonb))",
                    {"c": row["client_id"], "t": service_type, "a": db.as_json(accounts)},
                )
            result[service_type] = found
            summary["differences"] += found["differences"]
            for item in found["items"]:
                log.warning(
                    "router drift at %s: %s %s → %s (%s)",
                    row["app_id"],
                    item["kind"],
                    item["username"],
                    item["repair"],
                    item["detail"],
                )
        with db.transaction() as conn:
            conn.execute(
                text("SELECT billing.finish_drift_check(:c, CAST(:r AS jsonb))"),
                {"c": row["client_id"], "r": db.as_json(result)},
            )
        summary["clients"][row["app_id"]] = result
    return summary


def run_due(app: Flask) -> dict:
    """The worker's billing hook, once per pass (inside an app context): expiry, then drift repair when due."""
    counts = expire_due()
    drift = run_drift(int(app.config.get("BILLING_DRIFT_INTERVAL_S", DEFAULT_DRIFT_INTERVAL_S)))
    counts["drift"] = {k: drift[k] for k in ("routers", "differences", "errors")}
    return counts
