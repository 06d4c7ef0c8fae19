"""process_payment(): the one pipeline of a request — resolve (R1), begin (R2), service call, finish (R3),
with bounded chaining. Routes call this; it holds no HTTP parsing and no business rules (SQL decides)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import text

from adapters import ServiceCall, ServiceReply
from adapters.http import ALLOWED_METHODS, ServiceUrlError, resolve_url
from billing import catalogue
from core import db, errors
from core.crypto import SecretBox, keyed_hash, new_token
from core.masking import dump_masked
from gateway import fields, registry
from gateway.auth import ClientCredentials, check_client

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


def service_target(conn, client_id: int, service_name: str) -> ServiceTarget | None:
    """The named service as assigned (and active) for this client, with the client's encrypted credentials."""
    row = (
        conn.execute(
            text(
                "SELECT s.name, s.base_url, s.timeout_s::float AS timeout_s, "
                "(SELECT json_object_agg(pc.provider, pc.data_enc) FROM gateway.provider_credentials pc "
                " WHERE pc.client_id = :c) AS creds "
                "FROM gateway.services s JOIN gateway.assignments a ON a.service_id = s.id "
                "WHERE a.client_id = :c AND a.active AND s.name = :n"
            ),
            {"c": client_id, "n": service_name},
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    return ServiceTarget(row["name"], row["base_url"], row["timeout_s"], row["creds"] or {}, client_id)


def _ctx(log: dict | None, settings: dict[str, Any]) -> dict:
    cfg = current_app.config
    return {
        "log": log,
        "max_depth": cfg["MAX_CHAIN_DEPTH"],
        "pending_check_s": int(settings.get("pending_check_s", cfg["STK_QUERY_AFTER_SECONDS"])),
    }


def resolve_client(creds: ClientCredentials, service: str, route: str) -> registry.Resolution:
    """R1: authenticate and find the route. Raises AuthError, NotAssigned or UnknownRoute."""
    with db.transaction() as conn:
        res = registry.resolve(conn, creds.app_id, creds.username, service, route)
    if res is None:
        check_client(creds, "active", 0, None)  # same work and answer as a wrong secret
        raise errors.AuthError("invalid credentials")
    check_client(creds, res.status, res.credential_version, res.secret_hash)
    if res.service_id is None:
        raise errors.UnknownRoute(f"unknown service {service!r} (f000): ask your administrator which are assigned")
    if res.route_id is None:
        raise errors.UnknownRoute(f"unknown route {route!r} (f002) for service {service!r}")
    if not res.assignment_id or not res.assignment_active or not res.service_active:
        raise errors.NotAssigned(f"service {service!r} is not assigned to {res.app_id} or is inactive")
    if res.registry_id is None:
        raise errors.UnknownRoute(f"route {route!r} has no functions for {res.app_id}; an admin must regenerate them")
    return res


def process_payment(creds: ClientCredentials, body: Any, log: dict) -> tuple[int, dict]:
    """Run one f000–f010 request to its answer: (HTTP status, result object with transaction_id)."""
    values = fields.parse_body(body)
    service, route = fields.route_names(values)
    res = resolve_client(creds, service, route)
    log["client_id"], log["app_id"] = res.client_id, res.app_id
    pf = fields.validate(values, res.fields, res.app_id)
    cfg = current_app.config
    token = new_token()
    data_input = {**pf.values, "callback_url": f"{cfg['PUBLIC_BASE_URL'].rstrip('/')}/api/v1/callbacks/{token}"}
    payload_hash = keyed_hash(cfg["HASH_KEY"], json.dumps(pf.values, sort_keys=True))
    log["request_body"] = dump_masked(values, pf.secrets)
    ctx = _ctx(log, res.settings)
    with db.transaction(timeout_ms=cfg["DB_STATEMENT_TIMEOUT_MS"]) as conn:  # R2
        outcome = db.call_json(
            conn,
            "SELECT gateway.begin_payment(:client, :registry, :f010, :hash, CAST(:request AS jsonb), "
            "CAST(:input AS json), :token_hash, :amount, :msisdn, :account_ref, CAST(:ctx AS jsonb))",
            {
                "client": res.client_id,
                "registry": res.registry_id,
                "f010": pf.values["f010"],
                "hash": payload_hash,
                "request": db.as_json(pf.masked()),
                "input": db.as_json(data_input),
                "token_hash": keyed_hash(cfg["HASH_KEY"], token),
                "amount": pf.amount,
                "msisdn": pf.msisdn,
                "account_ref": pf.values.get("f006") or None,
                "ctx": db.as_json(ctx),
            },
        )
    target = ServiceTarget(
        res.service_name or service, res.base_url or "", res.timeout_s or 10.0, res.provider_credentials, res.client_id
    )
    outcome = run_service_chain(outcome, target, data_input, pf.secrets, ctx)
    return int(outcome["http_status"]), outcome["result"]


def run_service_chain(outcome: dict, target: ServiceTarget, data_input: dict, secrets: list[str], ctx: dict) -> dict:
    """While the functions answer SERVICE: call the service, then R3 with its reply. Depth is bounded in SQL."""
    cfg = current_app.config
    while outcome["outcome"] == "service":
        call_or_reply = build_call(outcome["spec"], target, f"{outcome['transaction_id']}:{outcome['step']}", secrets)
        reply = call_or_reply if isinstance(call_or_reply, ServiceReply) else adapter().call(call_or_reply)
        attempt = {
            "method": (outcome["spec"].get("servicemethod") or "POST").upper(),
            "url": call_or_reply.url
            if isinstance(call_or_reply, ServiceCall)
            else str(outcome["spec"].get("serviceurl")),
            "latency_ms": reply.latency_ms,
            "request_body": reply.request_body,
            "response_body": reply.response_body,
            "error": reply.error,
        }
        with db.transaction(timeout_ms=cfg["DB_STATEMENT_TIMEOUT_MS"]) as conn:  # R3
            outcome = db.call_json(
                conn,
                "SELECT gateway.finish_payment(:txn, :code, CAST(:output AS json), CAST(:attempt AS jsonb), "
                "CAST(:input AS json), CAST(:ctx AS jsonb))",
                {
                    "txn": outcome["txn"],
                    "code": reply.code,
                    "output": db.as_json(reply.data),
                    "attempt": db.as_json(attempt),
                    "input": db.as_json(data_input),
                    "ctx": db.as_json(ctx),
                },
            )
    return outcome


def _refusal(message: str) -> ServiceReply:
    # A spec we will not send is answered like a failed service: the response function decides the wording.
    return ServiceReply(code=502, data={"error": message, "message": message}, latency_ms=0, error=message)


def build_call(
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
        creds = json.loads(SecretBox(current_app.config["ENCRYPTION_KEY"]).decrypt(encrypted))
        payload = {**payload, CREDENTIAL_SLOTS[provider]: creds}
        all_secrets += [str(v) for v in creds.values() if isinstance(v, str) and len(v) >= 4]
    refs = spec.get("servicesecrets")
    if refs is not None:
        # References to secrets kept encrypted outside SQL (e.g. a subscriber's router password), resolved here.
        if not isinstance(payload, dict) or target.client_id is None:
            return _refusal("servicesecrets needs an object servicepayload")
        try:
            resolved = catalogue.resolve_service_secrets(target.client_id, refs)
        except catalogue.SecretReferenceError as exc:
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


def adapter():
    return current_app.extensions["service_adapter"]


def now_ms() -> int:
    return int(time.time() * 1000)


def resolve_client_only(creds: ClientCredentials) -> registry.Resolution:
    """Authenticate without a route (token and status endpoints). Raises AuthError or NotAssigned."""
    with db.transaction() as conn:
        res = registry.resolve(conn, creds.app_id, creds.username, "", "")
    if res is None:
        check_client(creds, "active", 0, None)
        raise errors.AuthError("invalid credentials")
    check_client(creds, res.status, res.credential_version, res.secret_hash)
    return res
