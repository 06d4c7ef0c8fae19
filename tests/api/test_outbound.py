"""Outbound calls: service base URLs on link-local, metadata or unspecified addresses are refused (names too),
the optional host allow-list holds, redirects are never followed (the internal token never leaves the
service's host), and only super admins change a service's base_url."""

from __future__ import annotations

import threading

import pytest
from flask import Flask, jsonify, redirect, request

from adapters import ServiceCall
from adapters.http import HttpAdapter, make_session
from adapters.url_policy import ServiceHostRefused, check_url
from tests.conftest import basic, unique_name
from tests.factories import make_admin, make_service
from tests.portal.conftest import post, signed_in
from tests.servers import LiveServer

BLOCKED = [
    "http://169.254.169.254/latest/meta-data",
    "http://169.254.10.1:8080",
    "http://[fe80::1]:5000",
    "http://0.0.0.0:5000",
    "http://[::]:5000",
    "http://100.100.100.200/latest",
    "http://[fd00:ec2::254]/",
    "http://[::ffff:169.254.169.254]/",
    "http://2852039166/",  # 169.254.169.254 as one decimal number
]


class Recorder:
    """A loopback HTTP server that records every request's path and headers; /redirect/<url> answers 307."""

    def __init__(self) -> None:
        self.hits: list[dict] = []
        self.lock = threading.Lock()
        app = Flask(unique_name("rec"))

        @app.route("/<path:path>", methods=["GET", "POST"])
        def anything(path: str):
            with self.lock:
                self.hits.append({"path": path, "headers": dict(request.headers)})
            target = request.args.get("to")
            if target:
                return redirect(target, code=307)
            return jsonify({"ok": True})

        self.server = LiveServer(app).start()
        self.url = self.server.url


@pytest.fixture(scope="module")
def two_hosts():
    a, b = Recorder(), Recorder()
    yield a, b
    a.server.stop()
    b.server.stop()


def _admin_headers(client, app, role: str) -> dict:
    username, password = make_admin(app, role)
    token = client.post("/api/v1/admin/auth/token", headers={"Authorization": basic(username, password)})
    return {"Authorization": f"Bearer {token.get_json()['token']}"}


@pytest.mark.parametrize("url", BLOCKED)
def test_blocked_base_urls_are_refused(app, client, url):
    headers = _admin_headers(client, app, "super_admin")
    body = {"name": unique_name("s"), "display_name": "x", "kind": "http", "base_url": url, "routes": ["pay"]}
    resp = client.post("/api/v1/admin/services", headers=headers, json=body)
    assert resp.status_code == 400, resp.get_json()
    assert "base_url refused" in resp.get_json()["message"]


def test_host_names_are_resolved_before_judging():
    with pytest.raises(ServiceHostRefused, match="link-local"):
        check_url("http://metadata.internal/", resolver=lambda host: ["10.0.0.5", "169.254.1.1"])
    check_url("http://mpesa.internal:5101", resolver=lambda host: ["10.0.0.5"])  # private networks are fine


def test_a_host_name_is_resolved_at_every_check_and_an_address_is_judged_alike_every_time():
    # Names can be re-pointed (DNS rebinding), so their verdict is never kept; an address in the URL can be.
    answers = iter([["10.0.0.5"], ["169.254.169.254"]])
    calls = []

    def resolver(host):
        calls.append(host)
        return next(answers)

    check_url("http://svc.internal/", resolver=resolver)
    with pytest.raises(ServiceHostRefused, match="metadata"):
        check_url("http://svc.internal/", resolver=resolver)
    assert calls == ["svc.internal", "svc.internal"]
    for _ in range(2):
        with pytest.raises(ServiceHostRefused, match="link-local"):
            check_url("http://169.254.1.1:80/x")
        with pytest.raises(ServiceHostRefused, match="SERVICE_HOST_ALLOWLIST"):
            check_url("http://10.1.2.3/", ["127.0.0.1"])
        check_url("http://10.1.2.3/", ["10.0.0.0/8"])  # the same address, another allow-list


def test_host_allowlist(app, client):
    headers = _admin_headers(client, app, "super_admin")
    app.config["SERVICE_HOST_ALLOWLIST"] = "127.0.0.0/8, mpesa.internal"
    try:
        ok = {"name": unique_name("s"), "display_name": "x", "kind": "http", "base_url": "http://127.0.0.1:9"}
        assert client.post("/api/v1/admin/services", headers=headers, json={**ok, "routes": ["a"]}).status_code == 201
        other = {**ok, "name": unique_name("s"), "base_url": "http://10.1.2.3:9", "routes": ["a"]}
        resp = client.post("/api/v1/admin/services", headers=headers, json=other)
        assert resp.status_code == 400 and "SERVICE_HOST_ALLOWLIST" in resp.get_json()["message"]
    finally:
        app.config["SERVICE_HOST_ALLOWLIST"] = ""
    with pytest.raises(ServiceHostRefused, match="SERVICE_HOST_ALLOWLIST"):
        check_url("http://10.1.2.3/", ["127.0.0.1"])


