"""Item 3's load: 1,000,000 transactions and 5,000,000 API log rows already in the database, so the gateway rows
can be repeated against a full database. Transactions come from the demo-data generator (generate_series);
the API log is topped up to its target with one more generate_series INSERT."""

from __future__ import annotations

import time

from flask import Flask
from sqlalchemy import text

from core import db
from demo import bulk
from demo import data as demo_data

_API_LOGS = """
INSERT INTO gateway.api_logs (client_id, app_id, method, path, http_status, latency_ms, remote_addr, request_body,
                              response_body, created_at)
SELECT c.id, c.app_id, 'POST', '/api/v1/payment/process', CASE WHEN i % 20 = 0 THEN 400 ELSE 200 END,
       20 + i % 900, '127.0.0.1',
       '{"f000":"demobills","f002":"pay","f003":"' || c.app_id || '","f004":"100","f010":"log-' || i || '"}',
       '{"status":"200","action":"OUTPUT","message":"success"}',
       now() - (i % 2592000) * interval '1 second'
FROM generate_series(1, :n) AS i
CROSS JOIN LATERAL (SELECT id, app_id FROM gateway.clients WHERE app_id = 'demoshop') c
"""

_SETTLE_IN_FLIGHT = """
UPDATE gateway.transactions
   SET state = 'timed_out', http_status = 504, next_check_at = NULL, completed_at = updated_at,
       reason = 'no callback or status answer in time'
 WHERE f010 LIKE :tag || '-%' AND state IN ('pending', 'dispatched', 'received')
"""


# The app's connections start with statement_timeout (DB_STATEMENT_TIMEOUT_MS, 5 s): a bulk load of millions of
# rows needs longer, so each load transaction sets its own (SET LOCAL: it ends with the transaction).
_LOAD_TIMEOUT_MS = 3_600_000


def preload(app: Flask, transactions: int, api_logs: int) -> dict:
    """Insert the rows and ANALYZE; returns what was inserted and how long it took."""
    started = time.monotonic()
    with app.app_context():
        with db.transaction(timeout_ms=_LOAD_TIMEOUT_MS) as conn:
            made = demo_data.generate(conn, transactions, 30)
            # A database in steady state holds no weeks-old payments still in flight; the demo's few percent would
            # make the worker sweep them, queue their webhooks and retry those to unreachable demo hosts during the
            # rows, so the benchmark's STK confirmations wait behind that backlog. They end as timed out instead.
            conn.execute(text(_SETTLE_IN_FLIGHT), {"tag": made["tag"]})
        with db.transaction(timeout_ms=_LOAD_TIMEOUT_MS) as conn:
            have = conn.execute(text("SELECT count(*) FROM gateway.api_logs")).scalar_one()
            extra = max(0, api_logs - have)
            if extra:
                conn.execute(text("SET LOCAL gateway.bulk_load = on"))  # usage counted in one pass (demo/bulk.py)
                conn.execute(text(bulk.counted_api_logs(_API_LOGS)), {"n": extra})
                conn.execute(text("SELECT gateway.fold_summary_deltas(NULL)"))
        # VACUUM (ANALYZE), not only ANALYZE: a database in steady state has been vacuumed, and the insert-driven
        # autovacuum of six million fresh rows would otherwise run on the same two cores during the rows.
        with db.autocommit() as conn:
            conn.exec_driver_sql("SET statement_timeout = 0")
            conn.exec_driver_sql("VACUUM (ANALYZE)")
            conn.exec_driver_sql("RESET statement_timeout")
        with db.transaction(timeout_ms=_LOAD_TIMEOUT_MS) as conn:
            total_logs = conn.execute(text("SELECT count(*) FROM gateway.api_logs")).scalar_one()
            total_txns = conn.execute(text("SELECT count(*) FROM gateway.transactions")).scalar_one()
    return {
        "transactions": total_txns,
        "api_logs": total_logs,
        "generated_transactions": made["transactions"],
        "seconds": round(time.monotonic() - started, 1),
    }
