"""The router adapter over HTTP (Flask test client) against the RouterOS simulator on loopback."""

from __future__ import annotations

import logging
import threading

import pytest
import requests
from librouteros.query import Key
from werkzeug.serving import make_server

from microservices.router import routeros as router_client
from microservices.router.app import create_app
from reports import health
from simulators.routeros import SessionRefused
from tests.routeros_fixtures import (  # noqa: F401 (the *_fixture imports register pytest fixtures)
    ROUTER_PASSWORD,
    api_connect,
    make_simulator,
    routeros_api_fixture,
    routeros_sim_fixture,
    self_signed_cert,
    server_context,
)
from tests.servers import LiveServer

TOKEN = "test-internal-token"
HEADERS = {"X-Internal-Token": TOKEN}
MENUS = {
    "pppoe": ("/ppp/secret", "/ppp/active", "name"),
    "hotspot": ("/ip/hotspot/user", "/ip/hotspot/active", "user"),
}


@pytest.fixture
def client():
    app = create_app({"INTERNAL_TOKEN": TOKEN, "ROUTER_TIMEOUT_S": 2, "TESTING": True})
    return app.test_client()


def router(sim, **overrides):
    return {"host": "127.0.0.1", "port": sim.port, "username": "admin", "password": ROUTER_PASSWORD, "tls": False,
            **overrides}  # fmt: skip


def post(client, path, body, headers=HEADERS):
    response = client.post(path, json=body, headers=headers)
    return response.status_code, response.get_json()


def activate(client, sim, service_type="pppoe", **fields):
    body = {"router": router(sim), "username": "alice", "password": "pw", "service_type": service_type,
            "profile": "10M", **fields}  # fmt: skip
    return post(client, "/activate", body)


def accounts_of(sim, service_type="pppoe"):
    return sim.state()[MENUS[service_type][0]]


def sessions_of(sim, service_type="pppoe"):
    return sim.state()[MENUS[service_type][1]]


# ---------------------------------------------------------------------------------------------- activate


@pytest.mark.parametrize("service_type", ["pppoe", "hotspot"])
def test_activate_creates_then_is_idempotent_then_updates(client, routeros_sim, service_type):
    status, body = activate(client, routeros_sim, service_type, comment="plan 10M")
    assert status == 200, body
    assert (body["status"], body["result"], body["id"]) == ("200", "created", "*1")
    (account,) = accounts_of(routeros_sim, service_type)
    fields = (account["name"], account["password"], account["profile"], account["disabled"])
    assert fields == ("alice", "pw", "10M", "false")
    assert account["comment"] == "plan 10M"
    if service_type == "pppoe":
        assert account["service"] == "pppoe"

    status, body = activate(client, routeros_sim, service_type, comment="plan 10M")
    assert (status, body["result"], body["id"]) == (200, "unchanged", "*1")

    status, body = activate(client, routeros_sim, service_type, profile="20M", password="new")
    assert (status, body["result"], body["id"]) == (200, "updated", "*1")
    (account,) = accounts_of(routeros_sim, service_type)
    assert (account["profile"], account["password"]) == ("20M", "new")


@pytest.mark.parametrize("service_type", ["pppoe", "hotspot"])
def test_a_profile_change_drops_the_running_session(client, routeros_sim, service_type):
    activate(client, routeros_sim, service_type)
    routeros_sim.connect_session(service_type, "alice", password="pw")
    status, body = activate(client, routeros_sim, service_type, comment="same profile")
    assert (status, body["sessions_removed"]) == (200, 0)  # nothing about the speed changed: keep the session
    assert len(sessions_of(routeros_sim, service_type)) == 1
    status, body = activate(client, routeros_sim, service_type, profile="20M")
    assert (status, body["result"], body["sessions_removed"]) == (200, "updated", 1)
    assert sessions_of(routeros_sim, service_type) == []
    assert accounts_of(routeros_sim, service_type)[0]["profile"] == "20M"


