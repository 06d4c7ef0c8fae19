"""Round trips of one request counted on the wire, between the gateway and PostgreSQL: every statement the server
receives, BEGIN, COMMIT and the pool's pre-ping included (tests/api/test_round_trips.py counts only the statements
that pass through SQLAlchemy's cursor events). These pin today's figures (docs/performance.md, issue 14): a change
that adds a round trip fails here, and the hot-path work lowers them on purpose."""

from __future__ import annotations

from collections import Counter

import pytest

from app import create_app
from tests.factories import echo_setup
from tests.pg_proxy import CountingProxy


@pytest.fixture(scope="module")
def wire(app, database_url):
    """A second gateway app whose database connections go through the counting proxy."""
    proxy = CountingProxy(database_url)
    settings = {k: app.config[k] for k in ("TESTING", "ENV", "RATELIMIT_ENABLED", "PUBLIC_BASE_URL", "DB_POOL_SIZE")}
    gateway = create_app({**settings, "DATABASE_URL": proxy.url})
    yield gateway, proxy
    gateway.extensions["db_engine"].dispose()
    proxy.close()


def _kinds(queries: list[str]) -> Counter:
    def kind(q: str) -> str:
        for prefix, name in (
            ("BEGIN", "BEGIN"),
            ("COMMIT", "COMMIT"),
            ("SELECT 1", "pre-ping"),
            ("SELECT set_config('statement_timeout'", "timeout"),
            ("SELECT c.id AS client_id", "resolve"),
            ("SELECT gateway.begin_payment(", "begin_payment"),
            ("SELECT gateway.finish_payment(", "finish_payment"),
            ("INSERT INTO gateway.api_logs", "api_log"),
        ):
            if q.startswith(prefix):
                return name
        return q[:40]

    return Counter(kind(q) for q in queries)


def test_a_service_request_costs_14_round_trips(app, wire, echo_service):
    gateway, proxy = wire
    merchant, service = echo_setup(app, echo_service.url)
    client = gateway.test_client()
    first = merchant.fields(service["name"], "pay", f004="10")
    assert client.post("/api/v1/payment/process", json=first, headers=merchant.headers()).status_code == 200
    proxy.reset()  # the pool's connection is open now: what follows is one request's own work
    body = merchant.fields(service["name"], "pay", f004="10")
    assert client.post("/api/v1/payment/process", json=body, headers=merchant.headers()).status_code == 200
    assert _kinds(proxy.queries) == {
        "pre-ping": 3,  # pool_pre_ping, once per checkout
        "BEGIN": 3,
        "COMMIT": 3,
        "timeout": 2,
        "resolve": 1,
        "begin_payment": 1,
        "finish_payment": 1,
    }, proxy.queries
    assert len(proxy.queries) == 14


def test_a_status_request_costs_12_round_trips(app, wire, echo_service):
    gateway, proxy = wire
    merchant, service = echo_setup(app, echo_service.url)
    client = gateway.test_client()
    body = merchant.fields(service["name"], "pay", f004="10")
    assert client.post("/api/v1/payment/process", json=body, headers=merchant.headers()).status_code == 200
    proxy.reset()
    status = {"f003": merchant.app_id, "f010": body["f010"]}
    assert client.post("/api/v1/payment/status", json=status, headers=merchant.headers()).status_code == 200
    kinds = _kinds(proxy.queries)
    assert kinds["pre-ping"] == 3 and kinds["BEGIN"] == 3 and kinds["COMMIT"] == 3, proxy.queries
    assert kinds["resolve"] == 1 and kinds["api_log"] == 1, proxy.queries
    assert len(proxy.queries) == 12, proxy.queries
