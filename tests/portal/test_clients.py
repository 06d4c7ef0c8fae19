"""Clients in the portal: created through the service layer, secrets shown once, write-only provider fields."""

from __future__ import annotations

import re

from sqlalchemy import text

from core import db
from tests.conftest import basic, unique_name
from tests.factories import make_client, make_service
from tests.portal.conftest import csrf_token


def _secret(body: str, name: str) -> str:
    match = re.search(rf'value="([^"]+)" data-test="secret-{name}"', body)
    assert match, f"no {name} on the page"
    return match.group(1)


def _create(client, **fields):
    token = csrf_token(client, "/portal/clients/new")
    data = {"app_id": unique_name("c"), "company_name": "Duka Ltd", "email": "ops@duka.test", **fields}
    return data, client.post("/portal/clients/new", data={"csrf_token": token, **data})


def test_create_shows_secrets_once_and_they_work(app, admin_client):
    data, response = _create(admin_client, callback_url="https://duka.test/hook")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert 'data-test="shown-once"' in body
    secret, username = _secret(body, "api_secret"), _secret(body, "api_username")
    assert _secret(body, "webhook_secret").startswith("whsec_")
    # The secret works against the API …
    api = app.test_client().post(
        "/api/v1/auth/token", headers={"Authorization": basic(username, secret), "App-ID": data["app_id"]}
    )
    assert api.status_code == 200
    # … and is never shown again: the client page has only its last 4 characters.
    page = admin_client.get(f"/portal/clients/{data['app_id']}").get_data(as_text=True)
    assert secret not in page
    assert "••••••••" + secret[-4:] in page
    assert username in page


def test_validation_errors_are_shown_under_their_fields(admin_client):
    _, response = _create(admin_client, app_id="Bad-ID", email="not-an-email")
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "lowercase letters and digits" in body
    assert "enter an email address" in body
    assert "is-invalid" in body


def test_taken_app_id_is_explained(app, admin_client):
    existing = make_client(app)
    _, response = _create(admin_client, app_id=existing.app_id)
    assert response.status_code == 400
    assert "is taken; choose another" in response.get_data(as_text=True)


def test_edit_deactivate_reactivate(app, admin_client):
    merchant = make_client(app)
    url = f"/portal/clients/{merchant.app_id}"
    token = csrf_token(admin_client, url)
    response = admin_client.post(
        f"{url}/edit",
        data={"csrf_token": token, "company_name": "Renamed Ltd", "email": "new@x.test", "callback_url": "ftp://nope"},
    )
    assert response.status_code == 400 and "enter an http(s) URL" in response.get_data(as_text=True)
    response = admin_client.post(
        f"{url}/edit", data={"csrf_token": token, "company_name": "Renamed Ltd", "email": "new@x.test"}
    )
    assert response.status_code == 302
    assert "Renamed Ltd" in admin_client.get(url).get_data(as_text=True)

    assert admin_client.post(f"{url}/status", data={"csrf_token": token, "active": "0"}).status_code == 302
    refused = app.test_client().post("/api/v1/auth/token", headers=merchant.headers())
    assert refused.status_code == 403
    assert admin_client.post(f"{url}/status", data={"csrf_token": token, "active": "1"}).status_code == 302
    assert app.test_client().post("/api/v1/auth/token", headers=merchant.headers()).status_code == 200


def test_rotate_credentials_shows_new_secret_and_revokes_old(app, admin_client):
    merchant = make_client(app)
    url = f"/portal/clients/{merchant.app_id}"
    token = csrf_token(admin_client, url)
    response = admin_client.post(f"{url}/credentials/rotate", data={"csrf_token": token})
    body = response.get_data(as_text=True)
    new_secret, new_user = _secret(body, "api_secret"), _secret(body, "api_username")
    assert new_secret != merchant.api_secret
    api = app.test_client()
    assert api.post("/api/v1/auth/token", headers=merchant.headers()).status_code == 401
    assert (
        api.post(
            "/api/v1/auth/token", headers={"Authorization": basic(new_user, new_secret), "App-ID": merchant.app_id}
        ).status_code
        == 200
    )
    response = admin_client.post(f"{url}/webhook-secret/rotate", data={"csrf_token": token})
    assert _secret(response.get_data(as_text=True), "webhook_secret").startswith("whsec_")


