"""M-Pesa STK push through the gateway's public API, for every outcome of the Daraja simulator's table:
state, receipt or reason, exactly one signed merchant webhook, and both status endpoints."""

from __future__ import annotations

import threading
import time

import pytest
import requests
from flask import Flask, request
from sqlalchemy import text

from core import db
from gateway import webhooks
from tests.factories import assign, make_client
from tests.flows.conftest import mpesa_credentials
from tests.servers import LiveServer


class Receiver:
    """The merchant's webhook endpoint: records what arrives (raw body and headers)."""

    def __init__(self) -> None:
        self.hits: list[dict] = []
        self.lock = threading.Lock()
        app = Flask("receiver")

        @app.post("/hook")
        def hook():
            with self.lock:
                self.hits.append({"body": request.get_data(), "headers": dict(request.headers)})
            return {"ok": True}

        self.server = LiveServer(app).start()
        self.url = f"{self.server.url}/hook"


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    yield r
    r.server.stop()


@pytest.fixture
def merchant(app, client, daraja, mpesa_service, live_gateway, receiver):
    from admin.clients import set_mpesa_credentials
    from admin.services import create_service
    from tests.conftest import unique_name
    from tests.factories import ACTOR

    m = make_client(app, callback_url=receiver.url)
    with app.app_context(), db.transaction() as conn:
        svc = create_service(
            conn,
            {
                "name": unique_name("m"),
                "display_name": "M-Pesa",
                "kind": "mpesa_stk",
                "base_url": mpesa_service.url,
                "routes": ["stkpush", "query"],
                "timeout_s": 10,
            },
            ACTOR,
        )
        set_mpesa_credentials(conn, m.app_id, mpesa_credentials(daraja.base_url), ACTOR)
    assign(app, m.app_id, svc["name"])
    app.config.update(STK_QUERY_AFTER_SECONDS=0, STK_EXPIRE_AFTER_SECONDS=300, RECONCILE_INTERVAL_S=0)
    return m, svc["name"]


def _pay(live_gateway, m, service, phone, amount="10"):
    body = m.fields(service, "stkpush", f004=amount, f005=phone, f006="INV42")
    resp = requests.post(f"{live_gateway.url}/api/v1/payment/process", json=body, headers=m.headers(), timeout=20)
    return body, resp


def _txn(app, f010):
    with app.app_context(), db.transaction() as conn:
        return dict(
            conn.execute(text("SELECT * FROM gateway.transactions WHERE f010 = :f"), {"f": f010}).mappings().one()
        )


def _settle(app, f010, states=("completed", "failed", "timed_out"), timeout=8.0, run_worker=False):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if run_worker:
            app.test_cli_runner().invoke(args=["worker", "--once"])
        txn = _txn(app, f010)
        if txn["state"] in states:
            return txn
        time.sleep(0.1)
    raise AssertionError(f"{f010} stayed {txn['state']}")


