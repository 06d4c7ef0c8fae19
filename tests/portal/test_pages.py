"""Every portal page renders for a signed-in user, shows helpful empty states, and never a stack trace."""

from __future__ import annotations

import pytest

from tests.factories import echo_setup, make_client

PAGES = (
    "/portal/",
    "/portal/transactions",
    "/portal/clients",
    "/portal/services",
    "/portal/api-logs",
    "/portal/audit",
    "/portal/account",
    "/portal/clients/new",
    "/portal/services/new",
    "/portal/users",
)


def test_root_redirects_to_the_dashboard(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/portal/")


def test_pages_need_sign_in(client):
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 302, path
        assert "/portal/login" in response.headers["Location"]


@pytest.mark.parametrize("path", PAGES)
def test_super_admin_sees_every_page(super_client, path):
    response = super_client.get(path)
    body = response.get_data(as_text=True)
    assert response.status_code == 200, body[:3000]
    assert "Traceback" not in body
    assert 'id="accordionSidebar"' in body  # the SB Admin 2 shell
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"


def test_client_and_transaction_pages(app, super_client, echo_service):
    merchant, service = echo_setup(app, echo_service.url)
    body = merchant.fields(service["name"], "pay", f004="10", f005="0712345678")
    api = app.test_client()
    paid = api.post("/api/v1/payment/process", json=body, headers=merchant.headers()).get_json()
    for path in (
        f"/portal/clients/{merchant.app_id}",
        f"/portal/clients/{merchant.app_id}/functions",
        f"/portal/services/{service['name']}",
        f"/portal/transactions/{paid['transaction_id']}",
        f"/portal/transactions?app_id={merchant.app_id}",
        f"/portal/api-logs?app_id={merchant.app_id}",
    ):
        response = super_client.get(path)
        assert response.status_code == 200, (path, response.get_data(as_text=True)[:3000])


def test_unknown_things_give_a_helpful_404(super_client):
    for path in (
        "/portal/clients/nosuchclient",
        "/portal/services/nosuchservice",
        "/portal/transactions/00000000-0000-0000-0000-000000000000",
        "/portal/transactions/not-a-uuid",
        "/portal/nowhere",
    ):
        response = super_client.get(path, headers={"Accept": "text/html"})
        body = response.get_data(as_text=True)
        assert response.status_code == 404, path
        assert "Traceback" not in body
        assert 'data-test="error-message"' in body


def test_empty_search_explains_itself(app, super_client):
    make_client(app)
    body = super_client.get("/portal/clients?q=zzzznothing").get_data(as_text=True)
    assert 'data-test="empty-state"' in body
    assert "No client matches" in body


def test_a_second_app_in_the_same_process_gets_the_portal_too(database_url):
    from app import create_app

    other = create_app({"DATABASE_URL": database_url, "TESTING": True, "RATELIMIT_ENABLED": False})
    try:
        response = other.test_client().get("/portal/clients")
        assert response.status_code == 302 and "/portal/login" in response.headers["Location"]
    finally:
        other.extensions["db_engine"].dispose()
