"""A suspended (inactive) client gets 403 on every client endpoint, while the callbacks of payments it had
already started still settle them."""

from __future__ import annotations

import time

from admin import clients
from core import db
from tests.factories import ACTOR, echo_setup


def test_suspended_client_is_refused_but_its_started_payments_settle(app, client, live_gateway, echo_service):
    merchant, service = echo_setup(app, echo_service.url)
    started = client.post(
        "/api/v1/payment/process",
        json=merchant.fields(service["name"], "pay", f001="pending", f004="10"),
        headers=merchant.headers(),
    )
    assert started.status_code == 202, started.get_json()
    with app.app_context(), db.transaction() as conn:  # suspended before the echo service calls back (0.2 s)
        clients.set_status(conn, merchant.app_id, False, ACTOR)

    for method, path, body in (
        ("post", "/api/v1/payment/process", merchant.fields(service["name"], "pay", f004="10")),
        ("post", "/api/v1/payment/status", {"f003": merchant.app_id, "f010": "x"}),
        ("get", "/api/v1/transactions/x", None),
        ("post", "/api/v1/auth/token", None),
    ):
        answer = getattr(client, method)(path, json=body, headers=merchant.headers())
        assert answer.status_code == 403, (path, answer.get_json())
        assert "inactive" in answer.get_json()["message"]

    deadline, state = time.monotonic() + 10, None
    while time.monotonic() < deadline and state != "completed":
        with app.app_context(), db.transaction() as conn:
            state = conn.exec_driver_sql(
                "SELECT state FROM gateway.transactions WHERE public_id::text = %s",
                (started.get_json()["transaction_id"],),
            ).scalar_one()
        time.sleep(0.1)
    assert state == "completed"