@pytest.mark.parametrize("service_type", ["pppoe", "hotspot"])
def test_remove_deletes_the_account_and_its_session(client, routeros_sim, service_type):
    activate(client, routeros_sim, service_type)
    routeros_sim.connect_session(service_type, "alice", password="pw")
    body = {"router": router(routeros_sim), "username": "alice", "service_type": service_type}
    assert post(client, "/remove", body)[1] == {"status": "200", "result": "removed", "sessions_removed": 1,
                                                "username": "alice", "service_type": service_type}  # fmt: skip
    assert (accounts_of(routeros_sim, service_type), sessions_of(routeros_sim, service_type)) == ([], [])
    assert post(client, "/remove", body)[1]["result"] == "absent"


def test_activate_without_password_keeps_it_and_reenables(client, routeros_sim, routeros_api):
    activate(client, routeros_sim)
    secret_id = accounts_of(routeros_sim)[0][".id"]
    tuple(routeros_api.path("ppp", "secret")("disable", **{".id": secret_id}))
    body = {"router": router(routeros_sim), "username": "alice", "service_type": "pppoe", "profile": "10M"}
    status, answer = post(client, "/activate", body)
    assert (status, answer["result"]) == (200, "updated")
    (account,) = accounts_of(routeros_sim)
    assert (account["disabled"], account["password"]) == ("false", "pw")


def test_activate_new_account_without_password_is_400(client, routeros_sim):
    body = {"router": router(routeros_sim), "username": "alice", "service_type": "pppoe", "profile": "10M"}
    status, answer = post(client, "/activate", body)
    assert status == 400
    assert "send 'password'" in answer["message"]


def test_activate_fixes_a_secret_of_another_ppp_service(client, routeros_sim, routeros_api):
    routeros_api.path("ppp", "secret").add(name="alice", password="pw", service="l2tp", profile="10M")
    status, body = activate(client, routeros_sim)
    assert (status, body["result"]) == (200, "updated")
    assert accounts_of(routeros_sim)[0]["service"] == "pppoe"


def test_activate_numeric_username_and_password(client, routeros_sim):
    # librouteros turns "1234" into 1234 when it reads; the adapter must still see "unchanged".
    assert activate(client, routeros_sim, username="0712345678", password="1234")[1]["result"] == "created"
    assert activate(client, routeros_sim, username="0712345678", password="1234")[1]["result"] == "unchanged"


@pytest.mark.parametrize("service_type", ["pppoe", "hotspot"])
def test_unknown_profile_is_400(client, routeros_sim, service_type):
    status, body = activate(client, routeros_sim, service_type, profile="99M")
    assert status == 400
    assert body["status"] == "400"
    assert "profile '99M' does not exist on the router" in body["message"]
    assert accounts_of(routeros_sim, service_type) == []


def test_profile_prefix_is_not_taken_for_the_profile(client, routeros_sim):
    # The router would resolve "10" to "10M"; the adapter insists on the exact name.
    status, body = activate(client, routeros_sim, profile="10")
    assert status == 400
    assert "'10'" in body["message"]


def test_add_race_with_duplicate_name_falls_back_to_update(client, routeros_sim, routeros_api, monkeypatch):
    routeros_api.path("ppp", "secret").add(name="alice", password="old", service="pppoe", profile="20M")
    real_find = router_client.SubscriberAccounts.find
    calls = []

    def find_missing_once(self, username):
        calls.append(username)
        return [] if len(calls) == 1 else real_find(self, username)  # the first look misses the account

    monkeypatch.setattr(router_client.SubscriberAccounts, "find", find_missing_once)
    status, body = activate(client, routeros_sim)
    assert (status, body["result"], body["id"]) == (200, "updated", "*1")
    (account,) = accounts_of(routeros_sim)
    assert (account["profile"], account["password"]) == ("10M", "pw")


