"""JSON admin API for ISP billing: plans, subscribers, subscriptions and router drift, per client.

Router login settings are `PUT /api/v1/admin/clients/<app_id>/router` in api_admin (password write-only).
"""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from billing import catalogue, jobs, subscribers
from core import db
from routes.api_admin import admin_required
from routes.query_args import int_arg
from routes.request_body import json_body

bp = Blueprint("api_billing", __name__, url_prefix="/api/v1/admin/clients")


@bp.post("/<app_id>/plans")
@admin_required("operate", tenants=True)
def create_plan(app_id: str):
    """{code, name, price, duration (PostgreSQL interval), profile, service_type pppoe|hotspot} → 201."""
    with db.transaction() as conn:
        return jsonify(catalogue.create_plan(conn, app_id, json_body(), g.actor)), 201


@bp.get("/<app_id>/plans")
@admin_required("read", tenants=True)
def list_plans(app_id: str):
    with db.transaction() as conn:
        return jsonify({"items": catalogue.list_plans(conn, app_id)})


@bp.patch("/<app_id>/plans/<code>")
@admin_required("operate", tenants=True)
def update_plan(app_id: str, code: str):
    """Any of {name, price, duration, profile, active}; a new profile reaches running subscribers at once."""
    with db.transaction() as conn:
        return jsonify(catalogue.update_plan(conn, app_id, code, json_body(), g.actor))


@bp.post("/<app_id>/subscribers")
@admin_required("operate", tenants=True)
def create_subscriber(app_id: str):
    """{username, password (write-only), phone?, service_type pppoe|hotspot} → 201."""
    with db.transaction() as conn:
        return jsonify(catalogue.create_subscriber(conn, app_id, json_body(), g.actor)), 201


@bp.get("/<app_id>/subscribers")
@admin_required("read", tenants=True)
def list_subscribers(app_id: str):
    """Paged search: ?q= (username prefix or phone digits)&page=&per_page= → {items, total, page, pages}."""
    page = request.args.get("page", 1, type=int) or 1
    per_page = request.args.get("per_page", 25, type=int) or 25
    with db.transaction() as conn:
        return jsonify(subscribers.search(conn, app_id, request.args.get("q"), page, per_page))


@bp.get("/<app_id>/subscribers/<username>")
@admin_required("read", tenants=True)
def get_subscriber(app_id: str, username: str):
    """The subscriber, what they have now, every period and payment, and the router jobs that touched them."""
    with db.transaction() as conn:
        return jsonify(subscribers.get(conn, app_id, username))


@bp.patch("/<app_id>/subscribers/<username>")
@admin_required("operate", tenants=True)
def update_subscriber(app_id: str, username: str):
    """{phone?, password? (write-only)}."""
    with db.transaction() as conn:
        return jsonify(subscribers.update(conn, app_id, username, json_body(), g.actor))


@bp.post("/<app_id>/subscribers/<username>/suspend")
@admin_required("operate", tenants=True)
def suspend_subscriber(app_id: str, username: str):
    """{reason}: the account is disabled and its session dropped (router job); payments are refused."""
    with db.transaction() as conn:
        return jsonify(subscribers.suspend(conn, app_id, username, json_body(), g.actor))


@bp.post("/<app_id>/subscribers/<username>/resume")
@admin_required("operate", tenants=True)
def resume_subscriber(app_id: str, username: str):
    """Lift a manual suspension; the account is switched on again if a paid period runs."""
    with db.transaction() as conn:
        return jsonify(subscribers.resume(conn, app_id, username, g.actor))


@bp.delete("/<app_id>/subscribers/<username>")
@admin_required("operate", tenants=True)
def remove_subscriber(app_id: str, username: str):
    """Deactivate (history kept); a router job deletes the account and drops its session."""
    with db.transaction() as conn:
        return jsonify(subscribers.remove(conn, app_id, username, g.actor))


@bp.get("/<app_id>/subscriptions")
@admin_required("read", tenants=True)
def list_subscriptions(app_id: str):
    """Paid periods, newest first; ?username=&status=active|expired|replaced&page=&per_page=."""
    page, per_page = int_arg("page", 1), int_arg("per_page", 50, high=200)
    with db.transaction() as conn:
        return jsonify(catalogue.list_subscriptions(conn, app_id, request.args.to_dict(), page, per_page))


@bp.get("/<app_id>/drift")
@admin_required("read", tenants=True)
def list_drift(app_id: str):
    """The latest differences between the client's router and billing, with their repair job's status."""
    with db.transaction() as conn:
        return jsonify({"items": catalogue.list_drift_reports(conn, app_id, request.args.get("limit", 100, type=int))})


@bp.post("/<app_id>/drift/check")
@admin_required("operate", tenants=True)
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
