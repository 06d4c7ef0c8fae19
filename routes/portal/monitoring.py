"""Dashboard, microservice health, API logs and the audit log."""

from __future__ import annotations

from flask import current_app, jsonify, render_template, request
from werkzeug.wrappers import Response

from core import db
from core.errors import GatewayError
from reports import dashboard as dashboard_queries
from reports import health as service_health
from reports import logs as admin_logs
from reports import timeline
from routes.portal import access
from routes.portal.forms import check_dates

bp = access.portal_blueprint("portal_monitoring", __name__, "/portal")
PER_PAGE = 50


def _page_number() -> int:
    return max(request.args.get("page", 1, type=int) or 1, 1)


@bp.get("/")
@access.requires("read", tenants=True)
def dashboard() -> str:
    """Totals, success rate, revenue by client, hourly chart, status breakdown, recent activity (a client's
    own user: their client's figures only)."""
    with db.transaction() as conn:
        data = dashboard_queries.overview(conn, access.scope())
    chart = {
        "hours": {
            "labels": [h["label"] for h in data["hours"]],
            "completed": [h["completed"] for h in data["hours"]],
            "failed": [h["failed"] for h in data["hours"]],
            "in_flight": [h["in_flight"] for h in data["hours"]],
        },
        "statuses": {"labels": [s["state"] for s in data["statuses"]], "counts": [s["n"] for s in data["statuses"]]},
    }
    return render_template("portal/dashboard/index.html", data=data, chart=chart)


@bp.get("/health")
@access.requires("read")
def health() -> Response:
    """Microservice health as JSON for the dashboard's health card (fetched after the page, so a slow
    microservice never slows the dashboard)."""
    checks = service_health.check_all(
        {
            "M-Pesa service": current_app.config["MPESA_SERVICE_URL"],
            "Router service": current_app.config["ROUTER_SERVICE_URL"],
        }
    )
    return jsonify({"services": checks})


@bp.get("/api-logs")
@access.requires("read", tenants=True)
def api_logs() -> tuple[str, int]:
    """API calls, newest first, filtered by client, path, status and date; bodies masked."""
    filters = {k: (request.args.get(k) or "").strip() for k in ("app_id", "path", "status", "date_from", "date_to")}
    if access.scope().is_tenant:
        filters["app_id"] = ""  # their own calls only (the query pins the client)
    page, error, result = _page_number(), None, {"items": [], "has_next": False}
    try:
        check_dates(filters)
        with db.transaction() as conn:
            result = admin_logs.search_api_logs(conn, filters, page, PER_PAGE, access.scope())
    except GatewayError as exc:
        error = exc.message
    for row in result["items"]:
        row["request_pretty"] = timeline.pretty(row.get("request_body"))
        row["response_pretty"] = timeline.pretty(row.get("response_body"))
    return render_template(
        "portal/logs/api_logs.html", result=result, filters=filters, page=page, error=error
    ), 400 if error else 200


@bp.get("/audit")
@access.requires("read", tenants=True)
def audit_log() -> tuple[str, int]:
    """Every admin action: who, what, when, before → after (secrets masked when written, and again here). A
    client's own user sees the actions about their client (by anyone, gateway admins included)."""
    filters = {k: (request.args.get(k) or "").strip() for k in ("username", "action", "target", "date_from", "date_to")}
    page, error, result, actions = _page_number(), None, {"items": [], "has_next": False}, []
    try:
        check_dates(filters)
        with db.transaction() as conn:
            result = admin_logs.search_audit(conn, filters, page, PER_PAGE, access.scope())
            actions = admin_logs.audit_actions(conn, access.scope())
    except GatewayError as exc:
        error = exc.message
    for row in result["items"]:
        row["before_pretty"] = timeline.pretty(row.get("before"))
        row["after_pretty"] = timeline.pretty(row.get("after"))
    return render_template(
        "portal/logs/audit.html", result=result, filters=filters, page=page, actions=actions, error=error
    ), 400 if error else 200