def _webhooks(app, receiver, m, f010, expect=1, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        app.test_cli_runner().invoke(args=["worker", "--once"])
        hits = [h for h in receiver.hits if f'"f010":"{f010}"'.encode() in h["body"]]
        if len(hits) >= expect:
            time.sleep(0.2)
            return [h for h in receiver.hits if f'"f010":"{f010}"'.encode() in h["body"]]
        time.sleep(0.1)
    raise AssertionError("webhook not delivered")


def _check_status_endpoints(live_gateway, m, f010, status):
    rest = requests.get(f"{live_gateway.url}/api/v1/transactions/{f010}", headers=m.headers(), timeout=5).json()
    form = requests.post(
        f"{live_gateway.url}/api/v1/payment/status",
        headers=m.headers(),
        timeout=5,
        json={"f003": m.app_id, "f010": f010},
    ).json()
    assert rest["status"] == form["status"] == status
    return rest


def test_success_completes_with_receipt_and_one_signed_webhook(app, live_gateway, merchant, receiver):
    m, service = merchant
    body, resp = _pay(live_gateway, m, service, "0708374149")
    assert resp.status_code == 202, resp.text
    assert resp.json()["action"] == "PENDING" and resp.json()["data"]["CheckoutRequestID"].startswith("ws_CO_")
    txn = _settle(app, body["f010"])
    assert txn["state"] == "completed"
    assert len(txn["receipt"]) == 10
    assert txn["result"]["data"]["phone"] == "254708374149"
    hits = _webhooks(app, receiver, m, body["f010"])
    assert len(hits) == 1
    hit = hits[0]
    assert webhooks.verify(m.webhook_secret, hit["headers"]["X-Signature"], hit["body"])
    assert not webhooks.verify("wrong-secret", hit["headers"]["X-Signature"], hit["body"])
    assert b'"status":"completed"' in hit["body"] and txn["receipt"].encode() in hit["body"]
    rest = _check_status_endpoints(live_gateway, m, body["f010"], "completed")
    assert rest["receipt"] == txn["receipt"]


@pytest.mark.parametrize(
    ("phone", "fragment"),
    [
        ("254700000001", "cancelled by the customer"),
        ("254700000003", "wrong M-Pesa PIN"),
        ("254700000004", "insufficient M-Pesa balance"),
    ],
)
def test_declines_fail_with_reason(app, live_gateway, merchant, receiver, phone, fragment):
    m, service = merchant
    body, resp = _pay(live_gateway, m, service, phone)
    assert resp.status_code == 202
    txn = _settle(app, body["f010"])
    assert txn["state"] == "failed" and fragment in txn["reason"]
    hits = _webhooks(app, receiver, m, body["f010"])
    assert len(hits) == 1 and b'"status":"failed"' in hits[0]["body"]
    _check_status_endpoints(live_gateway, m, body["f010"], "failed")


def test_duplicate_callback_is_applied_once(app, live_gateway, merchant, receiver):
    m, service = merchant
    body, _ = _pay(live_gateway, m, service, "254700000005")
    txn = _settle(app, body["f010"])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with app.app_context(), db.transaction() as conn:
            outcomes = (
                conn.execute(
                    text("SELECT outcome FROM gateway.callbacks WHERE transaction_id = :t ORDER BY id"),
                    {"t": txn["id"]},
                )
                .scalars()
                .all()
            )
        if len(outcomes) == 2:
            break
        time.sleep(0.1)
    assert outcomes == ["applied", "duplicate"]
    assert len(_webhooks(app, receiver, m, body["f010"])) == 1


def test_lost_callback_is_settled_by_stk_query(app, live_gateway, merchant, receiver):
    """254700000007 never calls back: the worker's STK query settles it (no receipt: the query has none)."""
    m, service = merchant
    body, _ = _pay(live_gateway, m, service, "254700000007")
    time.sleep(0.5)
    txn = _settle(app, body["f010"], run_worker=True)
    assert txn["state"] == "completed" and txn["receipt"] is None
    assert txn["result"]["data"]["settled_by"] == "stkquery"
    assert len(_webhooks(app, receiver, m, body["f010"])) == 1


def test_never_answered_ends_failed_by_query(app, live_gateway, merchant):
    """254700000002: no callback, the query reports 1037 once the prompt expires."""
    m, service = merchant
    body, _ = _pay(live_gateway, m, service, "254700000002")
    time.sleep(0.7)
    txn = _settle(app, body["f010"], run_worker=True)
    assert txn["state"] == "failed" and "could not be reached" in txn["reason"]


def test_nothing_stays_pending_forever(app, live_gateway, merchant, monkeypatch):
    """When neither callback nor query settles a payment in time, it becomes timed_out."""
    m, service = merchant
    body, _ = _pay(live_gateway, m, service, "254700000002")
    app.config["STK_EXPIRE_AFTER_SECONDS"] = 0
    with app.app_context(), db.transaction() as conn:  # the provider is unreachable for this check
        conn.execute(text("UPDATE gateway.transactions SET provider_ref = NULL WHERE f010 = :f"), {"f": body["f010"]})
    txn = _settle(app, body["f010"], run_worker=True)
    assert txn["state"] == "timed_out"


def test_late_callback_after_timeout_settles_and_flags(app, live_gateway, merchant, receiver):
    m, service = merchant
    body, _ = _pay(live_gateway, m, service, "254700000006")  # callback after 1.5 s
    txn = _txn(app, body["f010"])
    with app.app_context(), db.transaction() as conn:
        conn.execute(text("SELECT gateway.expire_transaction(:t, 'test: expired early')"), {"t": txn["id"]})
    deadline = time.monotonic() + 6  # the late callback is held: a late success is never settled unconfirmed
    while "unconfirmed_callback" not in _txn(app, body["f010"])["flags"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _txn(app, body["f010"])["state"] == "timed_out"
    txn = _settle(app, body["f010"], states=("completed",), timeout=6, run_worker=True)
    assert txn["flags"]["late_settlement"] is True and txn["flags"]["needs_review"] is True
    assert txn["result"]["data"]["settled_by"] == "stkquery"
    hits = _webhooks(app, receiver, m, body["f010"], expect=2)
    assert [b'"status":"timed_out"' in h["body"] for h in hits] == [True, False]


@pytest.mark.parametrize(("phone", "status"), [("254700000008", 409), ("254700000009", 503)])
def test_push_refused_synchronously(app, live_gateway, merchant, phone, status):
    m, service = merchant
    body, resp = _pay(live_gateway, m, service, phone)
    assert resp.status_code == status
    assert _txn(app, body["f010"])["state"] == "failed"


@pytest.mark.parametrize(
    ("amount", "phone", "fragment"), [("10.50", "0712345678", "whole number"), ("10", "0612345678", "f005 must be")]
)
def test_stk_input_rules(app, client, merchant, amount, phone, fragment):
    m, service = merchant
    resp = client.post(
        "/api/v1/payment/process", headers=m.headers(), json=m.fields(service, "stkpush", f004=amount, f005=phone)
    )
    assert resp.status_code == 400 and fragment in resp.get_json()["message"]


def test_amount_mismatch_is_flagged_not_accepted(app, live_gateway, merchant):
    m, service = merchant
    body, _ = _pay(live_gateway, m, service, "254700000007", amount="100")  # no callback from the simulator
    txn = _txn(app, body["f010"])
    forged = {
        "Body": {
            "stkCallback": {
                "CheckoutRequestID": txn["provider_ref"],
                "ResultCode": 0,
                "ResultDesc": "ok",
                "CallbackMetadata": {
                    "Item": [{"Name": "Amount", "Value": 1}, {"Name": "MpesaReceiptNumber", "Value": "ABCDEF1234"}]
                },
            }
        }
    }
    with app.app_context(), db.transaction() as conn:
        out = db.call_json(
            conn,
            "SELECT gateway.settle(:t, CAST(:b AS json), 'test', '{}'::jsonb)",
            {"t": txn["id"], "b": db.as_json(forged)},
        )
    assert out["outcome"] == "applied"
    txn = _txn(app, body["f010"])
    assert txn["state"] == "failed" and "differs from requested" in txn["reason"]
    assert txn["flags"]["amount_mismatch"] == {"requested": 100, "paid": 1}


def test_mismatched_checkout_id_is_refused(app, live_gateway, merchant):
    m, service = merchant
    body, _ = _pay(live_gateway, m, service, "254700000007")
    txn = _txn(app, body["f010"])
    forged = {"Body": {"stkCallback": {"CheckoutRequestID": "ws_CO_other", "ResultCode": 0, "ResultDesc": "ok"}}}
    with app.app_context(), db.transaction() as conn:
        out = db.call_json(
            conn,
            "SELECT gateway.settle(:t, CAST(:b AS json), 'test', '{}'::jsonb)",
            {"t": txn["id"], "b": db.as_json(forged)},
        )
    assert out["outcome"] == "refused"
    assert _txn(app, body["f010"])["state"] == "pending"


def test_worker_crash_mid_delivery_redelivers_once(app, live_gateway, merchant, receiver):
    """A worker that claimed a webhook and died: the lease ends and the next pass delivers it once."""
    m, service = merchant
    body, _ = _pay(live_gateway, m, service, "254708374149")
    _settle(app, body["f010"])
    with app.app_context(), db.transaction() as conn:
        claimed = conn.execute(text("SELECT id FROM gateway.claim_jobs('webhook', 100, 600)")).scalars().all()
        assert claimed  # … and this "worker" dies here without recording anything
        conn.execute(
            text("UPDATE gateway.outbox SET next_attempt_at = now() WHERE id = ANY(:ids)"), {"ids": list(claimed)}
        )  # lease expired
    assert len(_webhooks(app, receiver, m, body["f010"])) == 1


def test_redeliver_through_admin_api(app, client, live_gateway, merchant, receiver):
    from tests.conftest import basic
    from tests.factories import make_admin

    m, service = merchant
    body, _ = _pay(live_gateway, m, service, "254708374149")
    _settle(app, body["f010"])
    assert len(_webhooks(app, receiver, m, body["f010"])) == 1
    username, password = make_admin(app, "admin")
    token = client.post("/api/v1/admin/auth/token", headers={"Authorization": basic(username, password)}).get_json()
    headers = {"Authorization": f"Bearer {token['token']}"}
    txn = _txn(app, body["f010"])
    detail = client.get(f"/api/v1/admin/transactions/{txn['public_id']}", headers=headers).get_json()
    outbox_id = detail["outbox"][0]["id"]
    assert detail["outbox"][0]["status"] == "delivered"
    resp = client.post(f"/api/v1/admin/outbox/{outbox_id}/redeliver", headers=headers)
    assert resp.status_code == 200 and resp.get_json()["status"] == "pending"
    assert len(_webhooks(app, receiver, m, body["f010"], expect=2)) == 2
    assert client.post("/api/v1/admin/outbox/999999999/redeliver", headers=headers).status_code == 404


def test_success_callback_held_until_stk_query_confirms(app, live_gateway, merchant, receiver):
    """With confirm_with_query, an (unsigned) success callback settles nothing until the STK query agrees."""
    from admin.services import update_service
    from tests.factories import ACTOR

    m, service = merchant
    with app.app_context(), db.transaction() as conn:
        update_service(conn, service, {"settings": {"confirm_with_query": True}}, ACTOR)
    app.config["STK_QUERY_AFTER_SECONDS"] = 300  # only the held callback makes the check due at once
    try:
        body, _ = _pay(live_gateway, m, service, "254708374149")
        deadline = time.monotonic() + 5
        while "unconfirmed_callback" not in _txn(app, body["f010"])["flags"] and time.monotonic() < deadline:
            time.sleep(0.1)
        held = _txn(app, body["f010"])
        assert held["state"] == "pending"
        assert not [h for h in receiver.hits if body["f010"].encode() in h["body"]]  # no "completed" webhook yet
        txn = _settle(app, body["f010"], run_worker=True)
        assert txn["state"] == "completed"
        assert txn["result"]["data"]["settled_by"] == "stkquery"
        assert txn["receipt"] is not None  # taken from the held callback the query confirmed
        assert len(_webhooks(app, receiver, m, body["f010"])) == 1
    finally:
        app.config["STK_QUERY_AFTER_SECONDS"] = 0
