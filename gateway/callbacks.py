"""Callback handling: token → transaction → callback_ function → state change, idempotent and recorded."""

from __future__ import annotations

import ipaddress

from flask import current_app
from sqlalchemy import insert

from core import db
from core.crypto import keyed_hash
from core.masking import mask_json
from models import Callback


def source_allowed(ip: str | None) -> bool:
    """True when no allowlist is configured or the caller's address is on it."""
    allow = [a.strip() for a in current_app.config["CALLBACK_IP_ALLOWLIST"].split(",") if a.strip()]
    if not allow:
        return True
    try:
        addr = ipaddress.ip_address(ip or "")
    except ValueError:
        return False
    return any(addr in ipaddress.ip_network(a, strict=False) for a in allow)


def handle(token: str, body: object, source_ip: str | None) -> dict:
    """Apply a callback; returns {"outcome", "http_status", "detail"}. Never raises for the sender's faults."""
    ctx = {
        "max_depth": current_app.config["MAX_CHAIN_DEPTH"],
        "confirm_default": current_app.config["STK_CONFIRM_WITH_QUERY"],
    }
    with db.transaction(timeout_ms=current_app.config["DB_STATEMENT_TIMEOUT_MS"]) as conn:
        return db.call_json(
            conn,
            "SELECT gateway.apply_callback(:h, CAST(:b AS json), :ip, CAST(:ctx AS jsonb))",
            {
                "h": keyed_hash(current_app.config["HASH_KEY"], token),
                "b": db.as_json(mask_json(body)),
                "ip": source_ip,
                "ctx": db.as_json(ctx),
            },
        )


def record_refused(body: object, source_ip: str | None, detail: str) -> None:
    """Keep a refused callback (masked) for the on-call engineer; it touches no transaction."""
    with db.transaction() as conn:
        conn.execute(
            insert(Callback).values(source_ip=source_ip, body=mask_json(body), outcome="refused", detail=detail)
        )
