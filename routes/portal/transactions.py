"""Transactions: filtered list, CSV export, detail timeline, and webhook redelivery."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime

from flask import Response, flash, redirect, render_template, request, stream_with_context, url_for

from admin import outbox as outbox_admin
from admin.scope import Scope
from core import db
from core.errors import GatewayError, InvalidField
from gateway.fields import normalise_msisdn
from reports import dashboard, timeline, transactions
from routes.portal import access
from routes.portal.forms import check_dates

bp = access.portal_blueprint("portal_transactions", __name__, "/portal")
PER_PAGE = 50
FILTER_KEYS = ("app_id", "service", "status", "f010", "msisdn", "date_from", "date_to")
CSV_PAGE = 2000
CSV_MAX_ROWS = 100_000
CSV_COLUMNS = (
    "transaction_id",
    "created_at",
    "completed_at",
    "app_id",
    "service",
    "route",
    "f010",
    "status",
    "amount",
    "msisdn",
    "receipt",
    "http_status",
    "reason",
)


def _raw_filters() -> dict:
    """The query-string filters as typed; a client's own user has no client filter (search pins their own)."""
    raw = {k: (request.args.get(k) or "").strip() for k in FILTER_KEYS}
    if access.scope().is_tenant:
        raw["app_id"] = ""
    return raw


def _filters() -> dict:
    """The query-string filters, checked and normalised (phone numbers in any usual form)."""
    filters = _raw_filters()
    if filters["status"] and filters["status"] not in transactions.STATES:
        raise InvalidField(f"status must be one of {', '.join(transactions.STATES)}")
    if filters["msisdn"]:
        try:
            filters["msisdn"] = normalise_msisdn(filters["msisdn"])
        except InvalidField as exc:
            raise InvalidField("phone must be a mobile number such as 0712345678 or 254712345678") from exc
    check_dates(filters)
    return filters


@bp.get("/transactions")
@access.requires("read", tenants=True)
def list_transactions() -> tuple[str, int]:
    """Newest first; filters by client, service, status, f010, phone and date range."""
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    raw = _raw_filters()
    error, items, has_next = None, [], False
    try:
        filters = _filters()
        with db.transaction() as conn:
            result = transactions.search(conn, filters, page, PER_PAGE, access.scope())
        items, has_next = result["items"], result["has_next"]
    except GatewayError as exc:
        error = exc.message
    return render_template(
        "portal/transactions/list.html",
        items=items,
        filters=raw,
        page=page,
        args={k: v for k, v in raw.items() if v},
        has_next=has_next,
        states=transactions.STATES,
        filtered=any(raw.values()),
        error=error,
    ), 400 if error else 200


def mask_msisdn(msisdn: str | None) -> str:
    """254712345678 → 25471****678: enough to match a complaint, not a list of customers' numbers."""
    if not msisdn:
        return ""
    return msisdn[:5] + "****" + msisdn[-3:] if len(msisdn) > 8 else "****"


def _cell(value: object) -> str:
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    # A cell starting with = + - @ is a formula to a spreadsheet: keep it text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv_rows(filters: dict, scope: Scope) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        data = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)
        return data

    writer.writerow(CSV_COLUMNS)
    yield flush()
    sent = 0
    with db.transaction() as conn:
        page = 1
        while sent < CSV_MAX_ROWS:
            items = transactions.search(conn, filters, page, CSV_PAGE, scope)["items"]
            for row in items[: CSV_MAX_ROWS - sent]:
                row = {**row, "msisdn": mask_msisdn(row.get("msisdn"))}
                writer.writerow([_cell(row.get(c)) for c in CSV_COLUMNS])
            sent += len(items)
            yield flush()
            if len(items) < CSV_PAGE:
                break
            page += 1


@bp.get("/transactions.csv")
@access.requires("read", tenants=True)
def export_csv() -> Response | tuple[str, int]:
    """The filtered list as CSV (phone numbers masked), newest first, at most 100,000 rows per file."""
    try:
        filters = _filters()
    except GatewayError as exc:
        flash(f"CSV export: {exc.message}", "danger")
        return redirect(url_for("portal_transactions.list_transactions", **request.args))
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return Response(
        stream_with_context(_csv_rows(filters, access.scope())),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="transactions-{stamp}.csv"'},
    )


@bp.get("/transactions/<public_id>")
@access.requires("read", tenants=True)
def detail(public_id: str) -> str:
    """One transaction as a timeline: request (masked), state changes, outside calls, callbacks, answer,
    webhooks."""
    with db.transaction() as conn:
        txn = transactions.detail(conn, public_id, access.scope())  # another client's: 404 as a missing one
    review = dashboard.review_reasons(txn.get("flags")) if (txn.get("flags") or {}).get("needs_review") else []
    return render_template("portal/transactions/detail.html", txn=txn, entries=timeline.build(txn), review=review)


@bp.post("/outbox/<int:outbox_id>/redeliver")
@access.requires("operate", tenants=True)
def redeliver(outbox_id: int) -> Response:
    """Queue a webhook again now; the worker delivers it on its next pass."""
    with db.transaction() as conn:
        row = outbox_admin.redeliver(conn, outbox_id, access.actor(), access.scope())
    flash(
        f"Webhook #{outbox_id} queued for delivery again (up to {row['max_attempts'] - row['attempts']} more "
        "attempts).",
        "success",
    )
    if row.get("transaction_id"):
        return redirect(url_for("portal_transactions.detail", public_id=row["transaction_id"]) + "#webhooks")
    return redirect(url_for("portal_transactions.list_transactions"))
