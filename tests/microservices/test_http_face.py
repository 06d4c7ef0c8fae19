"""The HTTP face all three microservices share: the token guard, JSON bodies and JSON errors."""

from __future__ import annotations

import pytest

from microservices import http_face
from microservices.echo.app import create_app as echo_app
from microservices.mpesa.app import create_app as mpesa_app
from microservices.router.app import create_app as router_app

TOKEN = "test-internal-token"


def _apps():
    return {
        "echo": echo_app({"INTERNAL_TOKEN": TOKEN}),
        "mpesa": mpesa_app({"INTERNAL_TOKEN": TOKEN, "DATABASE_URL": ""}),
        "router": router_app({"INTERNAL_TOKEN": TOKEN}),
    }


@pytest.mark.parametrize("name", ["echo", "mpesa", "router"])
@pytest.mark.parametrize("headers", [{}, {"X-Internal-Token": ""}, {"X-Internal-Token": TOKEN + "x"}])
def test_every_service_refuses_a_missing_or_wrong_token(name, headers):
    response = _apps()[name].test_client().post("/anything", json={}, headers=headers)
    assert response.status_code == 401
    assert response.get_json()["status"] == "401"
    assert "X-Internal-Token" in response.get_json()["message"]


@pytest.mark.parametrize("name", ["echo", "mpesa", "router"])
def test_every_healthz_is_open(name):
    assert _apps()[name].test_client().get("/healthz").status_code == 200


@pytest.mark.parametrize("name", ["echo", "mpesa", "router"])
def test_unknown_paths_and_methods_answer_json(name):
    client = _apps()[name].test_client()
    response = client.get("/no/such/path", headers={"X-Internal-Token": TOKEN})
    assert response.status_code in (404, 405)
    assert response.is_json and "message" in response.get_json()


def test_an_unset_token_matches_nothing():
    assert not http_face.token_matches("", "")
    assert not http_face.token_matches("x", None)
    assert http_face.token_matches(TOKEN, TOKEN)
