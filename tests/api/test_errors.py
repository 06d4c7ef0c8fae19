"""The JSON error contract: every bad input gets the documented 4xx and a message, never a 500."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from core import db
from tests.conftest import basic
from tests.factories import echo_setup


@pytest.fixture(scope="module")
def echo(app, echo_service):
    return echo_setup(
        app,
        echo_service.url,
        fields=[
            {"field": "f004", "required": True},
            {"field": "f006", "required": False, "pattern": "[A-Z0-9]{3,12}", "max_length": 12},
        ],
    )


def _post(client, merchant, body, **kw):
    headers = {**merchant.headers(), **kw.pop("headers", {})}
    return client.post("/api/v1/payment/process", headers=headers, **({"json": body} if body is not None else {}), **kw)


@pytest.mark.parametrize(
    ("mutate", "status", "fragment"),
    [
        (lambda b, m, s: b.update(f003="otherapp"), 400, "f003 must equal your App ID"),
        (lambda b, m, s: b.pop("f010"), 400, "f010 is required"),
        (lambda b, m, s: b.update(f010="bad id with spaces"), 400, "f010 must be"),
        (lambda b, m, s: b.update(f000="nosuchservice"), 404, "unknown service"),
        (lambda b, m, s: b.update(f002="nosuchroute"), 404, "unknown route"),
        (lambda b, m, s: b.update(f002="pay'; DROP TABLE x;--"), 400, "f002 (route) must be"),
        (lambda b, m, s: b.update(f002='pay"'), 400, "f002 (route) must be"),
        (lambda b, m, s: b.pop("f004"), 400, "f004 is required for this service"),
        (lambda b, m, s: b.update(f004="-5"), 400, "f004 must be a positive amount"),
        (lambda b, m, s: b.update(f004="10.123"), 400, "at most 2 decimal places"),
        (lambda b, m, s: b.update(f004="0"), 400, "greater than zero"),
        (lambda b, m, s: b.update(f005="12ab"), 400, "f005 must be a mobile number"),
        (lambda b, m, s: b.update(f006="lower"), 400, "does not match the required pattern"),
        (lambda b, m, s: b.update(f006="A" * 13), 400, "at most 12 characters"),
        (lambda b, m, s: b.update(f004=100), 400, "f004 must be a string"),
        (lambda b, m, s: b.update(f099="x"), 400, "unknown field"),
        (lambda b, m, s: b.update(f002="r" * 17), 400, "at most 16 characters"),
        (lambda b, m, s: b.update(f001="x" * 1025), 400, "f001 is longer than 1024 characters"),
    ],
)
def test_field_validation(client, echo, mutate, status, fragment):
    merchant, service = echo
    body = merchant.fields(service["name"], "pay", f004="100")
    mutate(body, merchant, service)
    resp = _post(client, merchant, body)
    assert resp.status_code == status, resp.get_json()
    data = resp.get_json()
    assert data["status"] == str(status)
    assert fragment in data["message"]


@pytest.mark.parametrize(
    ("kwargs", "status", "fragment"),
    [
        (
            {"data": "f000=x", "content_type": "application/x-www-form-urlencoded"},
            415,
            "Content-Type: application/json",
        ),
        ({"data": "{not json", "content_type": "application/json"}, 400, "not valid JSON"),
        ({"data": "[1, 2]", "content_type": "application/json"}, 400, "JSON object"),
        ({"data": '"text"', "content_type": "application/json"}, 400, "JSON object"),
        ({"data": "", "content_type": "application/json"}, 400, "empty"),
        ({"data": json.dumps({"f000": "x" * 70000}), "content_type": "application/json"}, 413, "64 KiB"),
    ],
)
def test_body_errors(client, echo, kwargs, status, fragment):
    merchant, _ = echo
    resp = client.post("/api/v1/payment/process", headers=merchant.headers(), **kwargs)
    assert resp.status_code == status
    assert resp.is_json
    assert fragment in resp.get_json()["message"]


def test_invalid_input_writes_no_transaction(app, client, echo):
    merchant, service = echo
    body = merchant.fields(service["name"], "pay", f004="-1")
    assert _post(client, merchant, body).status_code == 400
    with app.app_context(), db.transaction() as conn:
        count = conn.execute(
            text("SELECT count(*) FROM gateway.transactions WHERE f010 = :f"), {"f": body["f010"]}
        ).scalar()
        logged = (
            conn.execute(
                text("SELECT http_status FROM gateway.api_logs WHERE request_body LIKE :f"), {"f": f"%{body['f010']}%"}
            )
            .scalars()
            .all()
        )
    assert count == 0
    assert logged == [400]


def test_unknown_url_and_method_are_json(client):
    assert client.get("/api/v1/nope").status_code == 404
    assert client.get("/api/v1/nope").get_json()["status"] == "404"
    resp = client.get("/api/v1/payment/process")
    assert resp.status_code == 405 and resp.get_json()["status"] == "405"


def test_missing_credentials(client, echo):
    merchant, service = echo
    resp = client.post("/api/v1/payment/process", json=merchant.fields(service["name"], "pay", f004="1"))
    assert resp.status_code == 401
    assert "missing credentials" in resp.get_json()["message"]
    resp = client.post(
        "/api/v1/payment/process",
        json=merchant.fields(service["name"], "pay", f004="1"),
        headers={"Authorization": basic(merchant.api_username, merchant.api_secret)},
    )
    assert resp.status_code == 401 and "App-ID" in resp.get_json()["message"]
