"""Client onboarding: create, credentials (shown once, rotatable), status, webhook secret, provider credentials."""

from __future__ import annotations

import json
import secrets

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection

from adapters.url_policy import ServiceHostRefused, check_url
from admin import audit
from admin.scope import GATEWAY, Scope
from core import paging
from core import validation as v
from core.actor import Actor
from core.crypto import app_secret_box
from core.errors import Conflict, InvalidField, NotFound
from core.filters import Filters
from gateway.auth import hash_api_secret, new_api_credentials
from gateway.limits import normalise_rate
from models import Client, ClientCredential, ProviderCredential

# Everything of a client row but its secrets.
CLIENT_PUBLIC = tuple(c for c in Client.__table__.c if c.name != "webhook_secret_enc")


def _outbound_url(data: dict, key: str, *, required: bool = True) -> str | None:
    """An http(s) URL the gateway or a microservice will call (webhooks, a custom Daraja base URL): never a
    link-local, metadata or unspecified address. Raises InvalidField."""
    url = v.url_field(data, key, required=required)
    if url:
        try:
            check_url(url)
        except ServiceHostRefused as exc:
            raise InvalidField(f"{key} refused: {exc}") from exc
    return url


def get_client(conn: Connection, app_id: str) -> dict:
    """The client row (no secrets). Raises NotFound."""
    row = conn.execute(select(*CLIENT_PUBLIC).where(Client.app_id == app_id)).mappings().first()
    if row is None:
        raise NotFound(f"no client with app_id {app_id!r}")
    return dict(row)


def _issue_credentials(conn: Connection, client_id: int, app_id: str) -> dict:
    username, secret = new_api_credentials(app_id)
    conn.execute(
        insert(ClientCredential).values(
            client_id=client_id, api_username=username, secret_hash=hash_api_secret(secret), secret_hint=secret[-4:]
        )
    )
    return {"api_username": username, "api_secret": secret}


def create_client(conn: Connection, data: dict, actor: Actor | None) -> dict:
    """Create a client; the answer holds api_secret and webhook_secret, shown only this once."""
    data = v.body_object(data)
    app_id = v.name_field(data, "app_id")
    values = {
        "app_id": app_id,
        "company_name": v.text_field(data, "company_name"),
        "email": v.email_field(data, "email"),
        "phone": v.text_field(data, "phone", required=False, max_length=32),
        "contact_person": v.text_field(data, "contact_person", required=False),
        "callback_url": _outbound_url(data, "callback_url", required=False),
    }
    exists = conn.execute(select(Client.id).where(Client.app_id == app_id)).first()
    if exists:
        raise Conflict(f"app_id {app_id!r} is taken; choose another")
    webhook_secret = "whsec_" + secrets.token_urlsafe(24)
    client_id = conn.execute(
        insert(Client)
        .values(**values, webhook_secret_enc=app_secret_box().encrypt(webhook_secret))
        .returning(Client.id)
    ).scalar_one()
    creds = _issue_credentials(conn, client_id, app_id)
    audit.record(conn, actor, "client.create", app_id, after=values, app_id=app_id)
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


def update_client(conn: Connection, app_id: str, data: dict, actor: Actor | None) -> dict:
    """Edit contact details, the webhook URL, the rate limit and the monthly quota."""
    before = get_client(conn, app_id)
    data = v.body_object(data)
    changes = {}
    for key, getter in (
        ("company_name", lambda: v.text_field(data, "company_name")),
        ("email", lambda: v.email_field(data, "email")),
        ("phone", lambda: v.text_field(data, "phone", required=False, max_length=32)),
        ("contact_person", lambda: v.text_field(data, "contact_person", required=False)),
        ("callback_url", lambda: _outbound_url(data, "callback_url", required=False)),
        ("rate_limit", lambda: _rate_limit(data)),
        ("monthly_quota", lambda: _monthly_quota(data)),
    ):
        if key in data:
            changes[key] = getter()
    if changes:
        conn.execute(update(Client).where(Client.app_id == app_id).values(**changes, updated_at=func.now()))
    after = get_client(conn, app_id)
    audit.record(conn, actor, "client.update", app_id, before=before, after=after, app_id=app_id)
    return after


