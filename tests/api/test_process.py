"""POST /api/v1/payment/process end to end: real PostgreSQL, real HTTP to the echo microservice."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from core import db
from tests.factories import echo_setup


@pytest.fixture
def echo(app, echo_service):
    return echo_setup(app, echo_service.url)


def _txn(app, public_id: str) -> dict:
    with app.app_context(), db.transaction() as conn:
        return dict(
            conn.execute(text("SELECT * FROM gateway.transactions WHERE public_id = :p"), {"p": public_id})
            .mappings()
            .one()
        )


def test_process_calls_service_and_answers_output(app, client, echo):
    merchant, service = echo
    body = merchant.fields(service["name"], "pay", f004="100", f005="0712345678")
    resp = client.post("/api/v1/payment/process", json=body, headers=merchant.headers())
    assert resp.status_code == 200, resp.get_json()
    data = resp.get_json()
    assert data["action"] == "OUTPUT"
    assert data["status"] == "200"
    assert data["data"]["echo"]["f005"] == "254712345678"  # normalised before the function saw it
    txn = _txn(app, data["transaction_id"])
    assert txn["state"] == "completed"
    assert str(txn["amount"]) == "100.00"
    with app.app_context(), db.transaction() as conn:
        states = (
            conn.execute(
                text("SELECT to_state FROM gateway.transaction_events WHERE transaction_id = :t ORDER BY id"),
                {"t": txn["id"]},
            )
            .scalars()
            .all()
        )
        attempts = conn.execute(
            text("SELECT status_code, url FROM gateway.call_attempts WHERE transaction_id = :t"), {"t": txn["id"]}
        ).all()
    assert states == ["received", "dispatched", "completed"]
    assert attempts[0][0] == 200 and attempts[0][1].endswith("/pay")
