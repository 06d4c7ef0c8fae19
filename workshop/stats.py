"""Per-function statistics: calls and mean time from pg_stat_user_functions (needs track_functions = pl),
p95 time and errors from the route's own transaction records."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

from gateway import function_builder
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
    recent = conn.execute(
        text(
            "SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM completed_at - created_at) * 1000)"
            " FILTER (WHERE completed_at IS NOT NULL), count(*) FILTER (WHERE reason LIKE :pattern), count(*) "
            "FROM (SELECT created_at, completed_at, reason FROM gateway.transactions WHERE client_id = :c "
            "AND registry_id = :r ORDER BY created_at DESC LIMIT :limit) t"
        ),
        {
            "c": ref.client_id,
            "r": ref.registry_id,
            "limit": RECENT,
            "pattern": f"function {function_builder.FN_SCHEMA}.{ref.name} %",
        },
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
