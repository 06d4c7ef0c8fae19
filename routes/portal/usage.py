"""A client's monthly usage statement: page with a daily chart, and the same statement as CSV."""

from __future__ import annotations

import csv
import io

from flask import Response, render_template, request

from core import db
from core.errors import InvalidField
from reports import usage
from routes.portal import access

bp = access.portal_blueprint("portal_usage", __name__, "/portal/clients")


@bp.get("/<app_id>/usage")
@access.requires("read", tenants=True)
def month(app_id: str) -> tuple[str, int]:
    """API calls, transactions by service and state, and successful volume for one month (current by default)."""
    chosen, error = request.args.get("month") or None, None
    try:
        usage.month_bounds(chosen)
    except InvalidField as exc:
        chosen, error = None, exc.message
    with db.transaction() as conn:
        report = usage.statement(conn, app_id, chosen)  # NotFound renders the portal's 404 page
    chart = {
        "days": [d["day"][8:] for d in report["daily"]],
        "calls": [d["api_calls"] for d in report["daily"]],
        "volume": [float(d["volume"]) for d in report["daily"]],
    }
    return render_template(
        "portal/usage/month.html", report=report, chart=chart, error=error, chosen=report["month"]
    ), 400 if error else 200


@bp.get("/<app_id>/usage.csv")
@access.requires("read", tenants=True)
def month_csv(app_id: str) -> Response:
    """The month's statement as CSV: one row per endpoint/status and service/state, then the totals."""
    with db.transaction() as conn:
        report = usage.statement(conn, app_id, request.args.get("month") or None)
    out = io.StringIO()
    csv.writer(out).writerows(usage.csv_rows(report))
    name = f"usage-{report['app_id']}-{report['month']}.csv"
    return Response(
        out.getvalue(), mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
