"""The round-trip budget of one request, measured where it is spent: pg_stat_statements (top-level statements,
utility commands included, so BEGIN, COMMIT and the pool's pre-ping count too) over N sequential requests of a
kind, divided by N. Each top-level statement from psycopg2 is one client-server round trip."""

from __future__ import annotations

import time

import requests
from sqlalchemy import create_engine, text


def enable(database_url: str) -> None:
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_stat_statements SCHEMA public"))
    finally:
        engine.dispose()


def count(database_url: str, url: str, path: str, body: dict, headers: dict, prefix: str, n: int = 20) -> dict:
    """Statements per request for n requests sent one after another (nothing else may use the database);
    __F010__ in the body becomes prefix + i, so every payment is new."""
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            _wait_until_quiet(conn)
            conn.execute(text("SELECT public.pg_stat_statements_reset()"))
            with requests.Session() as session:
                for i in range(n):
                    this = {**body, "f010": body["f010"].replace("__F010__", f"{prefix}{i}")}
                    resp = session.post(url + path, json=this, headers=headers, timeout=10)
                    if resp.status_code >= 300:
                        raise RuntimeError(f"round-trip probe: HTTP {resp.status_code} {resp.text[:200]}")
            rows = conn.execute(
                text(
                    "SELECT regexp_replace(query, '\\s+', ' ', 'g') AS query, calls FROM public.pg_stat_statements "
                    "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                    "AND query NOT LIKE '%pg_stat_statements%' ORDER BY calls DESC, query"
                )
            ).all()
    finally:
        engine.dispose()
    statements = [{"statement": q[:90], "per_request": round(calls / n, 2)} for q, calls in rows]
    return budget(n, statements)


def _wait_until_quiet(conn, seconds: float = 15.0) -> None:
    """Wait until no other backend runs a statement: requests the warm-up's load left in flight would otherwise
    finish after the reset and be counted against the probe (a run once counted 2.55 for a 2-statement path)."""
    deadline = time.monotonic() + seconds
    busy = text(
        "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() "
        "AND backend_type = 'client backend' AND datname = current_database()"
    )
    while conn.execute(busy).scalar_one() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)  # and let a request between two statements (its outside call) come back and finish


# Deferred triggers run their statements at COMMIT, outside any client statement, and pg_stat_statements files
# them as top-level: they ride in the commit of a statement the client sent, and are no round trip of their own.
AT_COMMIT = ("INSERT INTO gateway.transaction_stats_delta",)


def budget(n: int, statements: list[dict]) -> dict:
    """Round trips = the top-level statements the client sent; what deferred triggers ran at COMMIT is listed apart."""
    sent = [s for s in statements if not s["statement"].startswith(AT_COMMIT)]
    at_commit = [s for s in statements if s["statement"].startswith(AT_COMMIT)]
    return {
        "requests": n,
        "round_trips": round(sum(s["per_request"] for s in sent), 2),
        "statements": sent,
        "at_commit": at_commit,
    }
