"""Hostile bodies (issue 13, item 4 and the "500s from input" findings): each is a 400 JSON error that says how
to fix it, never a 500, never a database message, and never a secret stored as text."""

from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import text

from core import db
from tests.factories import echo_setup


@pytest.fixture
def echo(app, echo_service):
    return echo_setup(app, echo_service.url)


def _is_400(resp, fragment: str) -> dict:
    assert resp.status_code == 400, (resp.status_code, resp.get_data(as_text=True)[:300])
    body = resp.get_json()
    assert body["status"] == "400"
    assert fragment in body["message"], body["message"]
    for leak in ("Unicode escape", "database error", "psycopg", "Traceback", "SQL"):
        assert leak not in body["message"]
    return body


def _logged_bodies(app, path: str) -> list[str | None]:
    with app.app_context(), db.transaction() as conn:
        return list(
            conn.execute(
                text("SELECT request_body FROM gateway.api_logs WHERE path = :p ORDER BY id"), {"p": path}
            ).scalars()
        )


def test_deeply_nested_json_to_a_callback_url_is_400(client):
    resp = client.post("/api/v1/callbacks/some-token", data="[" * 60000, content_type="application/json")
    _is_400(resp, "nested deeper than 32")


@pytest.mark.parametrize("depth", [33, 1000])
def test_nesting_past_the_bound_is_400_everywhere(client, echo, depth):
    merchant, _ = echo
    body = '{"f000": ' + "[" * depth + "]" * depth + "}"
    resp = client.post(
        "/api/v1/payment/process", data=body, content_type="application/json", headers=merchant.headers()
    )
    _is_400(resp, "nested deeper than 32")


def test_nesting_inside_strings_does_not_count(client, echo):
    merchant, service = echo
    body = merchant.fields(service["name"], "pay", f006="[" * 500 + "{" * 500)
    resp = client.post("/api/v1/payment/process", json=body, headers=merchant.headers())
    assert resp.status_code == 200, resp.get_data(as_text=True)


def test_nul_in_a_callback_body_is_400_without_the_database_message(client):
    raw = '{"Body": {"stkCallback": {"ResultDesc": "a\\u0000b"}}}'
    resp = client.post("/api/v1/callbacks/some-token", data=raw, content_type="application/json")
    _is_400(resp, "\\u0000")


@pytest.mark.parametrize("path", ["/api/v1/payment/status", "/api/v1/payment/process"])
@pytest.mark.parametrize(("value", "fragment"), [("\\ud800", "surrogate"), ("x\\u0000y", "\\u0000")])
def test_bad_unicode_in_f_fields_is_400(client, echo, path, value, fragment):
    merchant, service = echo
    body = merchant.fields(service["name"], "pay", f006="MARK")
    if path.endswith("status"):  # the lookup reaches the database with f010
        body["f010"] = "MARK"
    raw = json.dumps(body).replace("MARK", value)
    resp = client.post(path, data=raw, content_type="application/json", headers=merchant.headers())
    _is_400(resp, fragment)


@pytest.mark.parametrize(
    ("encode", "fragment"),
    [
        # The UTF-8 bytes of U+D800: json.loads decodes bytes with surrogatepass, so no escape is needed.
        (lambda raw: raw.encode().replace(b"MARK", b"\xed\xa0\x80"), "surrogate"),
        # A UTF-16 body, which json.loads detects; the NUL arrives escaped.
        (lambda raw: raw.replace("MARK", "a\\u0000b").encode("utf-16"), "\\u0000"),
    ],
)
def test_bad_unicode_in_raw_bytes_is_400(client, echo, encode, fragment):
    """json_body skips its text walk only when the bytes cannot decode to a NUL or a lone surrogate."""
    merchant, service = echo
    body = merchant.fields(service["name"], "pay", f006="MARK")
    raw = encode(json.dumps(body))
    resp = client.post("/api/v1/payment/process", data=raw, content_type="application/json", headers=merchant.headers())
    _is_400(resp, fragment)


@pytest.mark.parametrize(
    ("raw", "content_type", "status"),
    [
        ("f007=Hunter2-enc-secret&f008=Tr0ub4dor-pass", "text/plain", 415),
        ('{"f007": "Hunter2-enc-secret", "f008": "Tr0ub4dor-pass", ', "application/json", 400),
    ],
)
def test_unparsed_bodies_are_logged_as_size_and_hash_only(app, client, echo, raw, content_type, status):
    merchant, _ = echo
    resp = client.post("/api/v1/payment/process", data=raw, content_type=content_type, headers=merchant.headers())
    assert resp.status_code == status
    logged = [b for b in _logged_bodies(app, "/api/v1/payment/process") if b and "sha256" in b]
    digest = hashlib.sha256(raw.encode()).hexdigest()
    mine = [b for b in logged if digest in b]
    assert mine, logged[-3:]
    assert json.loads(mine[-1]) == {"unparsed_body": {"bytes": len(raw.encode()), "sha256": digest}}
    with app.app_context(), db.transaction() as conn:
        leaks = conn.execute(
            text(
                "SELECT count(*) FROM gateway.api_logs "
                "WHERE request_body LIKE '%Hunter2%' OR request_body LIKE '%Tr0ub4dor%'"
            )
        ).scalar()
    assert leaks == 0
