"""JSON admin API for ISP billing: plans, subscribers, subscriptions and router drift, per client.

Router login settings are `PUT /api/v1/admin/clients/<app_id>/router` in api_admin (password write-only).
"""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from billing import catalogue, jobs
from core import db
from routes.api_admin import admin_required
from routes.query_args import int_arg
from routes.request_body import json_body

bp = Blueprint("api_billing", __name__, url_prefix="/api/v1/admin/clients")


@bp.post("/<app_id>/plans")
@admin_required()
def create_plan(app_id: str):
    """{code, name, price, duration (PostgreSQL interval), profile, service_type pppoe|hotspot} → 201."""
    with db.transaction() as conn:
        return jsonify(catalogue.create_plan(conn, app_id, json_body(), g.actor)), 201


@bp.get("/<app_id>/plans")
@admin_required(write=False)
def list_plans(app_id: str):
    with db.transaction() as conn:
        return jsonify({"items": catalogue.list_plans(conn, app_id)})


@bp.post("/<app_id>/subscribers")
@admin_required()
def create_subscriber(app_id: str):
    """{username, password (write-only), phone?, service_type pppoe|hotspot} → 201."""
    with db.transaction() as conn:
        return jsonify(catalogue.create_subscriber(conn, app_id, json_body(), g.actor)), 201


@bp.get("/<app_id>/subscribers")
@admin_required(write=False)
def list_subscribers(app_id: str):
    with db.transaction() as conn:
        return jsonify({"items": catalogue.list_subscribers(conn, app_id)})


@bp.get("/<app_id>/subscriptions")
@admin_required(write=False)
def list_subscriptions(app_id: str):
    """Paid periods, newest first; ?username=&status=active|expired&page=&per_page=."""
    page, per_page = int_arg("page", 1), int_arg("per_page", 50, high=200)
    with db.transaction() as conn:
        return jsonify(catalogue.list_subscriptions(conn, app_id, request.args.to_dict(), page, per_page))


@bp.get("/<app_id>/drift")
@admin_required(write=False)
def list_drift(app_id: str):
    """The latest differences between the client's router and billing, with their repair job's status."""
    with db.transaction() as conn:
        return jsonify({"items": catalogue.list_drift_reports(conn, app_id, request.args.get("limit", 100, type=int))})


@bp.post("/<app_id>/drift/check")
@admin_required()
def check_drift(app_id: str):
    """Reconcile this client's router now (repairs are queued for the worker)."""
    with db.transaction() as conn:
        catalogue.list_plans(conn, app_id)  # 404 for an unknown client before any router traffic
    result = jobs.run_drift(0, app_id=app_id, limit=1)
    message = (
        "router checked"
        if result["routers"]
        else "nothing to check: the client needs subscribers, router settings and an assigned router service"
    )
    return jsonify({"status": "200", "message": message, **result})
