"""Fuzzed f-fields (huge, unicode, control characters, SQL and JSON metacharacters) and malformed credentials
(Basic headers, JWTs with alg none, a wrong key, expired, another client's, admin/client confusion).
Every answer is JSON with a 4xx or the function's own answer; never a 5xx."""

from __future__ import annotations

import base64
import time

import jwt
import pytest
from sqlalchemy import text

from core import db
from tests.conftest import basic
from tests.factories import echo_setup, make_admin

NASTY = [
    "x" * 1024,
    "x" * 1025,
    "x" * 60000,
    "Ωμέγα 漢字 🙂 \u202eRTL\u202c",
    "\u00e9\u0301 combining",
    "\t\r\n\x01\x02\x1b[31m\x7f",
    "\ufeffBOM",
    "'; DROP TABLE gateway.transactions; --",
    "' OR '1'='1",
    "$$; SELECT pg_sleep(10); $$",
    "\\'\\\\\"",
    '"}, {"f003": "other"}',
    '{"$ne": null}',
    "%s %(f000)s {0} ${jndi:ldap://x}",
    "../../../etc/passwd",
    "<script>alert(1)</script>",
    "",
    " ",
    "0",
    "-1",
    "1e9999",
    "NaN",
]
FIELDS = ["f000", "f001", "f002", "f003", "f004", "f005", "f006", "f007", "f008", "f009", "f010"]


@pytest.fixture(scope="module")
def echo(app, echo_service):
    return echo_setup(app, echo_service.url)


def _json_answer(resp, allowed: set[int]) -> dict:
    assert resp.status_code in allowed, (resp.status_code, resp.get_data(as_text=True)[:300])
    assert resp.is_json, resp.get_data(as_text=True)[:200]
    body = resp.get_json()
    assert resp.status_code < 300 or body["status"] == str(resp.status_code)
    return body


@pytest.mark.parametrize("field", FIELDS)
def test_fuzzed_f_fields_never_5xx(app, client, echo, field):
    merchant, service = echo
    sent = 0
    for value in NASTY:
        body = merchant.fields(service["name"], "pay")
        body[field] = value
        resp = client.post("/api/v1/payment/process", json=body, headers=merchant.headers())
        _json_answer(resp, {200, 400, 404, 409, 413})
        sent += 1
        status = client.post(
            "/api/v1/payment/status",
            json={"f003": merchant.app_id, field: value} | {"f010": body["f010"] if field != "f010" else value},
            headers=merchant.headers(),
        )
        _json_answer(status, {200, 400, 404, 413})
    assert sent == len(NASTY)
    with app.app_context(), db.transaction() as conn:  # the SQL metacharacters did nothing to the table
        assert conn.execute(text("SELECT to_regclass('gateway.transactions') IS NOT NULL")).scalar()


@pytest.mark.parametrize("f010", ["a%00b", "%ud800", "..%2F..%2Fetc", "x" * 4000, "'%20OR%201=1--", "%F0%9F%99%82"])
def test_rest_status_path_fuzz(client, echo, f010):
    merchant, _ = echo
    resp = client.get(f"/api/v1/transactions/{f010}", headers=merchant.headers())
    _json_answer(resp, {400, 404})


def _raw_basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode()


BAD_AUTH = [
    "Basic",
    "Basic ",
    "Basic !!!notbase64",
    "Basic " + "A" * 10000,
    _raw_basic(b"no-colon"),
    _raw_basic(b"\xff\xfe:\xff"),
    _raw_basic(b"user\x00:secret\x00"),
    _raw_basic(b":"),
    _raw_basic(("u" * 5000 + ":" + "s" * 5000).encode()),
    _raw_basic("ünïcode:pässwörd".encode()),
    "Bearer",
    "Bearer ",
    "Bearer not.a.jwt",
    "Bearer " + "a" * 8000,
    "Bearer eyJhbGciOiJub25lIn0.e30.",
    "Digest username=x",
    "basic " + base64.b64encode(b"a:b").decode(),
]


@pytest.mark.parametrize("header", BAD_AUTH)
@pytest.mark.parametrize("app_id", ["", "nobody", "x\x00y", "' OR 1=1 --", "é" * 300])
def test_malformed_authorization_is_401(client, echo, header, app_id):
    merchant, service = echo
    headers = {"Authorization": header, **({"App-ID": app_id} if app_id else {})}
    for path in ("/api/v1/auth/token", "/api/v1/payment/process", "/api/v1/admin/auth/token"):
        resp = client.post(path, json=merchant.fields(service["name"], "pay"), headers=headers)
        _json_answer(resp, {400, 401})
    assert client.get("/api/v1/admin/clients", headers=headers).status_code == 401


