"""Transactions flagged for review (late settlement, amount mismatch, failed follow-up) are shown to admins."""

from __future__ import annotations

from sqlalchemy import text

from core import db
from reports import dashboard
from tests.factories import echo_setup


def test_flagged_transaction_alerts_on_dashboard_and_detail(app, super_client, echo_service):
    merchant, service = echo_setup(app, echo_service.url)
    body = merchant.fields(service["name"], "pay", f004="100")
    answer = app.test_client().post("/api/v1/payment/process", json=body, headers=merchant.headers()).get_json()
    with app.app_context(), db.transaction() as conn:
        conn.execute(
            text("UPDATE gateway.transactions SET flags = flags || CAST(:f AS jsonb) WHERE f010 = :x"),
            {"f": '{"needs_review": true, "amount_mismatch": {"requested": 100, "paid": 1}}', "x": body["f010"]},
        )
    page = super_client.get("/portal/").get_data(as_text=True)
    assert 'data-test="needs-review"' in page
    assert body["f010"] in page
    assert "paid amount differs from the requested amount" in page
    detail = super_client.get(f"/portal/transactions/{answer['transaction_id']}").get_data(as_text=True)
    assert "Needs review:" in detail
    assert "Requested KES 100.00, paid KES 1.00" in detail


def test_review_reasons_in_words():
    assert dashboard.review_reasons({"late_settlement": True, "followup": "failed", "needs_review": True}) == [
        "paid by a late callback after it had timed out",
        "follow-up call (e.g. router provisioning) gave up",
    ]
    assert dashboard.review_reasons({"followup": "done"}) == []
