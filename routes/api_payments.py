"""Merchant payment API: process, and both status forms."""

from __future__ import annotations

import time

from flask import Blueprint, current_app, g, jsonify, request

import payment_processor
from core import db
from core.errors import InvalidField
from gateway import auth, fields
from reports import transactions
from routes.request_body import json_body

bp = Blueprint("api_payments", __name__, url_prefix="/api/v1")


def _log_entry() -> dict:
    """The API log's request half, for SQL to write with the answer."""
    return {
        "method": request.method,
        "path": request.path,
        "remote_addr": request.remote_addr,
        "started_at": int(g.started_at * 1000) if g.get("started_at") else int(time.time() * 1000),
    }


def _logged_by_sql(log: dict) -> None:
    g.client_id, g.app_id = log.get("client_id"), log.get("app_id")
    # The SQL pipeline wrote the API log in the statement that decided the answer (429s included).
    g.api_logged = bool(log.get("logged"))


@bp.post("/payment/process")
def process():
    """Run an f000–f010 request through the client's functions."""
    body = json_body()
    creds = auth.client_credentials(request)
    log = _log_entry()
    try:
        status, result = payment_processor.process_payment(creds, body, log)
    finally:
        _logged_by_sql(log)
    return jsonify(result), status


def _status_answer(client_id: int, f010: str):
    with db.autocommit() as conn:  # one read: no BEGIN/COMMIT round trips
        row = transactions.by_f010(conn, client_id, f010)
    view = transactions.merchant_view(row)
    return jsonify({"status": "200", "message": f"transaction {row['status']}", **view})


def _authenticated(creds: auth.ClientCredentials):
    """Authenticate on its own round trip (the API log's fallback then knows the client)."""
    client = auth.authenticate(creds)
    g.client_id, g.app_id = client.client_id, client.app_id
    return client


def _status(creds: auth.ClientCredentials, f010: str):
    if current_app.extensions.get("rate_store") is not None:
        # Counting outside PostgreSQL needs the client authenticated first: one more round trip.
        return _status_answer(_authenticated(creds).client_id, f010)
    log = _log_entry()
    try:
        answer = payment_processor.lookup_status(creds, f010, log)  # one statement, API log included
    finally:
        _logged_by_sql(log)
    return jsonify(answer)


@bp.post("/payment/status")
def payment_status():
    """MosPay form: f003 (App ID) and f010 (the payment's unique id) in a JSON body."""
    body = fields.parse_body(json_body())
    creds = auth.client_credentials(request)
    if (not body.get("f003") or body["f003"] == creds.app_id) and body.get("f010"):
        return _status(creds, body["f010"])
    # A malformed lookup: authenticate first, so a stranger learns nothing but 401.
    client = _authenticated(creds)
    if body.get("f003") and body["f003"] != client.app_id:
        raise InvalidField(f"f003 must equal your App ID ({client.app_id})")
    raise InvalidField("f010 (the unique id of the payment to look up) is required")


@bp.get("/transactions/<path:f010>")
def transaction_by_f010(f010: str):
    """REST form of the status lookup."""
    return _status(auth.client_credentials(request), f010)
