"""The captive page /hotspot/<app_id>, end to end over real HTTP: a new phone pays by STK push on the Daraja
simulator, the worker switches the hotspot account on through the router adapter, the page shows "connected" and
signs the device in on the hotspot's login page, so it appears in /ip/hotspot/active of the RouterOS simulator."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
import requests

from app import create_app
from simulators.hotspot_login import HotspotLoginServer, derived_mac
from tests.billing.conftest import make_isp, plan, rows, sql, subscriber
from tests.billing.test_isp_flow import worker_once

PHONE_OK, PHONE_CANCELS = "0708374149", "0700000001"


@pytest.fixture
def hotspot(routeros) -> Iterator[HotspotLoginServer]:
    server = HotspotLoginServer(routeros).start()
    yield server
    server.stop()


@pytest.fixture
def live_hs(app, live_gateway, isp_daraja, isp_mpesa_adapter, isp_router_adapter, routeros, monkeypatch):
    monkeypatch.setitem(app.config, "BILLING_DRIFT_INTERVAL_S", 3600)
    requests.post(f"{isp_daraja.base_url}/simulator/reset", timeout=5).raise_for_status()
    return make_isp(
        app,
        mpesa_url=isp_mpesa_adapter.url,
        router_url=isp_router_adapter.url,
        daraja_url=isp_daraja.base_url,
        router_port=routeros.port,
        plans=(
            plan("HOUR", duration="1 hour", price="10", profile="10M", service_type="hotspot"),
            plan("DAY", duration="1 day", price="50", profile="20M", service_type="hotspot"),
            plan("PPP", duration="30 days", price="1500", profile="20M", service_type="pppoe"),
        ),
        subscribers=(subscriber("carol", phone="254711000222", service_type="hotspot"),),
    )


def page_url(live_gateway, isp, path: str = "") -> str:
    return f"{live_gateway.url}/hotspot/{isp.app_id}{path}"


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def progress_until(browser, url: str, stages: set[str], app=None, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = browser.get(url, timeout=5).json()
        if body.get("stage") in stages:
            return body
        assert time.monotonic() < deadline, body
        if app is not None and body.get("stage") == "switching_on":
            worker_once(app)  # the router job is the worker's, as in production
        time.sleep(0.1)


def test_new_phone_pays_is_connected_and_the_device_is_signed_in(app, live_gateway, live_hs, routeros, hotspot):
    browser = requests.Session()
    entry = browser.get(
        page_url(live_gateway, live_hs),
        params={
            "mac": "02:00:7F:00:00:01",
            "ip": "127.0.0.1",
            "link-login-only": hotspot.login_url,
            "dst": "http://example.test/welcome",
        },
        timeout=5,
    )
    assert entry.status_code == 200 and entry.url == page_url(live_gateway, live_hs)  # parameters left the URL
    assert entry.headers["Cache-Control"] == "no-store" and entry.headers["Referrer-Policy"] == "no-referrer"
    assert "KES 10" in entry.text and "PPP" not in entry.text  # hotspot plans only for a new customer

    paid = browser.post(
        page_url(live_gateway, live_hs, "/pay"),
        timeout=20,
        data={"csrf_token": csrf(entry.text), "plan": "HOUR", "phone": PHONE_OK},
    )
    assert paid.status_code == 200 and paid.url.endswith("/wait"), paid.text
    done = progress_until(browser, page_url(live_gateway, live_hs, "/progress"), {"connected", "failed"}, app)
    assert done["stage"] == "connected" and done["message"].startswith("connected until ")

    page = browser.get(page_url(live_gateway, live_hs, "/done"), timeout=5).text
    password = re.search(r'data-test="new-password">([^<]+)<', page).group(1)
    assert 'data-test="new-username">254708374149<' in page
    form = re.search(r'<form method="post" action="([^"]+)" id="hotspot-login"', page).group(1)
    assert form == hotspot.login_url
    assert (
        password
        not in browser.get(page_url(live_gateway, live_hs, "/done"), timeout=5).text.split('id="hotspot-login"')[0]
    )  # shown once

    # The browser posts the form the page rendered, as its JavaScript does: the hotspot signs the device in.
    signed_in = browser.post(
        form,
        data={"username": "254708374149", "password": password, "dst": "http://example.test/welcome"},
        allow_redirects=False,
        timeout=5,
    )
    assert (signed_in.status_code, signed_in.headers["Location"]) == (302, "http://example.test/welcome")
    [active] = routeros.state()["/ip/hotspot/active"]
    assert (active["user"], active["mac-address"], active["address"]) == (
        "254708374149",
        derived_mac("127.0.0.1"),
        "127.0.0.1",
    )
    [account] = [u for u in routeros.state()["/ip/hotspot/user"] if u["name"] == "254708374149"]
    assert (account["profile"], account["disabled"]) == ("10M", "false")


def test_cancelled_payment_shows_the_reason_and_grants_nothing(app, live_gateway, live_hs, routeros):
    browser = requests.Session()
    entry = browser.get(page_url(live_gateway, live_hs), timeout=5)
    browser.post(
        page_url(live_gateway, live_hs, "/pay"),
        timeout=20,
        data={"csrf_token": csrf(entry.text), "plan": "HOUR", "phone": PHONE_CANCELS},
    )
    failed = progress_until(browser, page_url(live_gateway, live_hs, "/progress"), {"connected", "failed"})
    assert (failed["stage"], failed["message"]) == ("failed", "cancelled by the customer")
    worker_once(app)
    assert rows(app, "SELECT id FROM billing.subscriptions WHERE client_id = :c", c=live_hs.client_id) == []
    assert routeros.state()["/ip/hotspot/user"] == []
    done = browser.get(page_url(live_gateway, live_hs, "/done"), timeout=5).text
    assert 'data-test="connected"' not in done and "cancelled by the customer" in done


def test_signed_in_subscriber_sees_plan_time_left_payments_and_what_renewal_does(app, live_gateway, live_hs):
    sql(app, "SELECT 1")
    browser = requests.Session()
    entry = browser.get(page_url(live_gateway, live_hs), timeout=5)
    wrong = browser.post(
        page_url(live_gateway, live_hs, "/signin"),
        timeout=5,
        data={"csrf_token": csrf(entry.text), "username": "carol", "password": "nope-nope"},
    )
    assert wrong.status_code == 401 and "wrong username or password" in wrong.text
    ok = browser.post(
        page_url(live_gateway, live_hs, "/signin"),
        timeout=5,
        data={"csrf_token": csrf(entry.text), "username": "carol", "password": "s3cret-pppoe"},
    )
    assert ok.status_code == 200 and 'data-test="username">carol<' in ok.text
    paid = browser.post(
        page_url(live_gateway, live_hs, "/pay"),
        timeout=20,
        data={"csrf_token": csrf(ok.text), "plan": "HOUR", "phone": ""},
    )
    assert paid.url.endswith("/wait")
    progress_until(browser, page_url(live_gateway, live_hs, "/progress"), {"connected"}, app)
    page = browser.get(page_url(live_gateway, live_hs), timeout=5).text
    assert "plan HOUR" in page and 'data-test="time-left"' in page and "KES 10.00 · paid" in page
    assert "extends your HOUR plan from" in page and "replaces your HOUR plan at once" in page


@pytest.mark.parametrize(
    ("form", "status", "fragment"),
    [
        ({"plan": "HOUR", "phone": PHONE_OK}, 400, "the form expired"),  # no CSRF token
        ({"plan": "NOPE", "phone": PHONE_OK, "csrf": True}, 400, "pick one of the plans"),
        ({"plan": "HOUR", "phone": "12", "csrf": True}, 400, "phone must be a mobile number"),
        ({"plan": "HOUR", "phone": "0711000222", "csrf": True}, 409, "already has an account: sign in"),
    ],
)
def test_pay_refusals_are_shown_on_the_page(live_gateway, live_hs, form, status, fragment):
    browser = requests.Session()
    entry = browser.get(page_url(live_gateway, live_hs), timeout=5)
    if form.pop("csrf", False):
        form["csrf_token"] = csrf(entry.text)
    resp = browser.post(page_url(live_gateway, live_hs, "/pay"), data=form, timeout=10)
    assert resp.status_code == status and fragment in resp.text


def test_link_login_only_must_point_at_a_router(client, isp):
    isp_page = f"/hotspot/{isp.app_id}"
    client.get(isp_page, query_string={"link-login-only": "https://evil.example/steal", "mac": "x", "ip": "nope"})
    with client.session_transaction() as session:
        assert session[f"hs:{isp.app_id}"]["login"] == {"mac": None, "ip": None, "link_login_only": None, "dst": None}
    client.get(isp_page, query_string={"link-login-only": "http://10.5.50.1/login", "ip": "10.5.50.7"})
    with client.session_transaction() as session:
        login = session[f"hs:{isp.app_id}"]["login"]
    assert (login["link_login_only"], login["ip"]) == ("http://10.5.50.1/login", "10.5.50.7")


def test_unknown_isp_is_404(client):
    assert client.get("/hotspot/nosuchisp", headers={"Accept": "text/html"}).status_code == 404


def test_forms_are_rate_limited_per_source_address(database_url, isp):
    limited = create_app(
        {
            "DATABASE_URL": database_url,
            "TESTING": True,
            "RATELIMIT_ENABLED": True,
            "HOTSPOT_RATE_LIMIT": "3/minute",
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )
    try:
        client = limited.test_client()
        codes = [
            client.post(
                f"/hotspot/{isp.app_id}/signin",
                data={"username": "x", "password": "y"},
                environ_base={"REMOTE_ADDR": "10.9.9.9"},
            ).status_code
            for _ in range(4)
        ]
        assert codes[:3] != [429] * 3 and codes[3] == 429
        other = client.post(f"/hotspot/{isp.app_id}/signin", environ_base={"REMOTE_ADDR": "10.9.9.10"})
        assert other.status_code != 429  # another device behind the hotspot is not blocked
    finally:
        limited.extensions["db_engine"].dispose()
