"""The JSON admin API: services, clients, assignment, transactions, roles and validation."""

from __future__ import annotations

import pytest

from tests.conftest import basic, unique_name
from tests.factories import make_admin


@pytest.fixture
def admin(app, client):
    username, password = make_admin(app, "admin")
    token = client.post("/api/v1/admin/auth/token", headers={"Authorization": basic(username, password)})
    return {"Authorization": f"Bearer {token.get_json()['token']}"}


@pytest.fixture
def viewer(app, client):
    username, password = make_admin(app, "viewer")
    token = client.post("/api/v1/admin/auth/token", headers={"Authorization": basic(username, password)})
    return {"Authorization": f"Bearer {token.get_json()['token']}"}


def test_full_onboarding_flow(client, admin, echo_service):
    name, app_id = unique_name("s"), unique_name("c")
    svc = client.post(
        "/api/v1/admin/services",
        headers=admin,
        json={
            "name": name,
            "display_name": "Echo",
            "kind": "http",
            "base_url": echo_service.url,
            "routes": ["pay"],
            "timeout_s": 3,
            "fields": [{"field": "f004", "required": True, "max_length": 10}],
        },
    )
    assert svc.status_code == 201, svc.get_json()
    created = client.post(
        "/api/v1/admin/clients",
        headers=admin,
        json={
            "app_id": app_id,
            "company_name": "Shop",
            "email": "a@shop.test",
            "callback_url": "http://127.0.0.1:9/hook",
        },
    )
    assert created.status_code == 201
    secret = created.get_json()
    assert secret["api_secret"] and secret["webhook_secret"].startswith("whsec_")
    assigned = client.post(f"/api/v1/admin/clients/{app_id}/services", headers=admin, json={"service": name})
    assert assigned.status_code == 201
    assert assigned.get_json()["functions"][0]["request"] == f"clientfn.{app_id}_{name}_pay"
    merchant_headers = {"Authorization": basic(secret["api_username"], secret["api_secret"]), "App-ID": app_id}
    pay = client.post(
        "/api/v1/payment/process",
        headers=merchant_headers,
        json={"f000": name, "f002": "pay", "f003": app_id, "f004": "12", "f010": "order-1"},
    )
    assert pay.status_code == 200
    listing = client.get(f"/api/v1/admin/transactions?app_id={app_id}&status=completed", headers=admin).get_json()
    assert [t["f010"] for t in listing["items"]] == ["order-1"]
    detail = client.get(f"/api/v1/admin/transactions/{pay.get_json()['transaction_id']}", headers=admin).get_json()
    assert [e["to_state"] for e in detail["events"]] == ["received", "dispatched", "completed"]
    assert detail["attempts"][0]["status_code"] == 200
    assert detail["outbox"][0]["kind"] == "webhook"  # callback_url set → webhook queued
    shown = client.get(f"/api/v1/admin/clients/{app_id}", headers=admin).get_json()
    assert "api_secret" not in shown and "webhook_secret_enc" not in shown


@pytest.mark.parametrize(
    ("path", "body", "fragment"),
    [
        (
            "/api/v1/admin/services",
            {"name": "Bad Name", "display_name": "x", "kind": "http", "base_url": "http://x", "routes": ["a"]},
            "lowercase",
        ),
        (
            "/api/v1/admin/services",
            {"name": "okname", "display_name": "x", "kind": "ftp", "base_url": "http://x", "routes": ["a"]},
            "kind must be one of",
        ),
        (
            "/api/v1/admin/services",
            {"name": "okname", "display_name": "x", "kind": "http", "base_url": "ftp://x", "routes": ["a"]},
            "http(s) URL",
        ),
        (
            "/api/v1/admin/services",
            {"name": "okname", "display_name": "x", "kind": "http", "base_url": "http://x", "routes": []},
            "non-empty list",
        ),
        (
            "/api/v1/admin/services",
            {
                "name": "okname",
                "display_name": "x",
                "kind": "http",
                "base_url": "http://x",
                "routes": ["a"],
                "fields": [{"field": "f004", "pattern": "("}],
            },
            "not a valid regular expression",
        ),
        (
            "/api/v1/admin/services",
            {
                "name": "okname",
                "display_name": "x",
                "kind": "http",
                "base_url": "http://x",
                "routes": ["a"],
                "timeout_s": 500,
            },
            "timeout_s must be",
        ),
        ("/api/v1/admin/clients", {"app_id": "ok1", "company_name": "x", "email": "nope"}, "email address"),
        ("/api/v1/admin/clients", {"app_id": "UPPER", "company_name": "x", "email": "a@b.co"}, "lowercase"),
        ("/api/v1/admin/clients", [1, 2], "JSON object"),
    ],
)
def test_admin_validation(client, admin, path, body, fragment):
    resp = client.post(path, headers=admin, json=body)
    assert resp.status_code == 400, resp.get_json()
    assert fragment in resp.get_json()["message"]


