"""Bulk loads count their own rows into the dashboard's summaries. With gateway.bulk_load = on the per-row
summary triggers stand aside (a delta row per inserted row would cost minutes for millions of rows), so a loader
wraps its INSERT … SELECT with one of these: the inserted rows feed one delta row per summary key in the same
statement, which the worker folds in as it folds the triggers' (gateway.fold_summary_deltas, migration 0110)."""

from __future__ import annotations

# {insert} is an INSERT … SELECT without RETURNING; the statement returns how many rows it inserted.
_TRANSACTIONS = """
WITH loaded AS ({insert} RETURNING created_at, client_id, service, state, amount),
counted AS (
    INSERT INTO gateway.transaction_stats_delta (hour, client_id, service, state, txn_count, amount_sum)
    SELECT date_trunc('hour', created_at, 'UTC'), client_id, service, state, count(*), coalesce(sum(amount), 0)
      FROM loaded
     GROUP BY 1, 2, 3, 4
)
SELECT count(*) FROM loaded
"""

_API_LOGS = """
WITH loaded AS ({insert} RETURNING created_at, client_id, path, http_status),
counted AS (
    INSERT INTO gateway.api_usage_delta (day, client_id, endpoint, http_status, calls)
    SELECT (created_at AT TIME ZONE 'UTC')::date, client_id, gateway.api_endpoint(path), http_status, count(*)
      FROM loaded
     WHERE client_id IS NOT NULL
     GROUP BY 1, 2, 3, 4
)
SELECT count(*) FROM loaded
"""


def counted_transactions(insert: str) -> str:
    """INSERT INTO gateway.transactions … SELECT …, adding its rows to the transaction summary's deltas."""
    return _TRANSACTIONS.format(insert=insert.strip())


def counted_api_logs(insert: str) -> str:
    """INSERT INTO gateway.api_logs … SELECT …, adding its rows to the API usage summary's deltas."""
    return _API_LOGS.format(insert=insert.strip())
