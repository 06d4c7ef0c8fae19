"""The request's database budget, counted on the wire (tests/pg_proxy.py), so BEGIN, COMMIT, SET and pool
pings count too (before this work: 14 for a service request, 12 for a status request). A request that calls
a service makes exactly two round trips — gateway.begin_request (authenticate, resolve, limits, insert,
request function; committed before the call) and gateway.finish_payment (response function, attempt, API
log, outbox). An answer straight from SQL makes one."""

from __future__ import annotations

import json

import pytest

from app import create_app
from core import db
from reports import transactions
from tests.factories import echo_setup
from tests.pg_proxy import CountingProxy


@pytest.fixture
def wire(app_database_url, app):
    recorder = CountingProxy(app_database_url)
    gateway = create_app(
        {
            "DATABASE_URL": recorder.url,
            "TESTING": True,
            "ENV": "testing",
            "RATELIMIT_ENABLED": True,  # the limit's counter must ride in the same statement
            "RATELIMIT_DEFAULT": "100000/minute",
            "PUBLIC_BASE_URL": app.config["PUBLIC_BASE_URL"],
        }
    )
    yield gateway, recorder
    gateway.extensions["db_engine"].dispose()
    recorder.close()


def test_service_request_is_two_round_trips(app, wire, echo_service):
    gateway, recorder = wire
    merchant, service = echo_setup(app, echo_service.url)
    api = gateway.test_client()
    # The first request of a process learns the service's field rules (one more round trip); then the budget.
    assert (
        api.post(
            "/api/v1/payment/process",
            json=merchant.fields(service["name"], "pay", f004="1"),
            headers=merchant.headers(),
        ).status_code
        == 200
    )
    recorder.reset()
    body = merchant.fields(service["name"], "pay", f004="10")
    answer = api.post("/api/v1/payment/process", json=body, headers=merchant.headers())
    assert answer.status_code == 200, answer.get_json()
    sent = list(recorder.queries)
    assert len(sent) == 2, sent
    assert sent[0].startswith("SELECT gateway.begin_request(")
    assert sent[1].startswith("SELECT gateway.finish_payment(")
    assert not any(q.split()[0].upper() in {"BEGIN", "COMMIT", "ROLLBACK", "SET"} for q in sent), sent
    # Nothing given up: the row was committed by the first statement, the API log written by the second.
    with app.app_context(), db.transaction() as conn:
        logged = conn.exec_driver_sql(
            "SELECT count(*) FROM gateway.api_logs l JOIN gateway.transactions t ON t.id = l.transaction_id "
            "WHERE t.client_id = %s AND t.f010 = %s AND l.http_status = 200",
            (merchant.id, body["f010"]),
        ).scalar_one()
    assert logged == 1


def test_answer_from_sql_is_one_round_trip(app, wire, echo_service):
    gateway, recorder = wire
    merchant, service = echo_setup(app, echo_service.url)
    fn = f"{merchant.app_id}_{service['name']}_pay"
    with app.app_context(), db.transaction() as conn:
        conn.exec_driver_sql(
            f"CREATE OR REPLACE FUNCTION clientfn.{fn}(unique_id text, data_input json) RETURNS TABLE(results json) "
            "LANGUAGE sql SET search_path = pg_catalog AS $$ SELECT json_build_object('status','200',"
            "'action','OUTPUT','message','from SQL') $$"
        )
    api = gateway.test_client()
    assert (
        api.post(
            "/api/v1/payment/process", json=merchant.fields(service["name"], "pay"), headers=merchant.headers()
        ).status_code
        == 200
    )
    recorder.reset()
    assert (
        api.post(
            "/api/v1/payment/process", json=merchant.fields(service["name"], "pay"), headers=merchant.headers()
        ).status_code
        == 200
    )
    assert len(recorder.queries) == 1, recorder.queries
    assert recorder.queries[0].startswith("SELECT gateway.begin_request(")


@pytest.mark.parametrize("form", ["rest", "mospay"])
def test_status_lookup_is_one_round_trip(app, wire, echo_service, form):
    gateway, recorder = wire
    merchant, service = echo_setup(app, echo_service.url)
    api = gateway.test_client()
    body = merchant.fields(service["name"], "pay", f004="10")
    paid = api.post("/api/v1/payment/process", json=body, headers=merchant.headers()).get_json()
    with app.app_context(), db.transaction() as conn:  # timestamps whose rendering differs between formatters
        conn.exec_driver_sql(
            "UPDATE gateway.transactions SET updated_at = '2026-11-30 10:11:12+00', "
            "completed_at = '2026-11-30 10:11:12.12+00' WHERE client_id = %s AND f010 = %s",
            (merchant.id, body["f010"]),
        )
    recorder.reset()
    if form == "rest":
        answer = api.get(f"/api/v1/transactions/{body['f010']}", headers=merchant.headers())
    else:
        lookup = {"f003": merchant.app_id, "f010": body["f010"]}
        answer = api.post("/api/v1/payment/status", json=lookup, headers=merchant.headers())
    assert answer.status_code == 200, answer.get_json()
    # authenticate, count the limit, find the row and write the API log: one statement (was 3, and 7 with
    # BEGIN/COMMIT before that).
    sent = list(recorder.queries)
    assert len(sent) == 1 and sent[0].startswith("SELECT gateway.status_request("), sent
    view = answer.get_json()
    assert view["transaction_id"] == paid["transaction_id"]
    # Word for word what the lookup answered when Python built it from the row (timestamps included).
    with app.app_context(), db.transaction() as conn:
        row = transactions.by_f010(conn, merchant.id, body["f010"])
        built = json.loads(app.json.dumps(transactions.merchant_view(row)))
    assert {k: v for k, v in view.items() if k != "message"} == {**built, "status": "completed"}
    assert view["status"] == "completed" and view["message"] == "transaction completed"
    with app.app_context(), db.transaction() as conn:
        logged = conn.exec_driver_sql(
            "SELECT client_id, http_status, response_body::jsonb FROM gateway.api_logs "
            "WHERE client_id = %s AND path LIKE %s ORDER BY id DESC LIMIT 1",
            (merchant.id, "%/status" if form == "mospay" else f"%/{body['f010']}"),
        ).one()
    assert logged[0] == merchant.id and logged[1] == 200
    assert logged[2] == view


def test_idle_connection_is_pinged_without_a_transaction(app, wire, echo_service, monkeypatch):
    gateway, recorder = wire
    merchant, service = echo_setup(app, echo_service.url)
    api = gateway.test_client()
    body = merchant.fields(service["name"], "pay", f004="10")
    assert api.post("/api/v1/payment/process", json=body, headers=merchant.headers()).status_code == 200
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)
    recorder.reset()
    body = merchant.fields(service["name"], "pay", f004="10")
    assert api.post("/api/v1/payment/process", json=body, headers=merchant.headers()).status_code == 200
    assert [q.split("(")[0] for q in recorder.queries] == [
        "SELECT 1",
        "SELECT gateway.begin_request",
        "SELECT 1",
        "SELECT gateway.finish_payment",
    ]
    # The token endpoint (authenticate in autocommit) works on a pinged connection too.
    assert api.post("/api/v1/auth/token", headers=merchant.headers()).status_code == 200