# ---------------------------------------------------------------------------------------------- suspend and kick


@pytest.mark.parametrize("service_type", ["pppoe", "hotspot"])
def test_suspend_disables_and_removes_sessions(client, routeros_sim, routeros_api, service_type):
    activate(client, routeros_sim, service_type)
    routeros_sim.connect_session(service_type, "alice", password="pw")
    assert len(sessions_of(routeros_sim, service_type)) == 1

    status, body = post(client, "/suspend", {"router": router(routeros_sim), "username": "alice",
                                             "service_type": service_type})  # fmt: skip
    assert status == 200, body
    assert (body["status"], body["result"], body["sessions_removed"]) == ("200", "suspended", 1)

    assert accounts_of(routeros_sim, service_type)[0]["disabled"] == "true"
    assert sessions_of(routeros_sim, service_type) == []
    accounts_menu, sessions_menu, user_field = MENUS[service_type]
    rows = tuple(routeros_api.path(*accounts_menu.split("/")[1:]).select(Key("name"), Key("disabled")))
    assert rows == ({"name": "alice", "disabled": True},)
    assert tuple(routeros_api.path(*sessions_menu.split("/")[1:]).select(Key(user_field))) == ()
    with pytest.raises(SessionRefused):
        routeros_sim.connect_session(service_type, "alice")

    status, body = post(client, "/suspend", {"router": router(routeros_sim), "username": "alice",
                                             "service_type": service_type})  # fmt: skip
    assert (status, body["result"], body["sessions_removed"]) == (200, "unchanged", 0)


def test_suspend_unknown_user_is_absent(client, routeros_sim):
    status, body = post(client, "/suspend", {"router": router(routeros_sim), "username": "ghost",
                                             "service_type": "pppoe"})  # fmt: skip
    assert (status, body["result"], body["sessions_removed"], body["id"]) == (200, "absent", 0, None)


def test_kick_removes_only_that_users_sessions(client, routeros_sim):
    activate(client, routeros_sim)
    activate(client, routeros_sim, username="bob")
    for user in ("alice", "alice", "bob"):
        routeros_sim.connect_session("pppoe", user)
    status, body = post(client, "/kick", {"router": router(routeros_sim), "username": "alice",
                                          "service_type": "pppoe"})  # fmt: skip
    assert (status, body["status"], body["sessions_removed"]) == (200, "200", 2)
    assert [s["name"] for s in sessions_of(routeros_sim)] == ["bob"]
    assert accounts_of(routeros_sim)[0]["disabled"] == "false"  # kick leaves the account alone
    status, body = post(client, "/kick", {"router": router(routeros_sim), "username": "alice",
                                          "service_type": "pppoe"})  # fmt: skip
    assert body["sessions_removed"] == 0


# ---------------------------------------------------------------------------------------------- accounts


def test_accounts_listing(client, routeros_sim, routeros_api):
    activate(client, routeros_sim)
    activate(client, routeros_sim, username="bob", profile="20M")
    post(client, "/suspend", {"router": router(routeros_sim), "username": "bob", "service_type": "pppoe"})
    routeros_api.path("ppp", "secret").add(name="vpn-staff", service="l2tp")  # not a PPPoE account
    routeros_api.path("ppp", "secret").add(name="legacy", service="any")
    activate(client, routeros_sim, "hotspot", username="carol")

    status, body = post(client, "/accounts", {"router": router(routeros_sim), "service_type": "pppoe"})
    assert status == 200
    assert body["accounts"] == [
        {"name": "alice", "profile": "10M", "disabled": False, "id": "*1"},
        {"name": "bob", "profile": "20M", "disabled": True, "id": "*2"},
        {"name": "legacy", "profile": "default", "disabled": False, "id": "*4"},
    ]
    status, body = post(client, "/accounts", {"router": router(routeros_sim), "service_type": "hotspot"})
    assert body["accounts"] == [{"name": "carol", "profile": "10M", "disabled": False, "id": "*1"}]