def _token(app, claims: dict, key: str | None = None, alg: str = "HS256") -> str:
    now = int(time.time())
    base = {"iss": app.config["JWT_ISSUER"], "iat": now, "exp": now + 300, "ver": 1, **claims}
    if alg == "none":
        return jwt.encode(base, None, algorithm="none")
    return jwt.encode(base, key or app.config["SECRET_KEY"], algorithm=alg)


def test_forged_expired_and_confused_tokens_are_refused(app, client, echo):
    merchant, service = echo
    body = merchant.fields(service["name"], "pay")
    forged = {
        "alg none": _token(app, {"sub": merchant.app_id, "typ": "client"}, alg="none"),
        "wrong key": _token(app, {"sub": merchant.app_id, "typ": "client"}, key="not-the-key-" * 4),
        "expired": _token(app, {"sub": merchant.app_id, "typ": "client", "exp": int(time.time()) - 5}),
        "other issuer": _token(app, {"sub": merchant.app_id, "typ": "client", "iss": "evil"}),
        "no typ": _token(app, {"sub": merchant.app_id}),
        "admin as client": _token(app, {"sub": "1", "typ": "admin", "role": "super_admin"}),
        "HS512": _token(app, {"sub": merchant.app_id, "typ": "client"}, alg="HS512"),
    }
    for name, value in forged.items():
        resp = client.post("/api/v1/payment/process", json=body, headers={"Authorization": f"Bearer {value}"})
        assert _json_answer(resp, {401})["status"] == "401", name
    with app.app_context():
        client_token = client.post("/api/v1/auth/token", headers=merchant.headers()).get_json()["token"]
    admin_paths = ["/api/v1/admin/clients", "/api/v1/admin/transactions", f"/api/v1/admin/clients/{merchant.app_id}"]
    for path in admin_paths:  # a client token never opens the admin API
        assert client.get(path, headers={"Authorization": f"Bearer {client_token}"}).status_code == 401
    for name in ("alg none", "wrong key", "expired"):
        claims_admin = {"sub": "1", "typ": "admin"}
        bad = {
            "alg none": _token(app, claims_admin, alg="none"),
            "wrong key": _token(app, claims_admin, key="x" * 40),
            "expired": _token(app, {**claims_admin, "exp": int(time.time()) - 5}),
        }[name]
        assert client.get("/api/v1/admin/clients", headers={"Authorization": f"Bearer {bad}"}).status_code == 401


def test_admin_token_does_not_pay_and_another_clients_token_sees_nothing(app, client, echo, echo_service):
    merchant, service = echo
    other, _ = echo_setup(app, echo_service.url)
    body = merchant.fields(service["name"], "pay")
    assert client.post("/api/v1/payment/process", json=body, headers=merchant.headers()).status_code == 200
    username, password = make_admin(app)
    admin = client.post("/api/v1/admin/auth/token", headers={"Authorization": basic(username, password)})
    admin_token = admin.get_json()["token"]
    resp = client.post("/api/v1/payment/process", json=body, headers={"Authorization": f"Bearer {admin_token}"})
    assert _json_answer(resp, {401})["message"].startswith("this endpoint needs a client token")
    other_token = client.post("/api/v1/auth/token", headers=other.headers()).get_json()["token"]
    as_other = {"Authorization": f"Bearer {other_token}", "App-ID": merchant.app_id}  # App-ID cannot widen a token
    assert client.get(f"/api/v1/transactions/{body['f010']}", headers=as_other).status_code == 404
    status = client.post("/api/v1/payment/status", json={"f010": body["f010"]}, headers=as_other)
    assert status.status_code == 404
    other_basic = {"Authorization": basic(other.api_username, other.api_secret), "App-ID": merchant.app_id}
    assert client.post("/api/v1/payment/process", json=body, headers=other_basic).status_code == 401


QUERY_VALUES = ["99999999999999999999", "-1", "0", "abc", "\x00", "'--", "9" * 5000, "1e10"]
QUERY_KEYS = ["page", "per_page", "limit", "q", "status", "app_id", "service", "f010", "username", "date_from"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/admin/clients",
        "/api/v1/admin/transactions",
        "/api/v1/admin/clients/{app}/subscriptions",
        "/api/v1/admin/clients/{app}/drift",
    ],
)
def test_fuzzed_admin_query_arguments_never_5xx(app, client, echo, path):
    merchant, _ = echo
    username, password = make_admin(app)
    token = client.post("/api/v1/admin/auth/token", headers={"Authorization": basic(username, password)})
    headers = {"Authorization": f"Bearer {token.get_json()['token']}"}
    for key in QUERY_KEYS:
        for value in QUERY_VALUES:
            resp = client.get(path.format(app=merchant.app_id), query_string={key: value}, headers=headers)
            _json_answer(resp, {200, 400, 404})
