"""Monthly usage statements: API calls by endpoint and status, transactions by service and state, successful
volume; read from the pre-aggregates, which must agree with the logs and transactions themselves."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from core import db
from reports import usage
from tests.conftest import basic
from tests.factories import echo_setup, make_admin


@pytest.fixture
def viewer(app, client):
    username, password = make_admin(app, "viewer")
    token = client.post("/api/v1/admin/auth/token", headers={"Authorization": basic(username, password)})
    return {"Authorization": f"Bearer {token.get_json()['token']}"}


def _this_month() -> str:
    return datetime.now(UTC).strftime("%Y-%m")


def test_statement_counts_calls_transactions_and_volume(app, client, viewer, echo_service):
    merchant, service = echo_setup(app, echo_service.url)
    for amount in ("100", "250.50"):
        body = merchant.fields(service["name"], "pay", f004=amount, f005="0712345678")
        assert client.post("/api/v1/payment/process", json=body, headers=merchant.headers()).status_code == 200
    failed = merchant.fields(service["name"], "pay", f004="5", f001="status:500")
    assert client.post("/api/v1/payment/process", json=failed, headers=merchant.headers()).status_code >= 400
    assert client.get("/api/v1/transactions/no-such-f010", headers=merchant.headers()).status_code == 404

    answer = client.get(f"/api/v1/admin/clients/{merchant.app_id}/usage?month={_this_month()}", headers=viewer)
    assert answer.status_code == 200, answer.get_json()
    report = answer.get_json()
    assert report["app_id"] == merchant.app_id and report["month"] == _this_month()
    calls = {(r["endpoint"], r["status"]): r["calls"] for r in report["api_calls"]["by_endpoint"]}
    assert calls[("/api/v1/payment/process", 200)] == 2
    assert calls[("/api/v1/transactions/{id}", 404)] == 1  # the f010 itself is never kept
    assert report["api_calls"]["total"] == sum(calls.values())
    by_state = {(r["service"], r["state"]): r for r in report["transactions"]["by_service"]}
    assert by_state[(service["name"], "completed")]["count"] == 2
    assert report["transactions"]["total"] == 3
    assert report["successful"] == {"count": 2, "volume": "350.50"}
    assert sum(d["transactions"] for d in report["daily"]) == 3


def test_current_month_is_the_default_and_other_months_are_empty(app, client, viewer, echo_service):
    merchant, _ = echo_setup(app, echo_service.url)
    current = client.get(f"/api/v1/admin/clients/{merchant.app_id}/usage", headers=viewer).get_json()
    assert current["month"] == _this_month()
    old = client.get(f"/api/v1/admin/clients/{merchant.app_id}/usage?month=2001-02", headers=viewer).get_json()
    assert (old["from"], old["to"], old["api_calls"]["total"], old["transactions"]["total"]) == (
        "2001-02-01",
        "2001-03-01",
        0,
        0,
    )


@pytest.mark.parametrize("month", ["2026-13", "26-11", "2026-1", "november", "2026-11-01"])
def test_a_malformed_month_is_a_400_that_shows_the_form(app, client, viewer, echo_service, month):
    merchant, _ = echo_setup(app, echo_service.url)
    answer = client.get(f"/api/v1/admin/clients/{merchant.app_id}/usage?month={month}", headers=viewer)
    assert (answer.status_code, answer.get_json()["message"]) == (400, "month must be YYYY-MM, e.g. 2026-11")


def test_unknown_client_is_404_and_the_endpoint_needs_an_admin_token(client, viewer):
    assert client.get("/api/v1/admin/clients/nosuchclient/usage", headers=viewer).status_code == 404
    assert client.get("/api/v1/admin/clients/nosuchclient/usage").status_code == 401


def test_api_usage_aggregate_agrees_with_the_log(app):
    with app.app_context(), db.transaction() as conn:
        mismatches = conn.execute(
            text(
                "SELECT count(*) FROM (SELECT (created_at AT TIME ZONE 'UTC')::date AS day, client_id, "
                "gateway.api_endpoint(path) AS endpoint, http_status, count(*) AS n FROM gateway.api_logs "
                "WHERE client_id IS NOT NULL GROUP BY 1, 2, 3, 4) l "
                "FULL JOIN (SELECT day, client_id, endpoint, http_status, sum(calls) AS calls "
                "FROM gateway.api_usage_live GROUP BY 1, 2, 3, 4) u USING (day, client_id, endpoint, http_status) "
                "WHERE u.calls IS DISTINCT FROM l.n"
            )
        ).scalar_one()
    assert mismatches == 0


def test_csv_rows_hold_every_line_and_the_totals(app, echo_service):
    merchant, _ = echo_setup(app, echo_service.url)
    with app.app_context(), db.transaction() as conn:
        rows = usage.csv_rows(usage.statement(conn, merchant.app_id, _this_month()))
    assert rows[0] == usage.CSV_HEADER
    assert [r[1] for r in rows[-3:]] == ["api_calls", "transactions", "successful"]