def test_accounts_on_an_empty_router_before_7_18(client):
    sim = make_simulator(ros_version="7.17")
    try:
        status, body = post(client, "/accounts", {"router": router(sim), "service_type": "hotspot"})
        assert (status, body["accounts"]) == (200, [])
    finally:
        sim.stop()


# ---------------------------------------------------------------------------------------------- router failures


def test_router_down_is_502(client, routeros_sim):
    routeros_sim.stop()
    status, body = activate(client, routeros_sim)
    assert status == 502
    assert body["status"] == "502"
    assert f"router 127.0.0.1:{routeros_sim.port} unreachable" in body["message"]


def test_router_not_answering_is_504(routeros_sim):
    client = create_app({"INTERNAL_TOKEN": TOKEN, "ROUTER_TIMEOUT_S": 0.2}).test_client()
    routeros_sim.unresponsive = True
    status, body = activate(client, routeros_sim)
    assert status == 504
    assert "did not answer within 0.2s" in body["message"]


def test_wrong_router_password_is_502_without_the_password(client, routeros_sim, caplog):
    body = {"router": router(routeros_sim, password="Secret-Router-Pw"), "username": "alice", "password": "pw",
            "service_type": "pppoe", "profile": "10M"}  # fmt: skip
    with caplog.at_level(logging.DEBUG):
        response = client.post("/activate", json=body, headers=HEADERS)
    assert response.status_code == 502
    assert "check the router credentials" in response.get_json()["message"]
    assert b"Secret-Router-Pw" not in response.data
    assert "Secret-Router-Pw" not in caplog.text


def test_passwords_never_reach_the_logs(client, routeros_sim, caplog):
    with caplog.at_level(logging.DEBUG):
        activate(client, routeros_sim, password="Subscriber-Pw-77")
    assert "=password=***" in caplog.text  # librouteros logged the words, masked
    assert ROUTER_PASSWORD not in caplog.text
    assert "Subscriber-Pw-77" not in caplog.text


def test_tls_router(client, tmp_path):
    cert, key, pem = self_signed_cert(tmp_path)
    sim = make_simulator(ssl_context=server_context(cert, key))
    try:
        status, body = activate(client, sim, router=router(sim, tls=True, tls_ca=pem))
        assert (status, body["result"]) == (200, "created")
        status, body = activate(client, sim, router=router(sim, tls=True))  # not trusted without the CA
        assert status == 502
        assert "TLS with router" in body["message"]
        status, body = activate(client, sim, router=router(sim, tls=True, tls_verify=False))
        assert (status, body["result"]) == (200, "unchanged")
    finally:
        sim.stop()


# ---------------------------------------------------------------------------------------------- HTTP contract


@pytest.mark.parametrize("headers", [{}, {"X-Internal-Token": "wrong"}])
@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/activate"), ("POST", "/accounts"), ("POST", "/remove"), ("POST", "/nope")]
)
def test_token_required(client, headers, method, path):
    response = client.open(path, method=method, json={}, headers=headers)
    assert response.status_code == 401
    assert response.get_json()["status"] == "401"
    assert "X-Internal-Token" in response.get_json()["message"]


def test_healthz(client):
    response = client.get("/healthz", headers=HEADERS)
    assert (response.status_code, response.get_json()["status"]) == (200, "200")


def test_healthz_needs_no_token_so_the_dashboard_can_check_it(client):
    response = client.get("/healthz")
    assert (response.status_code, response.get_json()["status"]) == (200, "200")


def test_the_dashboard_health_check_sees_the_adapter_up():
    # The gateway's check sends no token (as for the M-Pesa adapter); a 401 there showed the service "down".
    server = LiveServer(create_app({"INTERNAL_TOKEN": TOKEN})).start()
    try:
        assert health.check_one("router", server.url)["up"] is True
    finally:
        server.stop()