def test_provider_secrets_are_write_only(app, admin_client):
    merchant = make_client(app)
    url = f"/portal/clients/{merchant.app_id}"
    token = csrf_token(admin_client, url)
    response = admin_client.post(
        f"{url}/mpesa",
        data={
            "csrf_token": token,
            "environment": "sandbox",
            "consumer_key": "ck-visible-nowhere",
            "consumer_secret": "cs-visible-nowhere",
            "shortcode": "12",
            "passkey": "pk-visible-nowhere",
            "transaction_type": "CustomerPayBillOnline",
        },
    )
    assert response.status_code == 400 and "5–7 digits" in response.get_data(as_text=True)
    response = admin_client.post(
        f"{url}/mpesa",
        data={
            "csrf_token": token,
            "environment": "sandbox",
            "consumer_key": "ck-visible-nowhere",
            "consumer_secret": "cs-visible-nowhere",
            "shortcode": "174379",
            "passkey": "pk-visible-nowhere",
            "transaction_type": "CustomerPayBillOnline",
        },
    )
    assert response.status_code == 302
    response = admin_client.post(
        f"{url}/router",
        data={
            "csrf_token": token,
            "host": "10.0.0.1",
            "port": "8728",
            "username": "api",
            "password": "rt-visible-nowhere",
        },
    )
    assert response.status_code == 302
    page = admin_client.get(url).get_data(as_text=True)
    assert "174379" in page and "10.0.0.1" in page
    for secret in ("ck-visible-nowhere", "cs-visible-nowhere", "pk-visible-nowhere", "rt-visible-nowhere"):
        assert secret not in page
    audit = admin_client.get(f"/portal/audit?target={merchant.app_id}").get_data(as_text=True)
    assert "client.set_mpesa_credentials" in audit and "client.set_router" in audit
    for secret in ("cs-visible-nowhere", "pk-visible-nowhere", "rt-visible-nowhere"):
        assert secret not in audit


def test_assign_service_generates_functions(app, admin_client):
    merchant = make_client(app)
    service = make_service(app, "http://127.0.0.1:9")
    url = f"/portal/clients/{merchant.app_id}"
    token = csrf_token(admin_client, url)
    response = admin_client.post(f"{url}/services", data={"csrf_token": token, "service": service["name"]})
    assert response.status_code == 302
    page = admin_client.get(url).get_data(as_text=True)
    assert f"clientfn.{merchant.app_id}_{service['name']}_pay" in page
    functions = admin_client.get(f"{url}/functions").get_data(as_text=True)
    assert "CREATE OR REPLACE FUNCTION" in functions
    response = admin_client.post(f"{url}/services/{service['name']}/active", data={"csrf_token": token, "active": "0"})
    assert response.status_code == 302
    with app.app_context(), db.transaction() as conn:
        active = conn.execute(
            text(
                "SELECT a.active FROM gateway.assignments a JOIN gateway.clients c "
                "ON c.id = a.client_id WHERE c.app_id = :a"
            ),
            {"a": merchant.app_id},
        ).scalar()
    assert active is False


def test_list_search_and_pagination(app, admin_client):
    merchant = make_client(app, company_name="Zebra Searchable Ltd")
    page = admin_client.get("/portal/clients?q=Zebra Searchable").get_data(as_text=True)
    assert merchant.app_id in page
    assert admin_client.get("/portal/clients?page=999").status_code == 200


def test_rate_limit_and_quota_are_set_on_the_client_page(app, admin_client):
    merchant = make_client(app)
    url = f"/portal/clients/{merchant.app_id}"
    token = csrf_token(admin_client, url)
    base = {"csrf_token": token, "company_name": "Acme Ltd", "email": "ops@acme.test"}
    bad = admin_client.post(f"{url}/edit", data={**base, "rate_limit": "fast", "monthly_quota": ""})
    assert bad.status_code == 400 and "1200/minute" in bad.get_data(as_text=True)
    ok = admin_client.post(f"{url}/edit", data={**base, "rate_limit": "1200 per minute", "monthly_quota": "100000"})
    assert ok.status_code == 302
    page = admin_client.get(url).get_data(as_text=True)
    assert 'value="1200/minute"' in page and 'value="100000"' in page
    cleared = admin_client.post(f"{url}/edit", data={**base, "rate_limit": "", "monthly_quota": ""})
    assert cleared.status_code == 302
    with app.app_context(), db.transaction() as conn:
        row = conn.execute(
            text("SELECT rate_limit, monthly_quota FROM gateway.clients WHERE id = :i"), {"i": merchant.id}
        ).one()
    assert tuple(row) == (None, None)
