"""Dashboard figures. Totals, rates and charts read gateway.transaction_stats_live: the trigger-maintained
pre-aggregate plus the deltas the worker has not folded in yet (sql/schema/0110_summary_deltas.sql), so their
cost depends on hours × clients, not on the number of transactions; the recent lists read the newest rows
through the created_at indexes. Every function takes a scope: a client's own users see their client's figures
only (the (client_id, …) indexes serve those reads)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import BigInteger, Select, Text, and_, cast, func, select
from sqlalchemy.engine import Connection

from admin.scope import GATEWAY, Scope
from models import ApiLog, Client, Service, Transaction, TransactionStatsLive

SETTLED = ("completed", "failed", "timed_out")
IN_FLIGHT = ("received", "dispatched", "pending")
S = TransactionStatsLive  # summary + deltas not folded yet (0110)
WEEK = timedelta(days=6)  # today and the 6 days before


def _today():
    return func.date_trunc("day", func.now())


def _since_week():
    return S.hour >= _today() - WEEK


def _sum(column, *conditions):
    total = func.sum(column)
    return func.coalesce(total.filter(*conditions) if conditions else total, 0)


def _rate(completed: int, settled: int) -> float | None:
    return round(100.0 * completed / settled, 1) if settled else None


def totals(conn: Connection, scope: Scope = GATEWAY) -> dict:
    """Count, revenue and success rate for today and for the last 7 days (today and the 6 days before).
    Success rate = completed ÷ settled (completed + failed + timed out): pending work is not a failure yet."""
    today = S.hour >= _today()
    query = (
        select(
            S.state,
            _sum(S.txn_count, today).label("today"),
            _sum(S.amount_sum, today).label("today_amount"),
            _sum(S.txn_count).label("week"),
            _sum(S.amount_sum).label("week_amount"),
        )
        .where(_since_week(), *scope.where(S.client_id))
        .group_by(S.state)
    )
    rows = conn.execute(query).mappings().all()
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


def status_breakdown(conn: Connection, scope: Scope = GATEWAY) -> list[dict]:
    """Transactions per state over the last 7 days."""
    n = cast(func.sum(S.txn_count), BigInteger).label("n")
    query = select(S.state, n).where(_since_week(), *scope.where(S.client_id))
    query = query.group_by(S.state).having(func.sum(S.txn_count) > 0)
    rows = conn.execute(query.order_by(n.desc())).mappings().all()
    return [dict(r) for r in rows]


def revenue_by_client(conn: Connection, limit: int = 10) -> list[dict]:
    """Completed amount and count per client over the last 7 days, largest first (gateway-wide only)."""
    per_client = (
        select(
            S.client_id,
            func.sum(S.amount_sum).label("revenue"),
            cast(func.sum(S.txn_count), BigInteger).label("n"),
        )
        .where(S.state == "completed", _since_week())
        .group_by(S.client_id)
        .having(func.sum(S.txn_count) > 0)
        .subquery()
    )
    query = (
        select(Client.app_id, Client.company_name, per_client.c.revenue, per_client.c.n)
        .join(per_client, per_client.c.client_id == Client.id)
        .order_by(per_client.c.revenue.desc(), Client.app_id)
        .limit(limit)
    )
    rows = conn.execute(query).mappings().all()
    return [dict(r) for r in rows]


def per_hour(conn: Connection, hours: int = 24, scope: Scope = GATEWAY) -> list[dict]:
    """The last `hours` hours, oldest first, each with completed / failed / other counts (zeros included)."""
    now_hour = func.date_trunc("hour", func.now())
    hours_ = func.generate_series(now_hour - timedelta(hours=hours - 1), now_hour, timedelta(hours=1))
    h = hours_.table_valued("hour").render_derived(name="h")

    def count(states: tuple[str, ...]):
        return cast(_sum(S.txn_count, S.state.in_(states)), BigInteger)

    # The scope goes into the join condition, so hours without the client's rows still show as zeros.
    joined = h.outerjoin(S, and_(S.hour == h.c.hour, *scope.where(S.client_id)))

    query = (
        select(
            func.to_char(h.c.hour, "HH24:00").label("label"),
            count(("completed",)).label("completed"),
            count(("failed", "timed_out")).label("failed"),
            count(IN_FLIGHT).label("in_flight"),
        )
        .select_from(joined)
        .group_by(h.c.hour)
        .order_by(h.c.hour)
    )
    rows = conn.execute(query).mappings().all()
    return [dict(r) for r in rows]


def _newest(scope: Scope, *columns) -> Select:
    """The dashboard's transaction lists: id, client, f010, status and amount, plus `columns`."""
    transaction_id = cast(Transaction.public_id, Text).label("transaction_id")
    summary = (transaction_id, Client.app_id, Transaction.f010, Transaction.state.label("status"), Transaction.amount)
    query = select(*summary, *columns).join(Client, Client.id == Transaction.client_id)
    return query.where(*scope.where(Transaction.client_id))


def recent_transactions(conn: Connection, limit: int = 10, scope: Scope = GATEWAY) -> list[dict]:
    query = (
        _newest(scope, Transaction.service, Transaction.route, Transaction.created_at)
        .order_by(Transaction.created_at.desc())
        .limit(limit)
    )
    rows = conn.execute(query).mappings().all()
    return [dict(r) for r in rows]


def recent_api_calls(conn: Connection, limit: int = 10, scope: Scope = GATEWAY) -> list[dict]:
    columns = (ApiLog.id, ApiLog.app_id, ApiLog.method, ApiLog.path, ApiLog.http_status, ApiLog.latency_ms)
    query = select(*columns, ApiLog.created_at).where(*scope.where(ApiLog.client_id))
    query = query.order_by(ApiLog.created_at.desc()).limit(limit)
    rows = conn.execute(query).mappings().all()
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


def needs_review(conn: Connection, limit: int = 10, scope: Scope = GATEWAY) -> list[dict]:
    """Newest transactions flagged needs_review (partial index transactions_needs_review)."""
    query = (
        _newest(scope, Transaction.flags, Transaction.updated_at)
        .where(Transaction.flags.has_key("needs_review"))  # the partial index transactions_needs_review
        .order_by(Transaction.updated_at.desc())
        .limit(limit)
    )
    rows = conn.execute(query).mappings().all()
    return [{**dict(r), "reasons": review_reasons(r["flags"])} for r in rows]


def catalogue_counts(conn: Connection) -> dict:
    def count(table, *where):
        return select(func.count()).select_from(table).where(*where).scalar_subquery()

    query = select(
        count(Client, Client.status == "active").label("active_clients"),
        count(Client).label("clients"),
        count(Service, Service.active).label("services"),
    )
    row = conn.execute(query).mappings().one()
    return dict(row)


def overview(conn: Connection, scope: Scope = GATEWAY) -> dict:
    """Everything the dashboard page shows except microservice health (fetched by the browser separately,
    so a slow microservice never slows the page). A tenant's dashboard holds only its client's figures: no
    revenue ranking of other clients and no gateway-wide catalogue counts."""
    return {
        "totals": totals(conn, scope),
        "statuses": status_breakdown(conn, scope),
        "revenue": [] if scope.is_tenant else revenue_by_client(conn),
        "hours": per_hour(conn, scope=scope),
        "recent_transactions": recent_transactions(conn, scope=scope),
        "recent_api_calls": recent_api_calls(conn, scope=scope),
        "counts": None if scope.is_tenant else catalogue_counts(conn),
        "needs_review": needs_review(conn, scope=scope),
    }