def test_unknown_path_and_method(client):
    assert client.post("/nope", json={}, headers=HEADERS).get_json()["status"] == "404"
    response = client.get("/activate", headers=HEADERS)
    assert (response.status_code, response.get_json()["status"]) == (405, "405")


def test_not_json_is_415(client):
    response = client.post("/activate", data="username=alice", headers=HEADERS)
    assert (response.status_code, response.get_json()["status"]) == (415, "415")


def _valid(sim):
    return {"router": router(sim), "username": "alice", "password": "pw", "service_type": "pppoe", "profile": "10M"}


BAD_BODIES = [
    (lambda b: [b], "body must be a JSON object"),
    (lambda b: b.pop("router"), "'router'"),
    (lambda b: b.update(router="127.0.0.1"), "'router'"),
    (lambda b: b["router"].pop("host"), "'router.host' is required"),
    (lambda b: b["router"].update(host=""), "'router.host' must not be empty"),
    (lambda b: b["router"].update(port="8728"), "'router.port'"),
    (lambda b: b["router"].update(port=True), "'router.port'"),
    (lambda b: b["router"].update(port=70000), "'router.port'"),
    (lambda b: b["router"].pop("username"), "'router.username' is required"),
    (lambda b: b["router"].pop("password"), "'router.password' is required"),
    (lambda b: b["router"].update(tls="yes"), "'router.tls' must be true or false"),
    (lambda b: b["router"].update(tls_ca="not a pem"), "'router.tls_ca'"),
    (lambda b: b.pop("service_type"), "'service_type' must be one of pppoe, hotspot"),
    (lambda b: b.update(service_type="l2tp"), "'service_type'"),
    (lambda b: b.pop("username"), "'username' is required"),
    (lambda b: b.update(username=42), "'username' must be a string"),
    (lambda b: b.update(username="al\nice"), "'username' must be printable ASCII"),
    (lambda b: b.update(username="jos\u00e9"), "'username' must be printable ASCII"),
    (lambda b: b.update(username="a" * 65), "'username' must be at most 64 characters"),
    (lambda b: b.update(password=1234), "'password' must be a string"),
    (lambda b: b.pop("profile"), "'profile' is required"),
    (lambda b: b.update(profile=""), "'profile' must not be empty"),
    (lambda b: b.update(comment=["x"]), "'comment' must be a string"),
]


@pytest.mark.parametrize(("mutate", "fragment"), BAD_BODIES)
def test_bad_activate_bodies_are_400(client, routeros_sim, mutate, fragment):
    body = _valid(routeros_sim)
    replaced = mutate(body)
    status, answer = post(client, "/activate", replaced if isinstance(replaced, list) else body)
    assert status == 400, answer
    assert answer["status"] == "400"
    assert fragment in answer["message"]
    assert accounts_of(routeros_sim) == []


@pytest.mark.parametrize("path", ["/suspend", "/kick", "/accounts"])
def test_other_endpoints_validate_too(client, routeros_sim, path):
    status, answer = post(client, path, {"router": router(routeros_sim), "service_type": "radius"})
    assert (status, answer["status"]) == (400, "400")
    assert "'service_type'" in answer["message"]


def test_over_real_http(routeros_sim):
    server = make_server("127.0.0.1", 0, create_app({"INTERNAL_TOKEN": TOKEN}), threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        body = {"router": router(routeros_sim), "username": "alice", "password": "pw", "service_type": "pppoe",
                "profile": "10M"}  # fmt: skip
        response = requests.post(f"{url}/activate", json=body, headers=HEADERS, timeout=5)
        assert (response.status_code, response.json()["result"]) == (200, "created")
        api = api_connect(routeros_sim)
        assert tuple(api.path("ppp", "secret").select(Key("name"), Key("service"))) == (
            {"name": "alice", "service": "pppoe"},
        )
        api.close()
    finally:
        server.shutdown()
        thread.join()
