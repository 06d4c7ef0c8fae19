"""Per-function statistics: calls and mean time from pg_stat_user_functions (needs track_functions = pl),
p95 time and errors from the route's own transaction records."""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection

from gateway import function_builder
from models import Transaction
from workshop.catalog import FunctionRef

RECENT = 1000  # transactions of the route the p95 and error count look at


def function_stats(conn: Connection, ref: FunctionRef) -> dict:
    """{"calls", "mean_ms", "p95_ms", "errors", …} for one client function."""
    row = conn.execute(
        text("SELECT calls, total_time, self_time FROM pg_stat_user_functions WHERE schemaname = :s AND funcname = :n"),
        {"s": function_builder.FN_SCHEMA, "n": ref.name},
    ).first()
    calls, total = (int(row[0]), float(row[1])) if row else (0, 0.0)
    # gateway.invoke names the failing function in the transaction's reason: "function clientfn.<name> raised: …"
    t = Transaction
    latest = (
        select(t.created_at, t.completed_at, t.reason)
        .where(t.client_id == ref.client_id, t.registry_id == ref.registry_id)
        .order_by(t.created_at.desc())
        .limit(RECENT)
        .subquery()
    )
    elapsed_ms = func.extract("epoch", latest.c.completed_at - latest.c.created_at) * 1000
    failed = latest.c.reason.like(f"function {function_builder.FN_SCHEMA}.{ref.name} %")
    recent = conn.execute(
        select(
            func.percentile_cont(0.95).within_group(elapsed_ms).filter(latest.c.completed_at.is_not(None)),
            func.count().filter(failed),
            func.count(),
        ).select_from(latest)
    ).one()
    return {
        "calls": calls,
        "mean_ms": round(total / calls, 3) if calls else None,
        "total_ms": round(total, 3),
        "p95_ms": round(float(recent[0]), 1) if recent[0] is not None else None,
        "errors": int(recent[1]),
        "transactions": int(recent[2]),
        "track_functions": conn.execute(text("SELECT current_setting('track_functions')")).scalar(),
    }