def rotate_credentials(conn: Connection, app_id: str, actor: Actor | None) -> dict:
    """Revoke the active credentials and issue new ones; tokens issued before stop working."""
    client = get_client(conn, app_id)
    conn.execute(
        update(ClientCredential)
        .where(ClientCredential.client_id == client["id"], ClientCredential.active)
        .values(active=False, revoked_at=func.now())
    )
    conn.execute(
        update(Client)
        .where(Client.id == client["id"])
        .values(credential_version=Client.credential_version + 1, updated_at=func.now())
    )
    creds = _issue_credentials(conn, client["id"], app_id)
    audit.record(
        conn, actor, "client.rotate_credentials", app_id, after={"api_username": creds["api_username"]}, app_id=app_id
    )
    return {"app_id": app_id, **creds}


def set_status(conn: Connection, app_id: str, active: bool, actor: Actor | None) -> dict:
    """Deactivate (tokens revoked at once) or reactivate a client."""
    before = get_client(conn, app_id)
    # Deactivating also bumps credential_version, so tokens issued before stop working at once.
    conn.execute(
        update(Client)
        .where(Client.app_id == app_id)
        .values(
            status="active" if active else "inactive",
            updated_at=func.now(),
            credential_version=Client.credential_version + (0 if active else 1),
        )
    )
    audit.record(
        conn,
        actor,
        "client.activate" if active else "client.deactivate",
        app_id,
        before={"status": before["status"]},
        app_id=app_id,
        after={"status": "active" if active else "inactive"},
    )
    return get_client(conn, app_id)


def rotate_webhook_secret(conn: Connection, app_id: str, actor: Actor | None) -> dict:
    get_client(conn, app_id)
    secret = "whsec_" + secrets.token_urlsafe(24)
    conn.execute(
        update(Client)
        .where(Client.app_id == app_id)
        .values(webhook_secret_enc=app_secret_box().encrypt(secret), updated_at=func.now())
    )
    audit.record(conn, actor, "client.rotate_webhook_secret", app_id, app_id=app_id)
    return {"app_id": app_id, "webhook_secret": secret}


def webhook_secret(conn: Connection, client_id: int) -> str:
    enc = conn.execute(select(Client.webhook_secret_enc).where(Client.id == client_id)).scalar()
    return app_secret_box().decrypt(enc)


def list_clients(
    conn: Connection, search: str | None = None, page: int = 1, per_page: int = 25, scope: Scope = GATEWAY
) -> dict:
    """A page of clients, newest first, optionally filtered by app_id/company/email substring; a client's scope
    sees only itself."""
    where = Filters({"q": search}).search("q", Client.app_id, Client.company_name, Client.email).conditions
    query = select(*CLIENT_PUBLIC).where(*where, *scope.where(Client.id)).order_by(Client.id.desc())
    return paging.fetch(conn, query, page, per_page, count=True).as_dict()


MPESA_TYPES = ("CustomerPayBillOnline", "CustomerBuyGoodsOnline")
MPESA_ENVIRONMENTS = {"sandbox": "https://sandbox.safaricom.co.ke", "production": "https://api.safaricom.co.ke"}


def set_mpesa_credentials(conn: Connection, app_id: str, data: dict, actor: Actor | None) -> dict:
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
        creds["base_url"] = _outbound_url(data, "base_url")
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
    audit.record(conn, actor, "client.set_mpesa_credentials", app_id, after=summary, app_id=app_id)
    return {"app_id": app_id, "mpesa": summary}


def set_router_settings(conn: Connection, app_id: str, data: dict, actor: Actor | None) -> dict:
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
    audit.record(conn, actor, "client.set_router", app_id, after=summary, app_id=app_id)
    return {"app_id": app_id, "router": summary}


def _store_provider(conn: Connection, client_id: int, provider: str, creds: dict, summary: dict) -> None:
    row = pg_insert(ProviderCredential).values(
        client_id=client_id, provider=provider, data_enc=app_secret_box().encrypt(json.dumps(creds)), summary=summary
    )
    conn.execute(
        row.on_conflict_do_update(
            index_elements=[ProviderCredential.client_id, ProviderCredential.provider],
            set_={"data_enc": row.excluded.data_enc, "summary": row.excluded.summary, "updated_at": func.now()},
        )
    )


def provider_summaries(conn: Connection, client_id: int) -> dict:
    rows = (
        conn.execute(
            select(ProviderCredential.provider, ProviderCredential.summary, ProviderCredential.updated_at).where(
                ProviderCredential.client_id == client_id
            )
        )
        .mappings()
        .all()
    )
    return {r["provider"]: {**r["summary"], "updated_at": r["updated_at"]} for r in rows}