def test_redirects_are_not_followed_and_the_token_stays_home(two_hosts):
    service, elsewhere = two_hosts
    adapter = HttpAdapter(make_session(), "internal-token-xyz", retries=0)
    call = ServiceCall(
        url=f"{service.url}/pay?to={elsewhere.url}/steal",
        method="POST",
        payload={"consumer_secret": "daraja-secret"},
        headers={},
        timeout_s=5,
        idempotency_key="k1",
    )
    reply = adapter.call(call)
    assert reply.code == 307
    assert service.hits and service.hits[-1]["headers"]["X-Internal-Token"] == "internal-token-xyz"
    assert elsewhere.hits == []


def test_adapter_refuses_blocked_hosts_at_call_time():
    """A base_url written straight into the table (bypassing the admin API) is still never called."""
    adapter = HttpAdapter(make_session(), "internal-token-xyz", retries=0)
    call = ServiceCall(
        url="http://169.254.169.254/latest/meta-data",
        method="GET",
        payload={},
        headers={},
        timeout_s=5,
        idempotency_key="k2",
    )
    reply = adapter.call(call)
    assert reply.code == 502 and "never calls" in (reply.error or "")
    assert reply.latency_ms == 0


def test_only_super_admins_change_base_url(app, client, echo_service):
    service = make_service(app, echo_service.url)
    admin = _admin_headers(client, app, "admin")
    resp = client.patch(
        f"/api/v1/admin/services/{service['name']}", headers=admin, json={"base_url": "http://127.0.0.1:1"}
    )
    assert resp.status_code == 403 and "super admin" in resp.get_json()["message"]
    # other edits by an admin still work, and sending the unchanged URL back is not a change
    same = client.patch(
        f"/api/v1/admin/services/{service['name']}",
        headers=admin,
        json={"base_url": service["base_url"], "display_name": "Renamed"},
    )
    assert same.status_code == 200, same.get_json()
    superuser = _admin_headers(client, app, "super_admin")
    resp = client.patch(
        f"/api/v1/admin/services/{service['name']}", headers=superuser, json={"base_url": "http://127.0.0.1:1"}
    )
    assert resp.status_code == 200 and resp.get_json()["base_url"] == "http://127.0.0.1:1"


def test_portal_admin_cannot_change_base_url(app, echo_service):
    service = make_service(app, echo_service.url)
    browser = signed_in(app, "admin")
    page = f"/portal/services/{service['name']}"
    resp = post(
        browser,
        page,
        {
            "display_name": "x",
            "base_url": "http://127.0.0.1:1",
            "timeout_s": "2",
            "routes": "pay, refund",
            "settings": "{}",
            "active": "y",
        },
        token_from=page,
    )
    assert resp.status_code == 400 and "super admin" in resp.get_data(as_text=True)


def test_webhook_and_daraja_urls_never_point_at_metadata(app, client):
    """The same block list guards the other URLs someone else's code will call: merchant webhooks (the worker)
    and a custom Daraja base URL (the M-Pesa microservice, with the merchant's keys)."""
    headers = _admin_headers(client, app, "super_admin")
    body = {"app_id": unique_name("c"), "company_name": "X", "email": "x@example.com"}
    resp = client.post(
        "/api/v1/admin/clients", headers=headers, json={**body, "callback_url": "http://169.254.169.254/hook"}
    )
    assert resp.status_code == 400 and "callback_url refused" in resp.get_json()["message"]
    assert client.post("/api/v1/admin/clients", headers=headers, json=body).status_code == 201
    creds = {
        "consumer_key": "k" * 10,
        "consumer_secret": "s" * 10,
        "shortcode": "174379",
        "passkey": "p" * 20,
        "transaction_type": "CustomerPayBillOnline",
        "environment": "custom",
        "base_url": "http://[fd00:ec2::254]/",
    }
    resp = client.put(f"/api/v1/admin/clients/{body['app_id']}/credentials/mpesa", headers=headers, json=creds)
    assert resp.status_code == 400 and "base_url refused" in resp.get_json()["message"]
