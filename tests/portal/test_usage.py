"""The client's usage page and CSV in the portal: figures from the pre-aggregates, a month picker that says
what it wants, a chart, and a 404 for an unknown client."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from tests.factories import echo_setup


def _pay(app, echo_url: str, amounts: tuple[str, ...]):
    merchant, service = echo_setup(app, echo_url)
    api = app.test_client()
    for amount in amounts:
        body = merchant.fields(service["name"], "pay", f004=amount, f005="0712345678")
        assert api.post("/api/v1/payment/process", json=body, headers=merchant.headers()).status_code == 200
    return merchant, service


def test_usage_page_shows_the_month(app, viewer_client, echo_service):
    merchant, service = _pay(app, echo_service.url, ("100", "20.25"))
    page = viewer_client.get(f"/portal/clients/{merchant.app_id}/usage")
    body = page.get_data(as_text=True)
    assert page.status_code == 200, body[:2000]
    assert 'data-test="usage-transactions">2<' in body
    assert 'data-test="usage-volume">120.25<' in body
    assert "/api/v1/payment/process" in body and service["name"] in body
    assert 'id="usageChart"' in body
    assert datetime.now(UTC).strftime("%Y-%m") in body


def test_client_page_links_to_usage(app, viewer_client, echo_service):
    merchant, _ = _pay(app, echo_service.url, ())
    body = viewer_client.get(f"/portal/clients/{merchant.app_id}").get_data(as_text=True)
    assert f"/portal/clients/{merchant.app_id}/usage" in body


def test_a_bad_month_says_the_form_and_shows_the_current_one(app, viewer_client, echo_service):
    merchant, _ = _pay(app, echo_service.url, ())
    page = viewer_client.get(f"/portal/clients/{merchant.app_id}/usage?month=2026-13")
    assert page.status_code == 400
    assert "month must be YYYY-MM, e.g. 2026-11" in page.get_data(as_text=True)


def test_unknown_client_is_a_404_page(viewer_client):
    assert viewer_client.get("/portal/clients/nosuchclient/usage").status_code == 404


def test_csv_has_the_lines_and_totals(app, viewer_client, echo_service):
    merchant, service = _pay(app, echo_service.url, ("100",))
    month = datetime.now(UTC).strftime("%Y-%m")
    response = viewer_client.get(f"/portal/clients/{merchant.app_id}/usage.csv?month={month}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert f"usage-{merchant.app_id}-{month}.csv" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["section", "key", "status", "count", "amount"]
    assert ["transactions", service["name"], "completed", "1", "100.00"] in rows
    assert rows[-1] == ["total", "successful", "completed", "1", "100.00"]
