"""One dispatch: a SERVICE call spec becomes a sent call (or a refusal) plus the attempt record to store.

The payment pipeline, the worker's follow-up jobs and billing's router listing all call `dispatch`; nothing
else sends a call spec anywhere. Credentials are decrypted and injected here, never in SQL.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import Float, cast, func, select
from sqlalchemy.engine import Connection

from adapters import ServiceCall, ServiceReply
from adapters.http import ALLOWED_METHODS, ServiceUrlError, resolve_url
from core.crypto import app_secret_box
from gateway import service_secrets
from models import Assignment, ProviderCredential, Service

# Where injected credentials go in the payload, by the provider a call spec names in `servicecredentials`.
CREDENTIAL_SLOTS = {"mpesa": "credentials", "router": "router"}


@dataclass(frozen=True)
class ServiceTarget:
    """What dispatching needs to know about a service and its client."""

    service_name: str
    base_url: str
    timeout_s: float
    provider_credentials: dict[str, str]
    client_id: int | None = None


@dataclass(frozen=True)
class Dispatched:
    """The reply handed to the response function and the attempt row that records the call."""

    reply: ServiceReply
    attempt: dict[str, Any]


def service_target(conn: Connection, client_id: int, service_name: str) -> ServiceTarget | None:
    """The named service as assigned (and active) for this client, with the client's encrypted credentials."""
    credentials = (
        select(func.json_object_agg(ProviderCredential.provider, ProviderCredential.data_enc))
        .where(ProviderCredential.client_id == client_id)
        .scalar_subquery()
    )
    query = (
        select(
            Service.name,
            Service.base_url,
            cast(Service.timeout_s, Float).label("timeout_s"),
            credentials.label("creds"),
        )
        .join(Assignment, Assignment.service_id == Service.id)
        .where(Assignment.client_id == client_id, Assignment.active, Service.name == service_name)
    )
    row = conn.execute(query).mappings().first()
    if row is None:
        return None
    return ServiceTarget(row["name"], row["base_url"], row["timeout_s"], row["creds"] or {}, client_id)


def dispatch(spec: dict, target: ServiceTarget | None, idempotency_key: str, secrets: list[str] = ()) -> Dispatched:
    """Send the call a SERVICE result asks for, through the app's adapter; never raises for the call's fate."""
    if target is None:
        name = spec.get("servicename")
        call_or_reply: ServiceCall | ServiceReply = _refusal(
            f"service {name!r} is not assigned to the client", code=404
        )
    else:
        call_or_reply = prepare_call(spec, target, idempotency_key, list(secrets))
    if isinstance(call_or_reply, ServiceReply):
        reply, url = call_or_reply, str(spec.get("serviceurl"))
    else:
        reply, url = current_app.extensions["service_adapter"].call(call_or_reply), call_or_reply.url
    attempt = {
        "method": str(spec.get("servicemethod") or "POST").upper(),
        "url": url,
        "latency_ms": reply.latency_ms,
        "request_body": reply.request_body,
        "response_body": reply.response_body,
        "error": reply.error,
    }
    return Dispatched(reply, attempt)


def _refusal(message: str, code: int = 502) -> ServiceReply:
    # A spec we will not send is answered like a failed service: the response function decides the wording.
    return ServiceReply(code=code, data={"error": message, "message": message}, latency_ms=0, error=message)


def prepare_call(
    spec: dict, target: ServiceTarget, idempotency_key: str, secrets: list[str]
) -> ServiceCall | ServiceReply:
    """Turn a SERVICE result into a checked ServiceCall, or a 502 reply explaining why it was not sent."""
    try:
        url = resolve_url(target.base_url, str(spec.get("serviceurl") or ""))
    except ServiceUrlError as exc:
        return _refusal(str(exc))
    method = str(spec.get("servicemethod") or "POST").upper()
    if method not in ALLOWED_METHODS:
        return _refusal(f"servicemethod {method!r} is not one of {', '.join(sorted(ALLOWED_METHODS))}")
    headers = spec.get("serviceheaders") or {}
    if not isinstance(headers, dict):
        return _refusal("serviceheaders must be a JSON object of strings")
    try:
        timeout = min(float(spec.get("servicetimeout") or target.timeout_s), target.timeout_s)
    except (TypeError, ValueError):
        timeout = target.timeout_s
    payload = spec.get("servicepayload")
    all_secrets = list(secrets)
    provider = spec.get("servicecredentials")
    if provider:
        if provider not in CREDENTIAL_SLOTS or not isinstance(payload, dict):
            return _refusal(f"servicecredentials {provider!r} is unknown or the payload is not an object")
        encrypted = target.provider_credentials.get(provider)
        if not encrypted:
            return _refusal(f"no {provider} credentials are set for this client; an admin must add them")
        creds = json.loads(app_secret_box().decrypt(encrypted))
        payload = {**payload, CREDENTIAL_SLOTS[provider]: creds}
        all_secrets += [str(v) for v in creds.values() if isinstance(v, str) and len(v) >= 4]
    refs = spec.get("servicesecrets")
    if refs is not None:
        # References to secrets kept encrypted outside SQL (e.g. a subscriber's router password), resolved here.
        if not isinstance(payload, dict) or target.client_id is None:
            return _refusal("servicesecrets needs an object servicepayload")
        try:
            resolved = service_secrets.resolve(target.client_id, refs)
        except service_secrets.SecretReferenceError as exc:
            return _refusal(str(exc))
        payload = {**payload, **resolved}
        all_secrets += [v for v in resolved.values() if v]
    return ServiceCall(
        url=url,
        method=method,
        payload=payload,
        timeout_s=max(0.1, timeout),
        idempotency_key=idempotency_key,
        headers={str(k): str(v) for k, v in headers.items()},
        secrets=tuple(all_secrets),
    )
