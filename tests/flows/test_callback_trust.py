"""Callbacks under attack: forged "paid" bodies are refused, late successes are confirmed by an STK query, and
the callback token never appears in clear in a table, log line, page or admin answer."""

from __future__ import annotations

import time

import pytest
import requests
from sqlalchemy import text

from core import db
from tests.conftest import basic
from tests.factories import make_admin
from tests.flows.test_mpesa_stk import _pay, _settle, _txn, merchant, receiver  # noqa: F401 - fixtures
from tests.portal.conftest import signed_in

FORGED_MINIMAL = {"Body": {"stkCallback": {"ResultCode": 0}}}


def _callback_url(daraja) -> str:
    """The CallBackURL of the latest STK push (the simulator is reset per test; only the provider sees it)."""
    seen = requests.get(f"{daraja.base_url}/simulator/requests", timeout=5).json()["requests"]
    urls = [r["json"]["CallBackURL"] for r in seen if isinstance(r.get("json"), dict) and r["json"].get("CallBackURL")]
    assert urls, "no STK push reached the simulator"
    return urls[-1]


def _success_body(checkout_id: str, amount: object, receipt: str = "QKX1234ABC") -> dict:
    return {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": "29115-34620561-1",
                "CheckoutRequestID": checkout_id,
                "ResultCode": 0,
                "ResultDesc": "The service request is processed successfully.",
                "CallbackMetadata": {
                    "Item": [
                        {"Name": "Amount", "Value": amount},
                        {"Name": "MpesaReceiptNumber", "Value": receipt},
                        {"Name": "TransactionDate", "Value": 20261130120000},
                        {"Name": "PhoneNumber", "Value": 254700000007},
                    ]
                },
            }
        }
    }


def _callback_rows(app, txn_id: int) -> list[dict]:
    with app.app_context(), db.transaction() as conn:
        return [
            dict(r)
            for r in conn.execute(
                text("SELECT outcome, detail FROM gateway.callbacks WHERE transaction_id = :t ORDER BY id"),
                {"t": txn_id},
            ).mappings()
        ]


@pytest.fixture
def silent_payment(app, live_gateway, merchant, daraja):  # noqa: F811 - the imported fixture
    """A pending STK payment whose customer never calls back (the query would say paid), and its callback URL."""
    m, service = merchant
    body, resp = _pay(live_gateway, m, service, "254700000007", amount="10")
    assert resp.status_code == 202, resp.text
    txn = _txn(app, body["f010"])
    return m, body, txn, _callback_url(daraja)


@pytest.mark.parametrize(
    ("name", "forged"),
    [
        ("minimal", lambda ref: FORGED_MINIMAL),
        ("no reference", lambda ref: _success_body(None, 10)),
        ("no amount", lambda ref: {"Body": {"stkCallback": {"CheckoutRequestID": ref, "ResultCode": 0}}}),
        ("wrong reference", lambda ref: _success_body("ws_CO_someone_else", 10)),
    ],
)
def test_forged_success_without_reference_or_amount_is_refused(app, live_gateway, silent_payment, name, forged):
    _, body, txn, url = silent_payment
    resp = requests.post(url, json=forged(txn["provider_ref"]), timeout=10)
    assert resp.status_code == 400, (name, resp.text)
    assert resp.json()["status"] == "400"
    after = _txn(app, body["f010"])
    assert after["state"] == "pending" and after["receipt"] is None
    assert "unconfirmed_callback" not in after["flags"]
    assert [r["outcome"] for r in _callback_rows(app, txn["id"])] == ["refused"]


