"""A client's usage statement for one calendar month (UTC): API calls by endpoint and status, transactions by
service and state with their amounts, and the successful volume. Reads only the pre-aggregates (the *_live
views: transaction_stats_hourly and api_usage_daily plus their deltas not folded yet), so a month of millions
of rows costs a few thousand summary rows."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Date, cast, func, select
from sqlalchemy.engine import Connection

from admin.clients import get_client
from core.errors import InvalidField
from models import ApiUsageLive, TransactionStatsLive

MONTH_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
S, U = TransactionStatsLive, ApiUsageLive  # summary + deltas not folded yet (0110)


def month_bounds(month: str | None) -> tuple[date, date]:
    """(first day, first day of the next month) of 'YYYY-MM'; the current UTC month when None.
    :raise InvalidField: for anything else."""
    if not month:
        today = datetime.now(UTC).date()
        month = f"{today.year:04d}-{today.month:02d}"
    match = MONTH_RE.match(month)
    if match is None:
        raise InvalidField("month must be YYYY-MM, e.g. 2026-11")
    year, number = int(match.group(1)), int(match.group(2))
    start = date(year, number, 1)
    return start, date(year + number // 12, number % 12 + 1, 1)


def _utc(day: date) -> datetime:
    # The hourly stats are keyed by UTC hour; compare with UTC midnight, whatever the session's time zone.
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def statement(conn: Connection, app_id: str, month: str | None = None) -> dict:
    """The month's statement for one client. Raises NotFound (unknown client) or InvalidField (bad month)."""
    start, end = month_bounds(month)
    client = get_client(conn, app_id)
    in_month = (S.client_id == client["id"], S.hour >= _utc(start), S.hour < _utc(end))
    by_service = [
        {"service": r.service, "state": r.state, "count": int(r.n), "amount": r.amount}
        for r in conn.execute(
            select(
                S.service,
                S.state,
                cast(func.sum(S.txn_count), BigInteger).label("n"),
                func.sum(S.amount_sum).label("amount"),
            )
            .where(*in_month)
            .group_by(S.service, S.state)
            .having(func.sum(S.txn_count) != 0)
            .order_by(S.service, S.state)
        )
    ]
    api = [
        {"endpoint": r.endpoint, "status": r.http_status, "calls": int(r.calls)}
        for r in conn.execute(
            select(U.endpoint, U.http_status, cast(func.sum(U.calls), BigInteger).label("calls"))
            .where(U.client_id == client["id"], U.day >= start, U.day < end)
            .group_by(U.endpoint, U.http_status)
            .order_by(U.endpoint, U.http_status)
        )
    ]
    completed = [row for row in by_service if row["state"] == "completed"]
    return {
        "app_id": client["app_id"],
        "month": start.strftime("%Y-%m"),
        "from": start.isoformat(),
        "to": end.isoformat(),
        "api_calls": {"total": sum(r["calls"] for r in api), "by_endpoint": api},
        "transactions": {"total": sum(r["count"] for r in by_service), "by_service": by_service},
        "successful": {
            "count": sum(r["count"] for r in completed),
            "volume": sum((r["amount"] for r in completed), Decimal(0)),
        },
        "daily": _daily(conn, client["id"], start, end),
    }


def _daily(conn: Connection, client_id: int, start: date, end: date) -> list[dict]:
    """Per day of the month: API calls, transactions and successful volume, for the statement's chart."""
    day = cast(func.timezone("UTC", S.hour), Date).label("day")
    txns = {
        r.day: (int(r.n), r.volume)
        for r in conn.execute(
            select(
                day,
                cast(func.sum(S.txn_count), BigInteger).label("n"),
                func.coalesce(func.sum(S.amount_sum).filter(S.state == "completed"), 0).label("volume"),
            )
            .where(S.client_id == client_id, S.hour >= _utc(start), S.hour < _utc(end))
            .group_by(day)
        )
    }
    calls = dict(
        conn.execute(
            select(U.day, cast(func.sum(U.calls), BigInteger))
            .where(U.client_id == client_id, U.day >= start, U.day < end)
            .group_by(U.day)
        ).all()
    )
    days = sorted(set(txns) | set(calls))
    return [
        {
            "day": d.isoformat(),
            "api_calls": int(calls.get(d, 0)),
            "transactions": txns.get(d, (0, 0))[0],
            "volume": txns.get(d, (0, Decimal(0)))[1],
        }
        for d in days
    ]


CSV_HEADER = ("section", "key", "status", "count", "amount")


def csv_rows(report: dict) -> list[tuple]:
    """The statement as CSV rows: one per endpoint/status and per service/state, then the totals."""
    rows: list[tuple] = [CSV_HEADER]
    rows += [("api_calls", r["endpoint"], r["status"], r["calls"], "") for r in report["api_calls"]["by_endpoint"]]
    rows += [
        ("transactions", r["service"], r["state"], r["count"], f"{r['amount']:.2f}")
        for r in report["transactions"]["by_service"]
    ]
    rows.append(("total", "api_calls", "", report["api_calls"]["total"], ""))
    rows.append(("total", "transactions", "", report["transactions"]["total"], ""))
    rows.append(
        ("total", "successful", "completed", report["successful"]["count"], f"{report['successful']['volume']:.2f}")
    )
    return rows
