"""Rate limits cannot be turned against a client: counted after authentication, per client, in PostgreSQL;
failed authentications per source address; 429 with Retry-After; monthly quotas."""

from __future__ import annotations

import random

import pytest

from app import create_app
from core import db
from tests.conftest import basic, unique_name
from tests.factories import echo_setup, make_admin


def _address() -> str:
    # Anonymous counters are per source address and the database is shared by the session: one per test.
    return f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


@pytest.fixture
def limited_app(app_database_url, app):
    def build(**settings):
        built = create_app(
            {
                "DATABASE_URL": app_database_url,
                "TESTING": True,
                "ENV": "testing",
                "RATELIMIT_ENABLED": True,
                "PUBLIC_BASE_URL": app.config["PUBLIC_BASE_URL"],
                **settings,
            }
        )
        made.append(built)
        return built

    made: list = []
    yield build
    for built in made:
        built.extensions["db_engine"].dispose()


def _client(flask_app):
    client = flask_app.test_client()
    client.environ_base["REMOTE_ADDR"] = _address()
    return client


def test_failed_requests_in_a_victims_name_do_not_limit_the_victim(app, limited_app, echo_service):
    """The finding: three failed requests sent with App-ID: victim made the victim's next real request 429."""
    merchant, service = echo_setup(app, echo_service.url)
    gateway = limited_app(RATELIMIT_DEFAULT="3/minute", RATELIMIT_ANONYMOUS="100/minute")
    attacker = _client(gateway)
    forged = {"Authorization": basic("nobody", "wrong"), "App-ID": merchant.app_id}
    for _ in range(3):
        body = merchant.fields(service["name"], "pay", f004="10")
        assert attacker.post("/api/v1/payment/process", headers=forged, json=body).status_code == 401
    real = _client(gateway).post(
        "/api/v1/payment/process", json=merchant.fields(service["name"], "pay", f004="10"), headers=merchant.headers()
    )
    assert real.status_code == 200, real.get_json()
    assert "Retry-After" not in real.headers


def test_random_app_ids_do_not_escape_the_anonymous_limit(limited_app):
    gateway = limited_app(RATELIMIT_ANONYMOUS="5/minute")
    attacker = _client(gateway)
    codes = []
    for _ in range(8):
        headers = {"Authorization": basic("x", "y"), "App-ID": unique_name("r")}
        codes.append(attacker.post("/api/v1/payment/status", headers=headers, json={}))
    assert [r.status_code for r in codes] == [401] * 5 + [429] * 3
    last = codes[-1]
    assert last.get_json()["status"] == "429"
    assert 1 <= int(last.headers["Retry-After"]) <= 60
    # Another address is not affected by this one's failures.
    other = _client(gateway).post("/api/v1/payment/status", headers={"App-ID": "x"}, json={})
    assert other.status_code == 401


def test_client_limit_set_by_admin_is_429_with_retry_after(app, limited_app, echo_service):
    merchant, service = echo_setup(app, echo_service.url)
    gateway = limited_app(RATELIMIT_DEFAULT="1000/minute")
    api = _client(gateway)
    username, password = make_admin(app, "admin")
    token = api.post("/api/v1/admin/auth/token", headers={"Authorization": basic(username, password)}).get_json()
    admin = {"Authorization": f"Bearer {token['token']}"}
    bad = api.patch(f"/api/v1/admin/clients/{merchant.app_id}", headers=admin, json={"rate_limit": "lots"})
    assert bad.status_code == 400 and "1200/minute" in bad.get_json()["message"]
    patched = api.patch(f"/api/v1/admin/clients/{merchant.app_id}", headers=admin, json={"rate_limit": "2 per minute"})
    assert patched.status_code == 200 and patched.get_json()["rate_limit"] == "2/minute"

    answers = [
        api.post(
            "/api/v1/payment/process",
            json=merchant.fields(service["name"], "pay", f004="10"),
            headers=merchant.headers(),
        )
        for _ in range(3)
    ]
    assert [r.status_code for r in answers] == [200, 200, 429]
    assert all("Retry-After" not in r.headers for r in answers[:2])
    refused = answers[2]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.get_json()["status"] == "429" and "2/minute" in refused.get_json()["message"]
    # The status endpoints count against the same client limit, and the 429 is in the API log.
    status = api.get("/api/v1/transactions/nothing", headers=merchant.headers())
    assert status.status_code == 429 and "Retry-After" in status.headers
    with app.app_context(), db.transaction() as conn:
        logged = conn.exec_driver_sql(
            "SELECT count(*) FROM gateway.api_logs WHERE client_id = %s AND http_status = 429", (merchant.id,)
        ).scalar_one()
    assert logged >= 1


def test_monthly_quota_names_the_quota_and_the_reset(app, limited_app, echo_service):
    merchant, service = echo_setup(app, echo_service.url)
    gateway = limited_app()
    api = _client(gateway)
    username, password = make_admin(app, "admin")
    token = api.post("/api/v1/admin/auth/token", headers={"Authorization": basic(username, password)}).get_json()
    admin = {"Authorization": f"Bearer {token['token']}"}
    assert (
        api.patch(f"/api/v1/admin/clients/{merchant.app_id}", headers=admin, json={"monthly_quota": 0}).status_code
        == 400
    )
    patched = api.patch(f"/api/v1/admin/clients/{merchant.app_id}", headers=admin, json={"monthly_quota": 1})
    assert patched.status_code == 200 and patched.get_json()["monthly_quota"] == 1
    first = merchant.fields(service["name"], "pay", f004="10")
    assert api.post("/api/v1/payment/process", json=first, headers=merchant.headers()).status_code == 200
    # A replay of the same payment is not a new transaction: still answered.
    assert api.post("/api/v1/payment/process", json=first, headers=merchant.headers()).status_code == 200
    over = api.post(
        "/api/v1/payment/process", json=merchant.fields(service["name"], "pay", f004="10"), headers=merchant.headers()
    )
    assert over.status_code == 429
    message = over.get_json()["message"]
    assert "monthly quota of 1 transactions" in message and "resets on" in message
    assert int(over.headers["Retry-After"]) >= 1


def test_external_store_counts_after_authentication_too(app, limited_app, echo_service):
    """RATELIMIT_STORAGE_URI (memory:// here; redis:// in production) takes over the counting, same rules."""
    merchant, service = echo_setup(app, echo_service.url)
    gateway = limited_app(
        RATELIMIT_STORAGE_URI="memory://", RATELIMIT_DEFAULT="2/minute", RATELIMIT_ANONYMOUS="2/minute"
    )
    attacker = _client(gateway)
    forged = {"Authorization": basic("nobody", "wrong"), "App-ID": merchant.app_id}
    failed = [attacker.post("/api/v1/payment/status", headers=forged, json={}) for _ in range(3)]
    assert [r.status_code for r in failed] == [401, 401, 429]
    assert "Retry-After" in failed[2].headers
    api = _client(gateway)
    answers = [
        api.post(
            "/api/v1/payment/process",
            json=merchant.fields(service["name"], "pay", f004="10"),
            headers=merchant.headers(),
        )
        for _ in range(3)
    ]
    assert [r.status_code for r in answers] == [200, 200, 429], [r.get_json() for r in answers]
    assert int(answers[2].headers["Retry-After"]) >= 1
