"""Admin API for ISP billing: plans, subscribers, subscriptions and drift, with every validation failure a 400."""

from __future__ import annotations

import pytest

from tests.billing.conftest import invoke, payment, plan, sql, subscriber
from tests.billing.test_templates import pay_input, stk_callback
from tests.factories import make_client

GOOD_PLAN = {
    "code": "DAY10",
    "name": "Daily 10 Mbps",
    "price": "50",
    "duration": "1 day",
    "profile": "10M",
    "service_type": "pppoe",
}
GOOD_SUBSCRIBER = {"username": "alice", "password": "pppoe-secret", "phone": "0708374149", "service_type": "pppoe"}


@pytest.fixture
def merchant(app):
    return make_client(app)


def url(app_id: str, what: str) -> str:
    return f"/api/v1/admin/clients/{app_id}/{what}"


def test_plan_is_created_and_listed(client, admin_headers, merchant):
    resp = client.post(url(merchant.app_id, "plans"), json=GOOD_PLAN, headers=admin_headers)
    assert resp.status_code == 201, resp.get_json()
    created = resp.get_json()
    assert {k: created[k] for k in GOOD_PLAN} == {**GOOD_PLAN, "price": "50.00", "duration": "1 day"}
    again = client.post(url(merchant.app_id, "plans"), json=GOOD_PLAN, headers=admin_headers)
    assert again.status_code == 409 and "exists" in again.get_json()["message"]
    listed = client.get(url(merchant.app_id, "plans"), headers=admin_headers).get_json()["items"]
    assert [p["code"] for p in listed] == ["DAY10"]


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"code": "bad code!"}, "code must be"),
        ({"code": None}, "code is required"),
        ({"name": ""}, "name is required"),
        ({"price": "0"}, "price must be greater than zero"),
        ({"price": "-5"}, "price must be a positive amount"),
        ({"price": "1.234"}, "price must be a positive amount"),
        ({"price": True}, "price must be a positive amount"),
        ({"duration": "2 parsecs"}, "is not a PostgreSQL interval"),
        ({"duration": "-1 day"}, "duration must be longer than 0"),
        ({"duration": "0 seconds"}, "duration must be longer than 0"),
        ({"duration": 3600}, "duration must be a string"),
        ({"profile": ""}, "profile is required"),
        ({"profile": "10M\u00e9"}, "profile must be the router profile name"),
        ({"service_type": "wifi"}, "service_type must be one of pppoe, hotspot"),
    ],
)
def test_plan_validation_is_400(client, admin_headers, merchant, change, fragment):
    resp = client.post(url(merchant.app_id, "plans"), json={**GOOD_PLAN, **change}, headers=admin_headers)
    assert resp.status_code == 400, resp.get_json()
    assert resp.get_json()["status"] == "400"
    assert fragment in resp.get_json()["message"]


def test_subscriber_is_created_without_echoing_the_password(app, client, admin_headers, merchant):
    resp = client.post(url(merchant.app_id, "subscribers"), json=GOOD_SUBSCRIBER, headers=admin_headers)
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["username"] == "alice" and body["phone"] == "254708374149" and body["status"] == "new"
    assert "password" not in str(body) and GOOD_SUBSCRIBER["password"] not in str(body)
    stored = sql(app, "SELECT password_enc FROM billing.subscribers WHERE client_id = :c", c=merchant.id)
    assert GOOD_SUBSCRIBER["password"] not in stored
    listed = client.get(url(merchant.app_id, "subscribers"), headers=admin_headers).get_json()["items"]
    assert [(s["username"], s["now"]["state"]) for s in listed] == [("alice", "new")]
    dup = client.post(url(merchant.app_id, "subscribers"), json=GOOD_SUBSCRIBER, headers=admin_headers)
    assert dup.status_code == 409


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"username": "has space"}, "username must be"),
        ({"username": None}, "username is required"),
        ({"password": "short"}, "password must be 6–64 printable ASCII"),
        ({"password": None}, "password must be 6–64 printable ASCII"),
        ({"password": "pässwörd1"}, "password must be 6–64 printable ASCII"),
        ({"phone": "12345"}, "phone must be a mobile number"),
        ({"phone": 712345678}, "phone must be a string"),
        ({"service_type": None}, "service_type must be one of pppoe, hotspot"),
    ],
)
def test_subscriber_validation_is_400(client, admin_headers, merchant, change, fragment):
    resp = client.post(url(merchant.app_id, "subscribers"), json={**GOOD_SUBSCRIBER, **change}, headers=admin_headers)
    assert resp.status_code == 400, resp.get_json()
    assert fragment in resp.get_json()["message"]


def test_unknown_client_is_404_and_other_failures(client, admin_headers):
    assert client.post(url("nosuchclient", "plans"), json=GOOD_PLAN, headers=admin_headers).status_code == 404
    assert client.get(url("nosuchclient", "subscriptions"), headers=admin_headers).status_code == 404
    assert client.post(url("nosuchclient", "plans"), json=GOOD_PLAN).status_code == 401
    resp = client.post(url("nosuchclient", "plans"), data="x", content_type="text/plain", headers=admin_headers)
    assert resp.status_code == 415


def test_viewer_may_read_but_not_write(app, client, merchant):
    from tests.conftest import basic
    from tests.factories import make_admin

    username, password = make_admin(app, "viewer")
    token = client.post("/api/v1/admin/auth/token", headers={"Authorization": basic(username, password)})
    viewer = {"Authorization": f"Bearer {token.get_json()['token']}"}
    assert client.get(url(merchant.app_id, "plans"), headers=viewer).status_code == 200
    assert client.post(url(merchant.app_id, "plans"), json=GOOD_PLAN, headers=viewer).status_code == 403


def test_subscriptions_are_listed_and_filtered(app, client, admin_headers, isp_factory):
    isp = isp_factory(plans=(plan("DAY"),), subscribers=(subscriber("alice"), subscriber("carol")))
    for name, ref in (("alice", "ws_A"), ("carol", "ws_C")):
        f010 = payment(app, isp, name, "DAY", ref=ref)
        invoke(app, isp, "pay", "callback", pay_input(isp, f006=name), unique_id=f010, data=stk_callback(ref))
    everything = client.get(url(isp.app_id, "subscriptions"), headers=admin_headers).get_json()
    assert everything["total"] == 2 and [s["username"] for s in everything["items"]] == ["carol", "alice"]
    item = everything["items"][1]
    assert (item["plan"], item["status"], item["provisioning"], item["price"]) == ("DAY", "active", "pending", "10.00")
    alice = client.get(url(isp.app_id, "subscriptions") + "?username=alice&status=active", headers=admin_headers)
    assert [s["username"] for s in alice.get_json()["items"]] == ["alice"]
    expired = client.get(url(isp.app_id, "subscriptions") + "?status=expired", headers=admin_headers).get_json()
    assert expired["items"] == [] and expired["total"] == 0
    bad = client.get(url(isp.app_id, "subscriptions") + "?status=paused", headers=admin_headers)
    assert bad.status_code == 400


def test_drift_endpoints(client, admin_headers, isp_factory):
    isp = isp_factory(plans=(plan("DAY"),))
    assert client.get(url(isp.app_id, "drift"), headers=admin_headers).get_json() == {"items": []}
    # No subscribers yet: nothing to reconcile, and the answer says why.
    resp = client.post(url(isp.app_id, "drift/check"), headers=admin_headers)
    assert resp.status_code == 200
    assert resp.get_json()["routers"] == 0 and resp.get_json()["message"].startswith("nothing to check")
