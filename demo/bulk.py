"""Bulk loads count their own rows into the dashboard's summaries. With gateway.bulk_load = on the per-row
summary triggers stand aside (one upsert per row would cost minutes for millions of rows), so a loader wraps
its INSERT … SELECT with one of these: the inserted rows feed a single GROUP BY upsert in the same statement."""

from __future__ import annotations

# {insert} is an INSERT … SELECT without RETURNING; the statement returns how many rows it inserted.
_TRANSACTIONS = """
WITH loaded AS ({insert} RETURNING created_at, client_id, service, state, amount),
counted AS (
    INSERT INTO gateway.transaction_stats_hourly AS s (hour, client_id, service, state, slot, txn_count, amount_sum)
    SELECT date_trunc('hour', created_at, 'UTC'), client_id, service, state, 0, count(*), coalesce(sum(amount), 0)
      FROM loaded
     GROUP BY 1, 2, 3, 4
     ORDER BY 1, 2, 3, 4
    ON CONFLICT (hour, client_id, service, state, slot) DO UPDATE
       SET txn_count = s.txn_count + EXCLUDED.txn_count, amount_sum = s.amount_sum + EXCLUDED.amount_sum
)
SELECT count(*) FROM loaded
"""

_API_LOGS = """
WITH loaded AS ({insert} RETURNING created_at, client_id, path, http_status),
counted AS (
    INSERT INTO gateway.api_usage_daily AS u (day, client_id, endpoint, http_status, slot, calls)
    SELECT (created_at AT TIME ZONE 'UTC')::date, client_id, gateway.api_endpoint(path), http_status, 0, count(*)
      FROM loaded
     WHERE client_id IS NOT NULL
     GROUP BY 1, 2, 3, 4
     ORDER BY 2, 1, 3, 4
    ON CONFLICT (client_id, day, endpoint, http_status, slot) DO UPDATE SET calls = u.calls + EXCLUDED.calls
)
SELECT count(*) FROM loaded
"""


def counted_transactions(insert: str) -> str:
    """INSERT INTO gateway.transactions … SELECT …, adding its rows to transaction_stats_hourly."""
    return _TRANSACTIONS.format(insert=insert.strip())


def counted_api_logs(insert: str) -> str:
    """INSERT INTO gateway.api_logs … SELECT …, adding its rows to api_usage_daily."""
    return _API_LOGS.format(insert=insert.strip())
