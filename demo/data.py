"""`flask --app app demo-data`: demo clients and services made through the service layer, then N generated
transactions (one INSERT … SELECT over generate_series) spread over the last days, for trying the portal and
for measuring it at scale."""

from __future__ import annotations

import secrets
import time

import click
from flask import Flask
from sqlalchemy import text
from sqlalchemy.engine import Connection

from admin import clients, services
from core import db
from core.actor import system_actor
from core.errors import NotFound
from demo import bulk

ACTOR = system_actor("demo-data")
CLIENTS = (
    ("demoshop", "Demo Shop Ltd", "ops@demoshop.test"),
    ("demoisp", "Demo Fibre ISP", "noc@demoisp.test"),
    ("demoschool", "Demo Academy", "bursar@demoschool.test"),
    ("demotaxi", "Demo Rides", "finance@demotaxi.test"),
    ("demowater", "Demo Water Co", "billing@demowater.test"),
)
SERVICES = (
    {"name": "demompesa", "display_name": "M-Pesa STK (demo)", "kind": "mpesa_stk", "routes": ["pay", "status"]},
    {"name": "demonet", "display_name": "Internet plans (demo)", "kind": "router", "routes": ["activate", "renew"]},
    {"name": "demobills", "display_name": "Bill payments (demo)", "kind": "http", "routes": ["pay"]},
)
DEMO_BASE_URL = "http://127.0.0.1:5101"


def ensure_catalogue(conn: Connection) -> list[dict]:
    """Create the demo clients and services if missing, assign every service to every client, and return
    the registry rows the generated transactions will point at."""
    for app_id, company, email in CLIENTS:
        try:
            clients.get_client(conn, app_id)
        except NotFound:
            clients.create_client(
                conn,
                {
                    "app_id": app_id,
                    "company_name": company,
                    "email": email,
                    "callback_url": f"https://{app_id}.test/webhooks/mospay",
                },
                ACTOR,
            )
    for spec in SERVICES:
        try:
            services.get_service(conn, spec["name"])
        except NotFound:
            services.create_service(conn, {**spec, "base_url": DEMO_BASE_URL, "timeout_s": 10}, ACTOR)
        for app_id, _, _ in CLIENTS:
            if not any(f["service"] == spec["name"] for f in services.client_functions(conn, app_id)):
                services.assign(conn, app_id, spec["name"], ACTOR)
    rows = (
        conn.execute(
            text(
                "SELECT fr.id AS registry_id, fr.client_id, c.app_id, s.name AS service, sr.route "
                "FROM gateway.function_registry fr JOIN gateway.clients c ON c.id = fr.client_id "
                "JOIN gateway.services s ON s.id = fr.service_id JOIN gateway.service_routes sr ON sr.id = fr.route_id "
                "WHERE c.app_id = ANY(:apps) AND s.name = ANY(:svcs) ORDER BY fr.id"
            ),
            {"apps": [c[0] for c in CLIENTS], "svcs": [s["name"] for s in SERVICES]},
        )
        .mappings()
        .all()
    )
    return [dict(r) for r in rows]


# One row per generate_series value. Random draws happen once per row in the inner SELECT; the outer SELECT
# derives a consistent story from them: state, answer, timings, receipt. The skewed client pick (power 1.6)
# makes some merchants much busier than others, as in real traffic.
_INSERT = """
INSERT INTO gateway.transactions (client_id, registry_id, service, route, f010, payload_hash, state, amount, msisdn,
    account_ref, request, result, http_status, reason, provider_ref, receipt, created_at, updated_at, completed_at)
SELECT r.client_id, r.registry_id, r.service, r.route, x.f010, md5(x.f010), x.state, x.amount, x.msisdn, x.account_ref,
       jsonb_build_object('f000', r.service, 'f002', r.route, 'f003', r.app_id, 'f004', x.amount::text,
                          'f005', x.msisdn, 'f006', x.account_ref, 'f008', '****', 'f010', x.f010),
       CASE x.state
            WHEN 'completed' THEN jsonb_build_object('status', '200', 'action', 'OUTPUT', 'type', 'success',
                                                     'message', 'payment received', 'receipt', x.receipt)
            WHEN 'failed' THEN jsonb_build_object('status', '400', 'action', 'ERROR', 'type', 'error',
                                                  'message', 'Request cancelled by user')
            WHEN 'timed_out' THEN jsonb_build_object('status', '504', 'action', 'ERROR', 'type', 'error',
                                                     'message', 'no callback or status answer in time')
            ELSE jsonb_build_object('status', '202', 'action', 'PENDING', 'type', 'pending',
                                    'message', 'waiting for the customer to confirm') END,
       CASE x.state WHEN 'completed' THEN 200 WHEN 'failed' THEN 400 WHEN 'timed_out' THEN 504 ELSE 202 END,
       CASE x.state WHEN 'failed' THEN 'Request cancelled by user'
                    WHEN 'timed_out' THEN 'no callback or status answer in time' END,
       'ws_CO_' || x.i, CASE WHEN x.state = 'completed' THEN x.receipt END,
       x.created_at, x.created_at + x.took,
       CASE WHEN x.state IN ('completed', 'failed', 'timed_out') THEN x.created_at + x.took END
FROM (
    SELECT g.i, :tag || '-' || g.i AS f010,
           1 + floor(power(g.r_client, 1.6) * :n_reg)::int AS pick,
           CASE WHEN g.r_state < 0.84 THEN 'completed' WHEN g.r_state < 0.94 THEN 'failed'
                WHEN g.r_state < 0.97 THEN 'timed_out' WHEN g.r_state < 0.995 THEN 'pending'
                ELSE 'dispatched' END AS state,
           round((10 * exp(g.r_amount * 6))::numeric, 0) AS amount,
           '2547' || lpad(floor(g.r_phone * 100000000)::bigint::text, 8, '0') AS msisdn,
           'ACC' || lpad(floor(g.r_phone * 1000000)::bigint::text, 6, '0') AS account_ref,
           upper(substr(md5(:tag || g.i), 1, 10)) AS receipt,
           now() - g.r_time * make_interval(days => :days) AS created_at,
           make_interval(secs => 1 + g.r_amount * 40) AS took
    FROM (SELECT i, random() AS r_client, random() AS r_state, random() AS r_amount, random() AS r_phone,
                 random() AS r_time FROM generate_series(1, :n) AS i) g
) x
JOIN (SELECT row_number() OVER (ORDER BY registry_id) AS k, * FROM unnest(CAST(:registry_ids AS bigint[]),
      CAST(:client_ids AS bigint[]), CAST(:app_ids AS text[]), CAST(:services AS text[]), CAST(:routes AS text[]))
      AS u(registry_id, client_id, app_id, service, route)) r ON r.k = x.pick
ORDER BY x.created_at
"""