def test_duplicates_are_409(client, admin):
    app_id = unique_name("c")
    body = {"app_id": app_id, "company_name": "x", "email": "a@b.co"}
    assert client.post("/api/v1/admin/clients", headers=admin, json=body).status_code == 201
    resp = client.post("/api/v1/admin/clients", headers=admin, json=body)
    assert resp.status_code == 409 and "taken" in resp.get_json()["message"]


def test_unknown_things_are_404(client, admin):
    assert client.get("/api/v1/admin/clients/nosuch", headers=admin).status_code == 404
    assert client.get("/api/v1/admin/transactions/not-a-uuid", headers=admin).status_code == 404
    resp = client.post("/api/v1/admin/clients/nosuch/services", headers=admin, json={"service": "x"})
    assert resp.status_code == 404


def test_viewer_is_read_only(client, viewer):
    assert client.get("/api/v1/admin/transactions", headers=viewer).status_code == 200
    resp = client.post(
        "/api/v1/admin/clients", headers=viewer, json={"app_id": "x", "company_name": "x", "email": "a@b.co"}
    )
    assert resp.status_code == 403 and "read-only" in resp.get_json()["message"]


def test_admin_login_lockout(app, client):
    username, password = make_admin(app, "admin")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert (
            client.post("/api/v1/admin/auth/token", headers={"Authorization": basic(username, "wrong")}).status_code
            == 401
        )
    resp = client.post("/api/v1/admin/auth/token", headers={"Authorization": basic(username, password)})
    assert resp.status_code == 401 and "locked" in resp.get_json()["message"]


def test_mpesa_credentials_are_write_only(app, client, admin):
    app_id = unique_name("c")
    client.post("/api/v1/admin/clients", headers=admin, json={"app_id": app_id, "company_name": "x", "email": "a@b.co"})
    body = {
        "consumer_key": "ck-123456",
        "consumer_secret": "cs-abcdef-secret",
        "shortcode": "174379",
        "passkey": "pk-secret-passkey",
        "transaction_type": "CustomerPayBillOnline",
        "environment": "sandbox",
    }
    resp = client.put(f"/api/v1/admin/clients/{app_id}/credentials/mpesa", headers=admin, json=body)
    assert resp.status_code == 200
    text_out = resp.get_data(as_text=True) + client.get(f"/api/v1/admin/clients/{app_id}", headers=admin).get_data(
        as_text=True
    )
    assert "cs-abcdef-secret" not in text_out and "pk-secret-passkey" not in text_out
    assert "174379" in text_out
    bad = client.put(
        f"/api/v1/admin/clients/{app_id}/credentials/mpesa", headers=admin, json={**body, "shortcode": "12"}
    )
    assert bad.status_code == 400 and "5–7 digits" in bad.get_json()["message"]


def test_openapi_and_docs(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    assert "/api/v1/payment/process" in doc["paths"]
    assert client.get("/api/v1/docs").status_code == 200


def test_healthz(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200 and resp.get_json()["database"] == "up"


def test_webhook_secret_rotation(app, client, admin):
    from admin import clients
    from core import db

    app_id = unique_name("c")
    first = client.post(
        "/api/v1/admin/clients", headers=admin, json={"app_id": app_id, "company_name": "x", "email": "a@b.co"}
    ).get_json()
    rotated = client.post(f"/api/v1/admin/clients/{app_id}/webhook-secret/rotate", headers=admin)
    assert rotated.status_code == 200
    new_secret = rotated.get_json()["webhook_secret"]
    assert new_secret != first["webhook_secret"]
    with app.app_context(), db.transaction() as conn:
        assert clients.webhook_secret(conn, first["id"]) == new_secret  # the worker now signs with the new one