def test_late_forged_success_is_checked_by_query_and_settles_nothing(app, live_gateway, merchant, daraja):  # noqa: F811
    """254700000002 never pays: after timed_out, a well-formed "paid" callback is held, the STK query says
    declined, so nothing is settled (the old code settled it at once)."""
    m, service = merchant
    body, _ = _pay(live_gateway, m, service, "254700000002", amount="10")
    txn = _txn(app, body["f010"])
    url = _callback_url(daraja)
    with app.app_context(), db.transaction() as conn:
        conn.execute(text("SELECT gateway.expire_transaction(:t, 'test: expired')"), {"t": txn["id"]})
    resp = requests.post(url, json=_success_body(txn["provider_ref"], 10), timeout=10)
    assert resp.status_code == 200, resp.text
    held = _txn(app, body["f010"])
    assert held["state"] == "timed_out" and held["receipt"] is None
    assert held["flags"]["late_callback"] is True and "unconfirmed_callback" in held["flags"]
    time.sleep(0.5)  # the simulator's prompt expires: the query answers 1037
    for _ in range(3):
        app.test_cli_runner().invoke(args=["worker", "--once"])
    final = _txn(app, body["f010"])
    assert final["state"] == "timed_out" and final["receipt"] is None


def test_late_genuine_success_settles_after_query(app, live_gateway, silent_payment):
    _, body, txn, url = silent_payment
    with app.app_context(), db.transaction() as conn:
        conn.execute(text("SELECT gateway.expire_transaction(:t, 'test: expired')"), {"t": txn["id"]})
    resp = requests.post(url, json=_success_body(txn["provider_ref"], 10), timeout=10)
    assert resp.status_code == 200, resp.text
    assert _txn(app, body["f010"])["state"] == "timed_out"  # held, not settled by the callback alone
    final = _settle(app, body["f010"], states=("completed",), run_worker=True)
    assert final["flags"]["late_settlement"] is True and final["flags"]["needs_review"] is True
    assert final["result"]["data"]["settled_by"] == "stkquery"
    assert final["receipt"] == "QKX1234ABC"  # from the held callback the query confirmed


def test_callback_token_never_in_clear(app, client, live_gateway, merchant, daraja):  # noqa: F811
    m, service = merchant
    body, _ = _pay(live_gateway, m, service, "254708374149")
    txn = _settle(app, body["f010"])
    url = _callback_url(daraja)
    token = url.rsplit("/", 1)[1]
    assert len(token) >= 20
    requests.post(url, json=FORGED_MINIMAL, timeout=10)  # one more callback request, logged by the gateway
    with app.app_context(), db.transaction() as conn:
        attempts = (
            conn.execute(
                text(
                    "SELECT request_body || coalesce(response_body, '') FROM gateway.call_attempts "
                    "WHERE transaction_id = :t"
                ),
                {"t": txn["id"]},
            )
            .scalars()
            .all()
        )
        paths = (
            conn.execute(
                text(
                    "SELECT path FROM gateway.api_logs WHERE path LIKE '/api/v1/callbacks/%' ORDER BY id DESC LIMIT 50"
                )
            )
            .scalars()
            .all()
        )
        dump = conn.execute(
            text("SELECT string_agg(t::text, ' ') FROM (SELECT * FROM gateway.transactions WHERE id = :t) t"),
            {"t": txn["id"]},
        ).scalar()
    assert attempts and all(token not in a for a in attempts)
    assert any("/api/v1/callbacks/****" in a for a in attempts)
    assert paths and all(token not in p for p in paths) and "/api/v1/callbacks/****" in paths
    assert token not in dump
    # the portal timeline and the admin API
    portal = signed_in(app, "super_admin")
    page = portal.get(f"/portal/transactions/{txn['public_id']}")
    assert page.status_code == 200 and token not in page.get_data(as_text=True)
    username, password = make_admin(app, "super_admin")
    jwt = client.post("/api/v1/admin/auth/token", headers={"Authorization": basic(username, password)}).get_json()
    detail = client.get(
        f"/api/v1/admin/transactions/{txn['public_id']}", headers={"Authorization": f"Bearer {jwt['token']}"}
    )
    assert detail.status_code == 200 and token not in detail.get_data(as_text=True)
    assert "/api/v1/callbacks/****" in detail.get_data(as_text=True)
    logs = portal.get("/portal/api-logs")
    assert token not in logs.get_data(as_text=True)
