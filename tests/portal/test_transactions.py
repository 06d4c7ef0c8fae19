"""Transactions in the portal: filters, CSV export (masked), the timeline, and webhook redelivery."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import text

from admin import outbox as outbox_admin
from core import db
from core.errors import NotFound
from tests.factories import ACTOR, assign, make_client, make_service
from tests.portal.conftest import csrf_token


@pytest.fixture(scope="module")
def paid(app, echo_service):
    """A client with a webhook URL and three payments processed through the API (each queues a webhook)."""
    merchant = make_client(app, callback_url="http://127.0.0.1:9/hook")
    service = make_service(app, echo_service.url)
    assign(app, merchant.app_id, service["name"])
    api = app.test_client()
    answers = []
    for f010, amount, phone in (
        ("-ord-1", "150", "0712345678"),
        ("ord-2", "99.50", "0722000111"),
        ("ord-3", "10", "0733000222"),
    ):
        body = {
            **merchant.fields(service["name"], "pay", f004=amount, f005=phone, f008="p4ssw0rd-secret"),
            "f010": f010,
        }
        answers.append(api.post("/api/v1/payment/process", json=body, headers=merchant.headers()).get_json())
    return merchant, service, answers


def test_filters(paid, viewer_client):
    merchant, service, answers = paid
    page = viewer_client.get(f"/portal/transactions?app_id={merchant.app_id}").get_data(as_text=True)
    assert "ord-2" in page and "ord-3" in page
    page = viewer_client.get(f"/portal/transactions?app_id={merchant.app_id}&msisdn=0722000111").get_data(as_text=True)
    assert "ord-2" in page and "ord-3" not in page
    page = viewer_client.get(f"/portal/transactions?f010=ord-3&service={service['name']}").get_data(as_text=True)
    assert "ord-3" in page and "ord-2" not in page
    page = viewer_client.get(f"/portal/transactions?app_id={merchant.app_id}&status=failed").get_data(as_text=True)
    assert 'data-test="empty-state"' in page and "No transaction matches" in page


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("status=lost", "status must be one of"),
        ("date_from=yesterday", "date_from must be a date"),
        ("date_from=2026-02-01&date_to=2026-01-01", "date_from is after date_to"),
        ("msisdn=12", "phone must be a mobile number"),
    ],
)
def test_bad_filters_explain_themselves(viewer_client, query, message):
    response = viewer_client.get(f"/portal/transactions?{query}")
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_csv_export_is_masked_and_safe(paid, viewer_client):
    merchant, _, _ = paid
    response = viewer_client.get(f"/portal/transactions.csv?app_id={merchant.app_id}")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == [
        "transaction_id",
        "created_at",
        "completed_at",
        "app_id",
        "service",
        "route",
        "f010",
        "status",
        "amount",
        "msisdn",
        "receipt",
        "http_status",
        "reason",
    ]
    assert len(rows) == 4
    by_f010 = {r[6]: r for r in rows[1:]}
    assert by_f010["ord-2"][8] == "99.50"
    assert by_f010["ord-2"][9] == "25472****111"  # phone masked
    assert "'-ord-1" in by_f010  # a cell that a spreadsheet would read as a formula stays text
    assert "p4ssw0rd-secret" not in response.get_data(as_text=True)


def test_csv_with_bad_filter_goes_back_with_a_message(viewer_client):
    response = viewer_client.get("/portal/transactions.csv?status=lost")
    assert response.status_code == 302
    assert "status must be one of" in viewer_client.get(response.headers["Location"]).get_data(as_text=True)


def test_timeline_shows_every_step_masked(paid, viewer_client):
    _, _, answers = paid
    page = viewer_client.get(f"/portal/transactions/{answers[1]['transaction_id']}").get_data(as_text=True)
    for kind in ("request", "state", "call", "response", "webhook"):
        assert f'data-kind="{kind}"' in page, kind
    assert "p4ssw0rd-secret" not in page
    assert "&#34;f008&#34;: &#34;****&#34;" in page
    assert "dispatched → completed" in page
    assert 'data-test="redeliver"' not in page  # viewers see the webhook but cannot redeliver it


def _outbox(app, public_id: str) -> dict:
    with app.app_context(), db.transaction() as conn:
        return dict(
            conn.execute(
                text(
                    "SELECT o.* FROM gateway.outbox o JOIN gateway.transactions t "
                    "ON t.id = o.transaction_id WHERE t.public_id = :p"
                ),
                {"p": public_id},
            )
            .mappings()
            .one()
        )


def test_redeliver_requeues_the_webhook(app, paid, admin_client):
    _, _, answers = paid
    public_id = answers[2]["transaction_id"]
    with app.app_context(), db.transaction() as conn:
        conn.execute(
            text(
                "UPDATE gateway.outbox SET status = 'dead', attempts = 8, max_attempts = 8, "
                "next_attempt_at = now() + interval '1 day' WHERE id = :i"
            ),
            {"i": _outbox(app, public_id)["id"]},
        )
    row = _outbox(app, public_id)
    url = f"/portal/transactions/{public_id}"
    assert 'data-test="redeliver"' in admin_client.get(url).get_data(as_text=True)
    response = admin_client.post(
        f"/portal/outbox/{row['id']}/redeliver", data={"csrf_token": csrf_token(admin_client, url)}
    )
    assert response.status_code == 302 and response.headers["Location"].endswith(f"{url}#webhooks")
    after = _outbox(app, public_id)
    assert after["status"] == "pending" and after["attempts"] == 8 and after["max_attempts"] == 11
    assert "queued for delivery again" in admin_client.get(url).get_data(as_text=True)
    audit = admin_client.get(f"/portal/audit?action=outbox.&target=outbox/{row['id']}").get_data(as_text=True)
    assert "outbox.redeliver" in audit


def test_redeliver_unknown_outbox(app, admin_client):
    with app.app_context(), db.transaction() as conn, pytest.raises(NotFound):
        outbox_admin.redeliver(conn, 987654321, ACTOR)
    response = admin_client.post(
        "/portal/outbox/987654321/redeliver", data={"csrf_token": csrf_token(admin_client, "/portal/")}
    )
    assert response.status_code == 404
    assert "no outbox entry 987654321" in response.get_data(as_text=True)


def test_api_logs_are_masked(paid, viewer_client):
    merchant, _, _ = paid
    page = viewer_client.get(f"/portal/api-logs?app_id={merchant.app_id}&status=2xx").get_data(as_text=True)
    assert "/api/v1/payment/process" in page
    assert "p4ssw0rd-secret" not in page
    assert viewer_client.get("/portal/api-logs?status=abc").status_code == 400
