"""Dashboard figures. Totals, rates and charts read gateway.transaction_stats_hourly (a trigger-maintained
pre-aggregate, sql/schema/0003_portal.sql), so their cost depends on hours × clients, not on the number of
transactions; the recent lists read the newest rows through the created_at indexes."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.engine import Connection

SETTLED = ("completed", "failed", "timed_out")


def _rate(completed: int, settled: int) -> float | None:
    return round(100.0 * completed / settled, 1) if settled else None


def totals(conn: Connection) -> dict:
    """Count, revenue and success rate for today and for the last 7 days (today and the 6 days before).
    Success rate = completed ÷ settled (completed + failed + timed out): pending work is not a failure yet."""
    rows = (
        conn.execute(
            text(
                "SELECT state, "
                "coalesce(sum(txn_count) FILTER (WHERE hour >= date_trunc('day', now())), 0) AS today, "
                "coalesce(sum(amount_sum) FILTER (WHERE hour >= date_trunc('day', now())), 0) AS today_amount, "
                "sum(txn_count) AS week, sum(amount_sum) AS week_amount "
                "FROM gateway.transaction_stats_hourly WHERE hour >= date_trunc('day', now()) - interval '6 days' "
                "GROUP BY state"
            )
        )
        .mappings()
        .all()
    )
    out = {}
    for period, amount_key in (("today", "today_amount"), ("week", "week_amount")):
        by_state = {r["state"]: int(r[period]) for r in rows}
        completed = by_state.get("completed", 0)
        settled = sum(by_state.get(s, 0) for s in SETTLED)
        revenue = sum((r[amount_key] for r in rows if r["state"] == "completed"), Decimal(0))
        out[period] = {
            "count": sum(by_state.values()),
            "completed": completed,
            "failed": by_state.get("failed", 0) + by_state.get("timed_out", 0),
            "in_flight": sum(by_state.values()) - settled,
            "revenue": revenue,
            "success_rate": _rate(completed, settled),
        }
    return out


def status_breakdown(conn: Connection) -> list[dict]:
    """Transactions per state over the last 7 days."""
    rows = (
        conn.execute(
            text(
                "SELECT state, sum(txn_count)::bigint AS n FROM gateway.transaction_stats_hourly "
                "WHERE hour >= date_trunc('day', now()) - interval '6 days' GROUP BY state HAVING sum(txn_count) > 0 "
                "ORDER BY n DESC"
            )
        )
        .mappings()
        .all()
    )
    return [dict(r) for r in rows]


def revenue_by_client(conn: Connection, limit: int = 10) -> list[dict]:
    """Completed amount and count per client over the last 7 days, largest first."""
    rows = (
        conn.execute(
            text(
                "SELECT c.app_id, c.company_name, s.revenue, s.n FROM ("
                " SELECT client_id, sum(amount_sum) AS revenue, sum(txn_count)::bigint AS n "
                " FROM gateway.transaction_stats_hourly "
                " WHERE state = 'completed' AND hour >= date_trunc('day', now()) - interval '6 days' "
                " GROUP BY client_id HAVING sum(txn_count) > 0) s "
                "JOIN gateway.clients c ON c.id = s.client_id ORDER BY s.revenue DESC, c.app_id LIMIT :limit"
            ),
            {"limit": limit},
        )
        .mappings()
        .all()
    )
    return [dict(r) for r in rows]


def per_hour(conn: Connection, hours: int = 24) -> list[dict]:
    """The last `hours` hours, oldest first, each with completed / failed / other counts (zeros included)."""
    rows = (
        conn.execute(
            text(
                "WITH h AS (SELECT generate_series(date_trunc('hour', now()) - make_interval(hours => :hours - 1), "
                "date_trunc('hour', now()), interval '1 hour') AS hour) "
                "SELECT to_char(h.hour, 'HH24:00') AS label, "
                "coalesce(sum(s.txn_count) FILTER (WHERE s.state = 'completed'), 0)::bigint AS completed, "
                "coalesce(sum(s.txn_count) FILTER (WHERE s.state IN ('failed', 'timed_out')), 0)::bigint AS failed, "
                "coalesce(sum(s.txn_count) FILTER (WHERE s.state IN ('received', 'dispatched', 'pending')), 0)::bigint "
                "AS in_flight "
                "FROM h LEFT JOIN gateway.transaction_stats_hourly s ON s.hour = h.hour "
                "GROUP BY h.hour ORDER BY h.hour"
            ),
            {"hours": hours},
        )
        .mappings()
        .all()
    )
    return [dict(r) for r in rows]


def recent_transactions(conn: Connection, limit: int = 10) -> list[dict]:
    rows = (
        conn.execute(
            text(
                "SELECT t.public_id::text AS transaction_id, c.app_id, t.service, t.route, t.f010, t.state AS status, "
                "t.amount, t.created_at FROM gateway.transactions t JOIN gateway.clients c ON c.id = t.client_id "
                "ORDER BY t.created_at DESC LIMIT :limit"
            ),
            {"limit": limit},
        )
        .mappings()
        .all()
    )
    return [dict(r) for r in rows]


def recent_api_calls(conn: Connection, limit: int = 10) -> list[dict]:
    rows = (
        conn.execute(
            text(
                "SELECT id, app_id, method, path, http_status, latency_ms, created_at FROM gateway.api_logs "
                "ORDER BY created_at DESC LIMIT :limit"
            ),
            {"limit": limit},
        )
        .mappings()
        .all()
    )
    return [dict(r) for r in rows]


REVIEW_REASONS = {
    "late_settlement": "paid by a late callback after it had timed out",
    "amount_mismatch": "paid amount differs from the requested amount",
    "followup": "follow-up call (e.g. router provisioning) gave up",
}


def review_reasons(flags: dict | None) -> list[str]:
    """Why a transaction needs a person, in words, from its flags."""
    flags = flags or {}
    reasons = [text_ for key, text_ in REVIEW_REASONS.items() if key in flags and key != "followup"]
    if flags.get("followup") == "failed":
        reasons.append(REVIEW_REASONS["followup"])
    return reasons


def needs_review(conn: Connection, limit: int = 10) -> list[dict]:
    """Newest transactions flagged needs_review (partial index transactions_needs_review)."""
    rows = (
        conn.execute(
            text(
                "SELECT t.public_id::text AS transaction_id, c.app_id, t.f010, t.state AS status, t.amount, "
                "t.flags, t.updated_at FROM gateway.transactions t JOIN gateway.clients c ON c.id = t.client_id "
                "WHERE t.flags ? 'needs_review' ORDER BY t.updated_at DESC LIMIT :limit"
            ),
            {"limit": limit},
        )
        .mappings()
        .all()
    )
    return [{**dict(r), "reasons": review_reasons(r["flags"])} for r in rows]


def catalogue_counts(conn: Connection) -> dict:
    row = (
        conn.execute(
            text(
                "SELECT (SELECT count(*) FROM gateway.clients WHERE status = 'active') AS active_clients, "
                "(SELECT count(*) FROM gateway.clients) AS clients, "
                "(SELECT count(*) FROM gateway.services WHERE active) AS services"
            )
        )
        .mappings()
        .one()
    )
    return dict(row)


def overview(conn: Connection) -> dict:
    """Everything the dashboard page shows except microservice health (fetched by the browser separately,
    so a slow microservice never slows the page)."""
    return {
        "totals": totals(conn),
        "statuses": status_breakdown(conn),
        "revenue": revenue_by_client(conn),
        "hours": per_hour(conn),
        "recent_transactions": recent_transactions(conn),
        "recent_api_calls": recent_api_calls(conn),
        "counts": catalogue_counts(conn),
        "needs_review": needs_review(conn),
    }
