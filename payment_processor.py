"""process_payment(): the one pipeline of a request — begin (authenticate, resolve, count limits, insert,
request function: one statement), service call, finish (response function, attempt, API log, outbox: one
statement), with bounded chaining. Each statement is its own transaction (autocommit): no BEGIN, COMMIT or
SET round trips. Routes call this; it holds no HTTP parsing and no business rules (SQL decides)."""

from __future__ import annotations

import json
from typing import Any

from flask import current_app

from core import db
from core.crypto import keyed_hash, new_token
from core.errors import AuthError, InvalidField, NotFound, RateLimited
from core.masking import dump_masked
from gateway import auth, dispatch, field_rules, fields, limits, registry
from gateway.auth import ClientCredentials

# The two statements of every payment, in psycopg2's parameter style (db.call_hot: straight to the driver).
_BEGIN = (
    "SELECT gateway.begin_request(CAST(%(auth)s AS jsonb), %(f010)s, %(hash)s, CAST(%(request)s AS jsonb), "
    "CAST(%(input)s AS json), %(token_hash)s, %(amount)s, %(msisdn)s, %(account_ref)s, CAST(%(ctx)s AS jsonb))"
)
_FINISH = (
    "SELECT gateway.finish_payment(%(txn)s, %(code)s, CAST(%(output)s AS json), CAST(%(attempt)s AS jsonb), "
    "CAST(%(input)s AS json), CAST(%(ctx)s AS jsonb))"
)

# The status lookup's one statement: authenticate, count, find, log.
_STATUS = "SELECT gateway.status_request(CAST(%(auth)s AS jsonb), %(f010)s, CAST(%(ctx)s AS jsonb))"


def _ctx(log: dict | None) -> dict:
    cfg = current_app.config
    return {
        "log": log,
        "max_depth": cfg["MAX_CHAIN_DEPTH"],
        "pending_check_s": cfg["STK_QUERY_AFTER_SECONDS"],  # a service's settings.pending_check_s wins (SQL)
    }


def _validated(values: dict[str, str], creds: ClientCredentials, service: str, route: str):
    """(fields, rules version): with this process's memory of the rules when they accept the request;
    otherwise resolve first, so a bad credential or route is refused before a field is judged."""
    known = field_rules.get(service)
    if known is not None:
        try:
            return fields.validate(values, known.rules, creds.app_id), known.version
        except InvalidField:
            pass
    res = auth.authenticate_route(creds, service, route)
    return _after_resolve(values, creds, res), res.rules_version


def _begin_params(pf: fields.PaymentFields, ctx: dict) -> tuple[dict, dict]:
    """(data_input, bound parameters) that both begin statements take: the f-fields with a fresh callback URL,
    whose token is stored only as its keyed hash, and the payload hash that makes f010 idempotent."""
    cfg = current_app.config
    token = new_token()
    data_input = {**pf.values, "callback_url": f"{cfg['PUBLIC_BASE_URL'].rstrip('/')}/api/v1/callbacks/{token}"}
    params = {
        "f010": pf.values["f010"],
        "hash": keyed_hash(cfg["HASH_KEY"], json.dumps(pf.values, sort_keys=True)),
        "request": db.as_json(pf.masked()),
        "input": db.as_json(data_input),
        "token_hash": keyed_hash(cfg["HASH_KEY"], token),
        "amount": pf.amount,
        "msisdn": pf.msisdn,
        "account_ref": pf.values.get("f006") or None,
        "ctx": db.as_json(ctx),
    }
    return data_input, params


def _after_resolve(values: dict[str, str], creds: ClientCredentials, res: registry.Resolution):
    field_rules.remember(res.service_name or "", res.rules_version, res.fields)
    limits.check_client_external(res.client_id, res.app_id, res.rate_limit)
    return fields.validate(values, res.fields, res.app_id)


