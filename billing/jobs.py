"""The worker's billing pass: end periods past their end (suspensions become router jobs) and, when due, compare
each ISP's router with billing and queue the repairs (drift)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app
from sqlalchemy import text

from core import db
from gateway import dispatch

log = logging.getLogger(__name__)

EXPIRE_BATCH = 200
DRIFT_BATCH = 20
DEFAULT_DRIFT_INTERVAL_S = 300


def expire_due(limit: int = EXPIRE_BATCH) -> dict:
    """End every period past its end (up to `limit`); suspensions are queued as router jobs. Returns counts."""
    with db.transaction(timeout_ms=current_app.config["DB_STATEMENT_TIMEOUT_MS"]) as conn:
        return db.call_json(conn, "SELECT billing.expire_due(:n)", {"n": limit})


def list_router_accounts(client_id: int, service_name: str, service_type: str) -> tuple[list | None, str | None]:
    """(accounts, None) from the router adapter's POST /accounts, or (None, why it failed)."""
    with db.transaction() as conn:
        target = dispatch.service_target(conn, client_id, service_name)
    if target is None:
        return None, f"service {service_name!r} is not assigned to this client"
    spec = {
        "serviceurl": "/accounts",
        "servicemethod": "POST",
        "servicecredentials": "router",
        "servicepayload": {"service_type": service_type},
    }
    reply = dispatch.dispatch(spec, target, f"drift-{client_id}-{service_type}").reply
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
