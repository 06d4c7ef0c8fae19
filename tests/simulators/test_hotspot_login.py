"""The hotspot's HTTP login page beside the RouterOS simulator: a right password signs the device in
(/ip/hotspot/active) and redirects to dst; a wrong one, a disabled or unknown user gets the login page again."""

from __future__ import annotations

import pytest
import requests

from simulators.hotspot_login import HotspotLoginServer, derived_mac
from tests.routeros_fixtures import api_connect, make_simulator


@pytest.fixture
def hotspot():
    sim = make_simulator()
    server = HotspotLoginServer(sim).start()
    api = api_connect(sim)
    api.path("ip", "hotspot", "user").add(name="eve", password="eve-pass", profile="10M")
    api.close()
    yield server
    server.stop()
    sim.stop()


def test_login_signs_the_device_in_and_redirects(hotspot):
    resp = requests.post(hotspot.login_url, data={"username": "eve", "password": "eve-pass", "dst": "http://x.test/"},
                         allow_redirects=False, timeout=5)  # fmt: skip
    assert (resp.status_code, resp.headers["Location"]) == (302, "http://x.test/")
    [active] = hotspot.sim.state()["/ip/hotspot/active"]
    assert (active["user"], active["address"], active["mac-address"]) == ("eve", "127.0.0.1", derived_mac("127.0.0.1"))


@pytest.mark.parametrize(("username", "password"), [("eve", "wrong"), ("nobody", "x")])
def test_refused_login_shows_the_page_again(hotspot, username, password):
    resp = requests.post(hotspot.login_url, data={"username": username, "password": password}, timeout=5)
    assert resp.status_code == 200 and "invalid username or password" in resp.text
    assert hotspot.sim.state()["/ip/hotspot/active"] == []
    assert "password" not in hotspot.logins[-1]  # the simulator never keeps a password


def test_device_mac_can_be_set_per_address(hotspot):
    hotspot.devices["127.0.0.1"] = "AA:BB:CC:DD:EE:FF"
    requests.post(hotspot.login_url, data={"username": "eve", "password": "eve-pass"}, timeout=5)
    assert hotspot.sim.state()["/ip/hotspot/active"][0]["mac-address"] == "AA:BB:CC:DD:EE:FF"
