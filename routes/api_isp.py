"""Read API for ISP merchants building their own apps: their active plans and one subscriber's state.

Client credentials as for payments (Basic + App-ID, or Bearer); every answer is scoped to the authenticated client.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from billing import catalogue, subscribers
from core import db
from gateway import auth

bp = Blueprint("api_isp", __name__, url_prefix="/api/v1/isp")


@bp.get("/plans")
def plans():
    """The client's active plans: code, name, price, duration, profile, service_type."""
    client = auth.authenticate(auth.client_credentials(request))
    with db.transaction() as conn:
        items = [p for p in catalogue.list_plans(conn, client.app_id) if p["active"]]
    return jsonify({"status": "200", "items": items})


@bp.get("/subscribers/<username>")
def subscriber(username: str):
    """Status, plan, period end and the last payments of one of the client's subscribers (404 if not theirs)."""
    client = auth.authenticate(auth.client_credentials(request))
    with db.transaction() as conn:
        return jsonify({"status": "200", **subscribers.merchant_view(conn, client.app_id, username)})