_API_LOGS = """
INSERT INTO gateway.api_logs (client_id, app_id, method, path, http_status, latency_ms, remote_addr, request_body,
                              response_body, created_at)
SELECT t.client_id, c.app_id, 'POST', '/api/v1/payment/process', t.http_status, 40 + (random() * 900)::int,
       '127.0.0.1', t.request::text, t.result::text, t.created_at
FROM gateway.transactions t JOIN gateway.clients c ON c.id = t.client_id
WHERE t.id > :after AND t.f010 LIKE :tag || '-%' AND t.id % 10 = 0
"""


def generate(conn: Connection, n: int, days: int = 30) -> dict:
    """Insert n demo transactions (and one API log row per ten) over the last `days` days."""
    conn.execute(text("SET LOCAL statement_timeout = 0"))  # a bulk load, not a request: no 5 s bound
    conn.execute(text("SET LOCAL gateway.bulk_load = on"))  # the summaries are counted in one pass (demo/bulk.py)
    registry = ensure_catalogue(conn)
    tag = "demo" + secrets.token_hex(3)  # a new f010 prefix per run, so runs never collide
    started = time.monotonic()
    after = conn.execute(text("SELECT coalesce(max(id), 0) FROM gateway.transactions")).scalar_one()
    inserted = conn.execute(
        text(bulk.counted_transactions(_INSERT)),
        {
            "tag": tag,
            "n": n,
            "days": days,
            "n_reg": len(registry),
            "registry_ids": [r["registry_id"] for r in registry],
            "client_ids": [r["client_id"] for r in registry],
            "app_ids": [r["app_id"] for r in registry],
            "services": [r["service"] for r in registry],
            "routes": [r["route"] for r in registry],
        },
    ).scalar_one()
    inserted_at = time.monotonic()
    logs = conn.execute(text(bulk.counted_api_logs(_API_LOGS)), {"tag": tag, "after": after}).scalar_one()
    conn.execute(text("SELECT gateway.fold_summary_deltas(NULL)"))  # the dashboard reads folded rows at once
    done = time.monotonic()
    return {
        "transactions": inserted,
        "api_logs": logs,
        "tag": tag,
        "seconds": round(done - started, 1),
        "transaction_seconds": round(inserted_at - started, 1),
    }


def analyze(conn: Connection) -> None:
    """Fresh planner statistics after a bulk load, so the first dashboard is planned on real numbers."""
    # clients and services too: the filtered lists join them, and a tiny table that autovacuum has never
    # analysed makes the planner guess hundreds of clients and pick a full scan.
    for table in ("transactions", "api_logs", "transaction_stats_hourly", "clients", "services"):
        conn.execute(text(f"ANALYZE gateway.{table}"))


def register_cli(app: Flask) -> None:
    @app.cli.command("demo-data")
    @click.option(
        "--transactions",
        "count",
        default=10000,
        show_default=True,
        type=click.IntRange(0, 50_000_000),
        help="how many transactions to generate",
    )
    @click.option(
        "--days",
        default=30,
        show_default=True,
        type=click.IntRange(1, 3650),
        help="spread them over this many days back from now",
    )
    def demo_data(count: int, days: int) -> None:
        """Demo clients, services and COUNT generated transactions (1,000,000 take about a minute)."""
        with db.transaction() as conn:
            result = generate(conn, count, days)
        with db.transaction() as conn:
            analyze(conn)
        click.echo(
            f"demo-data: {result['transactions']} transactions and {result['api_logs']} API log rows "
            f"in {result['seconds']} s (f010 prefix {result['tag']}-)"
        )
