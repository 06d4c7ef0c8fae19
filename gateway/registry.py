"""(client, service, route) → assignment and function registry row, with the credential check and the
client's rate limit: gateway.authenticate_client (sql/gateway/25_limits.sql) is the one resolve query.

The only place the processor learns which function to call; names come from registry rows, never from input.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from core import db

_RESOLVE = text(
    "SELECT gateway.authenticate_client(:app_id, :username, :secret_hash, :token_version, :service, :route, "
    "CAST(:limits AS jsonb))"
)


@dataclass(frozen=True)
class Resolution:
    """Everything one request needs about its client and route, from one indexed query."""

    client_id: int
    app_id: str
    status: str
    credential_version: int
    secret_hash: str | None
    service_id: int | None
    service_name: str | None
    kind: str | None
    base_url: str | None
    timeout_s: float | None
    service_active: bool | None
    settings: dict[str, Any]
    route_id: int | None
    assignment_id: int | None
    assignment_active: bool | None
    registry_id: int | None
    fields: list[dict]
    provider_credentials: dict[str, str]
    rules_version: str | None = None
    rate_limit: str | None = None
    monthly_quota: int | None = None
    authenticated: bool = False
    retry_after: int | None = None  # set when SQL counted this request over the client's rate limit
    limit: str | None = None


_NAMES = {f.name for f in fields(Resolution)}


def from_json(data: dict | None) -> Resolution | None:
    """A Resolution from gateway.authenticate_client's answer (None for an unknown App ID)."""
    if data is None:
        return None
    row = {k: v for k, v in data.items() if k in _NAMES}
    row["settings"] = row.get("settings") or {}
    row["provider_credentials"] = row.get("provider_credentials") or {}
    row["fields"] = row.get("fields") or []
    return Resolution(**row)


def resolve(
    conn: Connection,
    app_id: str,
    username: str | None,
    service: str,
    route: str,
    secret_hash: str | None = None,
    token_version: int | None = None,
    limits: dict | None = None,
) -> Resolution | None:
    """The client (with the credential row for `username`, if given) and its route; None for an unknown App ID.
    With `limits`, a request whose credential holds is counted against the client's rate limit."""
    params = {
        "app_id": app_id,
        "username": username,
        "secret_hash": secret_hash,
        "token_version": token_version,
        "service": service,
        "route": route,
        "limits": db.as_json(limits) if limits else None,
    }
    return from_json(db.call_json(conn, _RESOLVE.text, params))
