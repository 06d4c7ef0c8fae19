"""Client authentication: Basic + App-ID, Bearer JWTs, rotation, deactivation, and admin/client separation."""

from __future__ import annotations

import pytest

from tests.conftest import basic
from tests.factories import echo_setup, make_admin, make_client


@pytest.fixture
def echo(app, echo_service):
    return echo_setup(app, echo_service.url)


def _token(client, merchant, header="App-ID"):
    return client.post(
        "/api/v1/auth/token",
        headers={"Authorization": basic(merchant.api_username, merchant.api_secret), header: merchant.app_id},
    )


def _admin_token(client, app, role="admin"):
    username, password = make_admin(app, role)
    return client.post("/api/v1/admin/auth/token", headers={"Authorization": basic(username, password)}).get_json()[
        "token"
    ]


def test_token_issued_and_used(client, echo):
    merchant, service = echo
    resp = _token(client, merchant)
    assert resp.status_code == 200
    data = resp.get_json()
    assert data["status"] == "200" and data["expires_in"] > 0
    pay = client.post(
        "/api/v1/payment/process",
        json=merchant.fields(service["name"], "pay"),
        headers={"Authorization": f"Bearer {data['token']}"},
    )
    assert pay.status_code == 200, pay.get_json()


def test_x_app_id_header_accepted(client, echo):
    merchant, _ = echo
    assert _token(client, merchant, header="X-App-ID").status_code == 200


@pytest.mark.parametrize("case", ["wrong_secret", "wrong_app_id", "other_clients_app_id", "garbage_basic"])
def test_bad_credentials_are_401(app, client, echo, case):
    merchant, _ = echo
    other = make_client(app)
    headers = {"Authorization": basic(merchant.api_username, merchant.api_secret), "App-ID": merchant.app_id}
    if case == "wrong_secret":
        headers["Authorization"] = basic(merchant.api_username, merchant.api_secret + "x")
    elif case == "wrong_app_id":
        headers["App-ID"] = "nosuchapp"
    elif case == "other_clients_app_id":
        headers["App-ID"] = other.app_id
    else:
        headers["Authorization"] = "Basic !!!notbase64"
    resp = client.post("/api/v1/auth/token", headers=headers)
    assert resp.status_code == 401
    assert resp.get_json()["status"] == "401"


def test_rotation_revokes_old_secret_and_tokens(app, client, echo):
    merchant, service = echo
    token = _token(client, merchant).get_json()["token"]
    admin = _admin_token(client, app)
    rotated = client.post(
        f"/api/v1/admin/clients/{merchant.app_id}/credentials/rotate", headers={"Authorization": f"Bearer {admin}"}
    )
    assert rotated.status_code == 200
    new = rotated.get_json()
    body = merchant.fields(service["name"], "pay")
    assert (
        client.post("/api/v1/payment/process", json=body, headers={"Authorization": f"Bearer {token}"}).status_code
        == 401
    )
    assert _token(client, merchant).status_code == 401
    merchant.api_username, merchant.api_secret = new["api_username"], new["api_secret"]
    assert _token(client, merchant).status_code == 200


def test_deactivated_client_is_403_and_tokens_revoked(app, client, echo):
    merchant, service = echo
    token = _token(client, merchant).get_json()["token"]
    admin = _admin_token(client, app)
    client.post(f"/api/v1/admin/clients/{merchant.app_id}/deactivate", headers={"Authorization": f"Bearer {admin}"})
    assert _token(client, merchant).status_code == 403
    assert (
        client.post(
            "/api/v1/payment/process",
            json=merchant.fields(service["name"], "pay"),
            headers={"Authorization": f"Bearer {token}"},
        ).status_code
        == 401
    )
    client.post(f"/api/v1/admin/clients/{merchant.app_id}/activate", headers={"Authorization": f"Bearer {admin}"})
    assert _token(client, merchant).status_code == 200


def test_admin_and_client_tokens_do_not_cross(app, client, echo):
    merchant, service = echo
    client_token = _token(client, merchant).get_json()["token"]
    admin = _admin_token(client, app)
    resp = client.get("/api/v1/admin/transactions", headers={"Authorization": f"Bearer {client_token}"})
    assert resp.status_code == 401
    assert resp.get_json()["message"] == "this endpoint needs an admin token, not a client token"
    resp = client.post(
        "/api/v1/payment/process",
        json=merchant.fields(service["name"], "pay"),
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert resp.status_code == 401
    assert resp.get_json()["message"] == "this endpoint needs a client token, not an admin token"


def test_forged_and_expired_tokens(app, client, echo):
    import jwt

    merchant, service = echo
    forged = jwt.encode(
        {
            "sub": merchant.app_id,
            "typ": "client",
            "ver": 1,
            "iat": 1,
            "exp": 9999999999,
            "iss": app.config["JWT_ISSUER"],
        },
        "not-the-key",
        algorithm="HS256",
    )
    expired = jwt.encode(
        {"sub": merchant.app_id, "typ": "client", "ver": 1, "iat": 1, "exp": 2, "iss": app.config["JWT_ISSUER"]},
        app.config["JWT_SECRET_KEY"],
        algorithm="HS256",
    )
    for token, fragment in ((forged, "invalid token"), (expired, "expired")):
        resp = client.post(
            "/api/v1/payment/process",
            json=merchant.fields(service["name"], "pay"),
            headers={"Authorization": f"Bearer {token}"},
        )
        assert resp.status_code == 401 and fragment in resp.get_json()["message"]


def test_not_assigned_service_is_403(app, client, echo):
    merchant, service = echo
    other = make_client(app)
    resp = client.post("/api/v1/payment/process", json=other.fields(service["name"], "pay"), headers=other.headers())
    assert resp.status_code == 403
    assert "not assigned" in resp.get_json()["message"]
