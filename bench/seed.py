"""The benchmark's merchant, made through the real service layer: one client with an http service pointing at
the loopback sink and an mpesa_stk service pointing at the M-Pesa adapter, both assigned."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from sqlalchemy import text

from admin import clients, services
from app import create_app
from bench.daraja_sim import credentials
from core import db
from core import schema as schema_setup

ACTOR = {"id": None, "username": "bench"}
APP_ID = "benchshop"
HTTP_SERVICE, MPESA_SERVICE = "benchhttp", "benchmpesa"


@dataclass(frozen=True)
class Merchant:
    """What the load needs: the client's credentials and the function pair of its http route."""

    app_id: str
    api_username: str
    api_secret: str
    client_id: int
    request_fn: str
    response_fn: str

    @property
    def basic(self) -> str:
        return "Basic " + base64.b64encode(f"{self.api_username}:{self.api_secret}".encode()).decode()


def seed_app(env: dict[str, str]) -> Flask:
    """An in-process app with the gateway's keys, so hashes and encrypted credentials match what it reads."""
    keys = ("DATABASE_URL", "SECRET_KEY", "ENCRYPTION_KEY", "INTERNAL_TOKEN", "PUBLIC_BASE_URL")
    return create_app({**{k: env[k] for k in keys}, "ENV": "production", "RATELIMIT_ENABLED": False})


def seed(env: dict[str, str], sink_url: str, mpesa_url: str, daraja_url: str) -> Merchant:
    """Migrate, then create the client, both services and assignments."""
    schema_setup.upgrade(env["DATABASE_URL"])
    app = seed_app(env)
    try:
        with app.app_context(), db.transaction() as conn:
            created = clients.create_client(
                conn, {"app_id": APP_ID, "company_name": "Bench Shop", "email": "ops@bench.test"}, ACTOR
            )
            services.create_service(
                conn,
                {"name": HTTP_SERVICE, "display_name": "Sink", "kind": "http", "base_url": sink_url, "routes": ["pay"]},
                ACTOR,
            )
            services.create_service(
                conn,
                {
                    "name": MPESA_SERVICE,
                    "display_name": "M-Pesa",
                    "kind": "mpesa_stk",
                    "base_url": mpesa_url,
                    "routes": ["stkpush", "query"],
                    "timeout_s": 10,
                },
                ACTOR,
            )
            clients.set_mpesa_credentials(conn, APP_ID, credentials(daraja_url), ACTOR)
            services.assign(conn, APP_ID, HTTP_SERVICE, ACTOR)
            services.assign(conn, APP_ID, MPESA_SERVICE, ACTOR)
            fns = conn.execute(
                text(
                    "SELECT fr.fn_schema || '.' || fr.request_fn, fr.fn_schema || '.' || fr.response_fn "
                    "FROM gateway.function_registry fr JOIN gateway.services s ON s.id = fr.service_id "
                    "JOIN gateway.service_routes sr ON sr.id = fr.route_id "
                    "WHERE fr.client_id = :c AND s.name = :s AND sr.route = 'pay'"
                ),
                {"c": created["id"], "s": HTTP_SERVICE},
            ).one()
    finally:
        app.extensions["db_engine"].dispose()
    return Merchant(APP_ID, created["api_username"], created["api_secret"], created["id"], fns[0], fns[1])


RECORDS_SQL = Path(__file__).resolve().parent / "records.sql"


def install_records(database_url: str, m: Merchant, rate_limit: int) -> dict:
    """Row (r)'s functions (bench/records.sql, schema bench_records) and what its script authenticates with:
    the credentials as stored (the keyed hash the gateway compares), the http service and its route."""
    from sqlalchemy import create_engine

    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            with conn.connection.dbapi_connection.cursor() as cur:  # no parameters: its % signs are SQL's
                cur.execute(RECORDS_SQL.read_text())
            stored = conn.execute(
                text("SELECT secret_hash FROM gateway.client_credentials WHERE client_id = :c AND active"),
                {"c": m.client_id},
            ).scalar_one()
    finally:
        engine.dispose()
    return {
        "app_id": m.app_id,
        "username": m.api_username,
        "secret_hash": stored,
        "service": HTTP_SERVICE,
        "route": "pay",
        "rate_limit": rate_limit,
    }


def states(database_url: str, prefix: str) -> dict[str, int]:
    """Transactions whose f010 starts with prefix, counted by state."""
    from sqlalchemy import create_engine

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT state, count(*) FROM gateway.transactions WHERE f010 LIKE :p GROUP BY state"),
                {"p": prefix + "%"},
            ).all()
    finally:
        engine.dispose()
    return {state: count for state, count in rows}