def process_payment(creds: ClientCredentials, body: Any, log: dict) -> tuple[int, dict]:
    """Run one f000–f010 request to its answer: (HTTP status, result object with transaction_id)."""
    values = fields.parse_body(body)
    service, route = fields.route_names(values)
    if current_app.extensions.get("rate_store") is not None:
        # Counting outside PostgreSQL needs the client authenticated first: one more round trip.
        res = auth.authenticate_route(creds, service, route)
        pf, version = _after_resolve(values, creds, res), res.rules_version
    else:
        pf, version = _validated(values, creds, service, route)
    ctx = _ctx(log)
    ctx["limits"] = limits.sql_limits()
    secret_hash = auth.presented_hash(creds)
    for _attempt in range(3):
        data_input, params = _begin_params(pf, ctx)
        log["request_body"] = dump_masked(values, pf.secrets)
        auth_claim = {
            "app_id": creds.app_id,
            "username": creds.username,
            "secret_hash": secret_hash,
            "token_version": creds.token_version,
            "service": service,
            "route": route,
            "rules_version": version,
        }
        # The one statement that authenticates, counts and begins; its own transaction.
        outcome = db.call_hot(_BEGIN, {**params, "auth": db.as_json(auth_claim)})
        if outcome["outcome"] != "resolve":
            break
        # SQL began nothing: word its refusal as the resolve always has, or learn the service's new rules.
        res = auth.check_route(creds, registry.from_json(outcome["resolution"]), service, route)
        pf, version = _after_resolve(values, creds, res), res.rules_version
    else:
        raise InvalidField(f"the field rules of service {service!r} are changing; retry the request")
    log["client_id"], log["app_id"] = outcome.get("client_id"), outcome.get("app_id")
    log["logged"] = outcome["outcome"] != "service"  # a SERVICE step is logged when finish answers
    if outcome["outcome"] == "limited":
        raise RateLimited(outcome["result"]["message"], retry_after=int(outcome["retry_after"]))
    ctx["pending_check_s"] = int(outcome.get("pending_check_s") or ctx["pending_check_s"])
    t = outcome.get("target") or {}
    target = dispatch.ServiceTarget(
        t.get("service_name") or service,
        t.get("base_url") or "",
        float(t.get("timeout_s") or 10.0),
        t.get("provider_credentials") or {},
        outcome.get("client_id"),
    )
    outcome = run_service_chain(outcome, target, data_input, pf.secrets, ctx)
    log["logged"] = True
    return int(outcome["http_status"]), outcome["result"]


def lookup_status(creds: ClientCredentials, f010: str, log: dict) -> dict:
    """The merchant's view of its transaction with this f010, in one statement that authenticates, counts the
    request against the rate limit, finds the row and writes the API log (then log["logged"] is true).
    Raises AuthError, NotAssigned, RateLimited or NotFound. Needs the limits counted in PostgreSQL."""
    auth_claim = {
        "app_id": creds.app_id,
        "username": creds.username,
        "secret_hash": auth.presented_hash(creds),
        "token_version": creds.token_version,
    }
    ctx = {"log": log, "limits": limits.sql_limits()}
    out = db.call_hot(_STATUS, {"auth": db.as_json(auth_claim), "f010": f010, "ctx": db.as_json(ctx)})
    if out["outcome"] == "refused":
        auth.judge(creds, registry.from_json(out["resolution"]))
        raise AuthError("invalid credentials")  # judge raises for every refusal SQL reports; never let one pass
    log["client_id"], log["app_id"] = out["client_id"], out["app_id"]
    if out["outcome"] == "missing":
        raise NotFound(f"no transaction with f010 {f010!r} for this client")
    log["logged"] = True
    return out["answer"]


def process_resolved(res: registry.Resolution, values: dict, log: dict) -> tuple[int, dict]:
    """The pipeline for a caller that resolved the client's route itself (the captive page pays as its ISP,
    which has no client secret in the browser): begin_payment with that resolution, then the same chain.
    Not counted against the client's rate limit (the page has its own per-address limit)."""
    service = values["f000"]
    log["client_id"], log["app_id"] = res.client_id, res.app_id
    pf = fields.validate(values, res.fields, res.app_id)
    log["request_body"] = dump_masked(values, pf.secrets)
    ctx = _ctx(log)
    ctx["pending_check_s"] = int(res.settings.get("pending_check_s", ctx["pending_check_s"]))
    data_input, params = _begin_params(pf, ctx)
    with db.autocommit() as conn:
        outcome = db.call_json(
            conn,
            "SELECT gateway.begin_payment(:client, :registry, :f010, :hash, CAST(:request AS jsonb), "
            "CAST(:input AS json), :token_hash, :amount, :msisdn, :account_ref, CAST(:ctx AS jsonb))",
            {**params, "client": res.client_id, "registry": res.registry_id},
        )
    target = dispatch.ServiceTarget(
        res.service_name or service, res.base_url or "", res.timeout_s or 10.0, res.provider_credentials, res.client_id
    )
    outcome = run_service_chain(outcome, target, data_input, pf.secrets, ctx)
    return int(outcome["http_status"]), outcome["result"]


def run_service_chain(
    outcome: dict, target: dispatch.ServiceTarget, data_input: dict, secrets: list[str], ctx: dict
) -> dict:
    """While the functions answer SERVICE: call the service, then finish with its reply (one statement).
    Depth is bounded in SQL."""
    while outcome["outcome"] == "service":
        sent = dispatch.dispatch(outcome["spec"], target, f"{outcome['transaction_id']}:{outcome['step']}", secrets)
        outcome = db.call_hot(
            _FINISH,
            {
                "txn": outcome["txn"],
                "code": sent.reply.code,
                "output": db.as_json(sent.reply.data),
                "attempt": db.as_json(sent.attempt),
                "input": db.as_json(data_input),
                "ctx": db.as_json(ctx),
            },
        )
    return outcome
