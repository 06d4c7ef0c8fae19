"""Client onboarding: create, credentials (shown once, rotatable), status, webhook secret, provider credentials."""

from __future__ import annotations

import json
import secrets

from flask import current_app
from sqlalchemy import text
from sqlalchemy.engine import Connection

from admin import audit
from core import validation as v
from core.crypto import SecretBox
from core.errors import Conflict, InvalidField, NotFound
from gateway.auth import hash_api_secret, new_api_credentials
from gateway.limits import normalise_rate

CLIENT_COLUMNS = (
    "id, app_id, company_name, email, phone, contact_person, callback_url, status, credential_version, "
    "rate_limit, monthly_quota, created_at, updated_at"
)


def _box() -> SecretBox:
    return SecretBox(current_app.config["ENCRYPTION_KEY"])


def get_client(conn: Connection, app_id: str) -> dict:
    """The client row (no secrets). Raises NotFound."""
    row = (
        conn.execute(
            text(f"SELECT {CLIENT_COLUMNS} FROM gateway.clients WHERE app_id = :a"),
            {"a": app_id},  # noqa: S608
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no client with app_id {app_id!r}")
    return dict(row)


def _issue_credentials(conn: Connection, client_id: int, app_id: str) -> dict:
    username, secret = new_api_credentials(app_id)
    conn.execute(
        text(
            "INSERT INTO gateway.client_credentials (client_id, api_username, secret_hash, secret_hint) "
            "VALUES (:c, :u, :h, :hint)"
        ),
        {"c": client_id, "u": username, "h": hash_api_secret(secret), "hint": secret[-4:]},
    )
    return {"api_username": username, "api_secret": secret}


def create_client(conn: Connection, data: dict, actor: dict | None) -> dict:
    """Create a client; the answer holds api_secret and webhook_secret, shown only this once."""
    data = v.body_object(data)
    app_id = v.name_field(data, "app_id")
    values = {
        "app_id": app_id,
        "company_name": v.text_field(data, "company_name"),
        "email": v.email_field(data, "email"),
        "phone": v.text_field(data, "phone", required=False, max_length=32),
        "contact_person": v.text_field(data, "contact_person", required=False),
        "callback_url": v.url_field(data, "callback_url", required=False),
    }
    exists = conn.execute(text("SELECT 1 FROM gateway.clients WHERE app_id = :a"), {"a": app_id}).first()
    if exists:
        raise Conflict(f"app_id {app_id!r} is taken; choose another")
    webhook_secret = "whsec_" + secrets.token_urlsafe(24)
    client_id = conn.execute(
        text(
            "INSERT INTO gateway.clients (app_id, company_name, email, phone, contact_person, callback_url, "
            "webhook_secret_enc) VALUES (:app_id, :company_name, :email, :phone, :contact_person, :callback_url, "
            ":wh) RETURNING id"
        ),
        {**values, "wh": _box().encrypt(webhook_secret)},
    ).scalar_one()
    creds = _issue_credentials(conn, client_id, app_id)
    audit.record(conn, actor, "client.create", app_id, after=values)
    return {**get_client(conn, app_id), **creds, "webhook_secret": webhook_secret}


def _rate_limit(data: dict) -> str | None:
    value = data.get("rate_limit")
    if value is None or (isinstance(value, str) and not value.strip()):
        return None  # back to RATELIMIT_DEFAULT
    if not isinstance(value, str):
        raise InvalidField("rate_limit must be a string such as '1200/minute', or null for the default")
    return normalise_rate(value)


def _monthly_quota(data: dict) -> int | None:
    value = data.get("monthly_quota")
    if value is None or value == "":
        return None  # no quota
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 2_000_000_000:
        raise InvalidField("monthly_quota must be a whole number of transactions from 1 to 2000000000, or null")
    return value


def update_client(conn: Connection, app_id: str, data: dict, actor: dict | None) -> dict:
    """Edit contact details, the webhook URL, the rate limit and the monthly quota."""
    before = get_client(conn, app_id)
    data = v.body_object(data)
    changes = {}
    for key, getter in (
        ("company_name", lambda: v.text_field(data, "company_name")),
        ("email", lambda: v.email_field(data, "email")),
        ("phone", lambda: v.text_field(data, "phone", required=False, max_length=32)),
        ("contact_person", lambda: v.text_field(data, "contact_person", required=False)),
        ("callback_url", lambda: v.url_field(data, "callback_url", required=False)),
        ("rate_limit", lambda: _rate_limit(data)),
        ("monthly_quota", lambda: _monthly_quota(data)),
    ):
        if key in data:
            changes[key] = getter()
    if changes:
        sets = ", ".join(f"{k} = :{k}" for k in changes)  # keys come from the fixed tuple above
        conn.execute(
            text(f"UPDATE gateway.clients SET {sets}, updated_at = now() WHERE app_id = :app_id"),  # noqa: S608
            {**changes, "app_id": app_id},
        )
    after = get_client(conn, app_id)
    audit.record(conn, actor, "client.update", app_id, before=before, after=after)
    return after


def rotate_credentials(conn: Connection, app_id: str, actor: dict | None) -> dict:
    """Revoke the active credentials and issue new ones; tokens issued before stop working."""
    client = get_client(conn, app_id)
    conn.execute(
        text(
            "UPDATE gateway.client_credentials SET active = false, revoked_at = now() WHERE client_id = :c AND active"
        ),
        {"c": client["id"]},
    )
    conn.execute(
        text(
            "UPDATE gateway.clients SET credential_version = credential_version + 1, updated_at = now() WHERE id = :c"
        ),
        {"c": client["id"]},
    )
    creds = _issue_credentials(conn, client["id"], app_id)
    audit.record(conn, actor, "client.rotate_credentials", app_id, after={"api_username": creds["api_username"]})
    return {"app_id": app_id, **creds}


def set_status(conn: Connection, app_id: str, active: bool, actor: dict | None) -> dict:
    """Deactivate (tokens revoked at once) or reactivate a client."""
    before = get_client(conn, app_id)
    conn.execute(
        text(
            "UPDATE gateway.clients SET status = :s, updated_at = now(), "
            "credential_version = credential_version + CASE WHEN :s = 'inactive' THEN 1 ELSE 0 END "
            "WHERE app_id = :a"
        ),
        {"s": "active" if active else "inactive", "a": app_id},
    )
    audit.record(
        conn,
        actor,
        "client.activate" if active else "client.deactivate",
        app_id,
        before={"status": before["status"]},
        after={"status": "active" if active else "inactive"},
    )
    return get_client(conn, app_id)


def rotate_webhook_secret(conn: Connection, app_id: str, actor: dict | None) -> dict:
    get_client(conn, app_id)
    secret = "whsec_" + secrets.token_urlsafe(24)
    conn.execute(
        text("UPDATE gateway.clients SET webhook_secret_enc = :s, updated_at = now() WHERE app_id = :a"),
        {"s": _box().encrypt(secret), "a": app_id},
    )
    audit.record(conn, actor, "client.rotate_webhook_secret", app_id)
    return {"app_id": app_id, "webhook_secret": secret}


def webhook_secret(conn: Connection, client_id: int) -> str:
    enc = conn.execute(text("SELECT webhook_secret_enc FROM gateway.clients WHERE id = :c"), {"c": client_id}).scalar()
    return _box().decrypt(enc)


def list_clients(conn: Connection, search: str | None = None, page: int = 1, per_page: int = 25) -> dict:
    """A page of clients, newest first, optionally filtered by app_id/company/email substring."""
    params = {"q": f"%{search}%" if search else None, "limit": per_page, "offset": (max(page, 1) - 1) * per_page}
    where = "WHERE (:q IS NULL OR app_id ILIKE :q OR company_name ILIKE :q OR email ILIKE :q)"
    rows = (
        conn.execute(
            text(f"SELECT {CLIENT_COLUMNS} FROM gateway.clients {where} ORDER BY id DESC LIMIT :limit OFFSET :offset"),  # noqa: S608
            params,
        )
        .mappings()
        .all()
    )
    total = conn.execute(text(f"SELECT count(*) FROM gateway.clients {where}"), params).scalar_one()  # noqa: S608
    return {"items": [dict(r) for r in rows], "total": total, "page": page, "per_page": per_page}


MPESA_TYPES = ("CustomerPayBillOnline", "CustomerBuyGoodsOnline")
MPESA_ENVIRONMENTS = {"sandbox": "https://sandbox.safaricom.co.ke", "production": "https://api.safaricom.co.ke"}


def set_mpesa_credentials(conn: Connection, app_id: str, data: dict, actor: dict | None) -> dict:
    """Store Daraja credentials encrypted; the answer shows only non-secret fields."""
    client = get_client(conn, app_id)
    data = v.body_object(data)
    creds = {
        "consumer_key": v.text_field(data, "consumer_key"),
        "consumer_secret": v.text_field(data, "consumer_secret"),
        "shortcode": v.text_field(data, "shortcode", max_length=7),
        "passkey": v.text_field(data, "passkey", max_length=128),
        "transaction_type": v.text_field(data, "transaction_type"),
        "party_b": v.text_field(data, "party_b", required=False, max_length=7),
    }
    if not (creds["shortcode"] or "").isdigit() or not 5 <= len(creds["shortcode"] or "") <= 7:
        raise InvalidField("shortcode must be 5–7 digits (your paybill, or the store number for a till)")
    if creds["transaction_type"] not in MPESA_TYPES:
        raise InvalidField("transaction_type must be CustomerPayBillOnline (paybill) or CustomerBuyGoodsOnline (till)")
    environment = v.text_field(data, "environment")
    if environment == "custom":
        creds["base_url"] = v.url_field(data, "base_url")
    elif environment in MPESA_ENVIRONMENTS:
        creds["base_url"] = MPESA_ENVIRONMENTS[environment]
    else:
        raise InvalidField("environment must be sandbox, production or custom (with base_url)")
    summary = {
        "shortcode": creds["shortcode"],
        "transaction_type": creds["transaction_type"],
        "party_b": creds["party_b"],
        "environment": environment,
        "base_url": creds["base_url"],
    }
    _store_provider(conn, client["id"], "mpesa", creds, summary)
    audit.record(conn, actor, "client.set_mpesa_credentials", app_id, after=summary)
    return {"app_id": app_id, "mpesa": summary}


def set_router_settings(conn: Connection, app_id: str, data: dict, actor: dict | None) -> dict:
    """Store the client's router login encrypted; the password is write-only."""
    client = get_client(conn, app_id)
    data = v.body_object(data)
    port = data.get("port", 8728)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise InvalidField("port must be a TCP port number (8728 for the API, 8729 for api-ssl)")
    tls = data.get("tls", False)
    if not isinstance(tls, bool):
        raise InvalidField("tls must be true or false")
    creds = {
        "host": v.text_field(data, "host", max_length=253),
        "port": port,
        "username": v.text_field(data, "username", max_length=64),
        "password": v.text_field(data, "password", max_length=128),
        "tls": tls,
    }
    summary = {k: creds[k] for k in ("host", "port", "username", "tls")}
    _store_provider(conn, client["id"], "router", creds, summary)
    audit.record(conn, actor, "client.set_router", app_id, after=summary)
    return {"app_id": app_id, "router": summary}


def _store_provider(conn: Connection, client_id: int, provider: str, creds: dict, summary: dict) -> None:
    conn.execute(
        text(
            "INSERT INTO gateway.provider_credentials (client_id, provider, data_enc, summary) "
            "VALUES (:c, :p, :d, CAST(:s AS jsonb)) ON CONFLICT (client_id, provider) "
            "DO UPDATE SET data_enc = EXCLUDED.data_enc, summary = EXCLUDED.summary, updated_at = now()"
        ),
        {"c": client_id, "p": provider, "d": _box().encrypt(json.dumps(creds)), "s": json.dumps(summary)},
    )


def provider_summaries(conn: Connection, client_id: int) -> dict:
    rows = (
        conn.execute(
            text("SELECT provider, summary, updated_at FROM gateway.provider_credentials WHERE client_id = :c"),
            {"c": client_id},
        )
        .mappings()
        .all()
    )
    return {r["provider"]: {**r["summary"], "updated_at": r["updated_at"]} for r in rows}
