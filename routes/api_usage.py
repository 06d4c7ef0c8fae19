"""JSON admin API for a client's monthly usage statement (`GET …/clients/<app_id>/usage?month=YYYY-MM`)."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from core import db
from reports import usage
from routes.api_admin import admin_required

bp = Blueprint("api_usage", __name__, url_prefix="/api/v1/admin/clients")


@bp.get("/<app_id>/usage")
@admin_required("read", tenants=True)
def client_usage(app_id: str):
    """The month's API calls, transactions by service and state, and successful volume (current month by default)."""
    with db.transaction() as conn:
        return jsonify(usage.statement(conn, app_id, request.args.get("month")))
