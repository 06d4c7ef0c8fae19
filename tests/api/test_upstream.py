"""Microservice failures become reply codes for the response function: 502 down, 504 slow, 4xx passed on."""

from __future__ import annotations

import socket
import time

from sqlalchemy import text

from core import db
from tests.factories import assign, echo_setup, make_client, make_service


def _txn(app, public_id):
    with app.app_context(), db.transaction() as conn:
        return dict(
            conn.execute(text("SELECT * FROM gateway.transactions WHERE public_id = :p"), {"p": public_id})
            .mappings()
            .one()
        )


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_microservice_down_is_502_and_failed(app, client):
    merchant = make_client(app)
    service = make_service(app, f"http://127.0.0.1:{_closed_port()}")
    assign(app, merchant.app_id, service["name"])
    resp = client.post(
        "/api/v1/payment/process", json=merchant.fields(service["name"], "pay"), headers=merchant.headers()
    )
    assert resp.status_code == 502
    data = resp.get_json()
    assert data["status"] == "502" and "failed" in data["message"]
    txn = _txn(app, data["transaction_id"])
    assert txn["state"] == "failed"
    assert "unreachable" in txn["reason"]


def test_slow_microservice_is_504_within_timeout(app, client, echo_service):
    merchant, service = echo_setup(app, echo_service.url, timeout_s=0.5)
    started = time.monotonic()
    resp = client.post(
        "/api/v1/payment/process",
        json=merchant.fields(service["name"], "pay", f001="sleep:3"),
        headers=merchant.headers(),
    )
    elapsed = time.monotonic() - started
    assert resp.status_code == 504
    assert elapsed < 2.5  # answered at the service's timeout, not when the service finished
    txn = _txn(app, resp.get_json()["transaction_id"])
    assert txn["state"] == "failed" and "timed out" in txn["reason"]


def test_service_4xx_passes_through(app, client, echo_service):
    merchant, service = echo_setup(app, echo_service.url)
    resp = client.post(
        "/api/v1/payment/process",
        json=merchant.fields(service["name"], "pay", f001="status:422"),
        headers=merchant.headers(),
    )
    assert resp.status_code == 422
    assert resp.get_json()["action"] == "ERROR"


def test_service_500_is_502(app, client, echo_service):
    merchant, service = echo_setup(app, echo_service.url)
    resp = client.post(
        "/api/v1/payment/process",
        json=merchant.fields(service["name"], "pay", f001="status:500"),
        headers=merchant.headers(),
    )
    assert resp.status_code == 502


def test_serviceurl_outside_base_is_refused(app, client, echo_service):
    """A function pointing at another host is never called (SSRF guard)."""
    merchant, service = echo_setup(app, echo_service.url)
    fn = f"{merchant.app_id}_{service['name']}_pay"
    with app.app_context(), db.transaction() as conn:
        conn.exec_driver_sql(f"""
            CREATE OR REPLACE FUNCTION clientfn.{fn}(unique_id text, data_input json)
            RETURNS TABLE(results json) LANGUAGE sql SET search_path = pg_catalog AS $$
              SELECT json_build_object('status','200','action','SERVICE','serviceurl','http://169.254.169.254/latest',
                                       'servicepayload', json_build_object())
            $$""")
    resp = client.post(
        "/api/v1/payment/process", json=merchant.fields(service["name"], "pay"), headers=merchant.headers()
    )
    assert resp.status_code == 502
    txn = _txn(app, resp.get_json()["transaction_id"])
    assert "outside the service's base URL" in txn["reason"]
