"""process_payment(): the one pipeline of a request — resolve (R1), begin (R2), service call, finish (R3),
with bounded chaining. Routes call this; it holds no HTTP parsing and no business rules (SQL decides)."""

from __future__ import annotations

import json
from typing import Any

from flask import current_app

from core import db
from core.crypto import keyed_hash, new_token
from core.masking import dump_masked
from gateway import auth, dispatch, fields
from gateway.auth import ClientCredentials
from gateway.registry import Resolution


def _ctx(log: dict | None, settings: dict[str, Any]) -> dict:
    cfg = current_app.config
    return {
        "log": log,
        "max_depth": cfg["MAX_CHAIN_DEPTH"],
        "pending_check_s": int(settings.get("pending_check_s", cfg["STK_QUERY_AFTER_SECONDS"])),
    }


def process_payment(creds: ClientCredentials, body: Any, log: dict) -> tuple[int, dict]:
    """Run one f000–f010 request to its answer: (HTTP status, result object with transaction_id)."""
    values = fields.parse_body(body)
    service, route = fields.route_names(values)
    return process_resolved(auth.authenticate_route(creds, service, route), values, log)


def process_resolved(res: Resolution, values: dict, log: dict) -> tuple[int, dict]:
    """process_payment after authentication, for a caller that resolved the client's route itself (the captive
    page pays as its ISP, which has no client secret in the browser)."""
    service = values["f000"]
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
    target = dispatch.ServiceTarget(
        res.service_name or service, res.base_url or "", res.timeout_s or 10.0, res.provider_credentials, res.client_id
    )
    outcome = run_service_chain(outcome, target, data_input, pf.secrets, ctx)
    return int(outcome["http_status"]), outcome["result"]


def run_service_chain(
    outcome: dict, target: dispatch.ServiceTarget, data_input: dict, secrets: list[str], ctx: dict
) -> dict:
    """While the functions answer SERVICE: call the service, then R3 with its reply. Depth is bounded in SQL."""
    cfg = current_app.config
    while outcome["outcome"] == "service":
        sent = dispatch.dispatch(outcome["spec"], target, f"{outcome['transaction_id']}:{outcome['step']}", secrets)
        with db.transaction(timeout_ms=cfg["DB_STATEMENT_TIMEOUT_MS"]) as conn:  # R3
            outcome = db.call_json(
                conn,
                "SELECT gateway.finish_payment(:txn, :code, CAST(:output AS json), CAST(:attempt AS jsonb), "
                "CAST(:input AS json), CAST(:ctx AS jsonb))",
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
