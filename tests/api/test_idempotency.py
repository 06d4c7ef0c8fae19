"""f010 idempotency: replay, conflict, in-flight, and 20 concurrent duplicates making one outside call."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.factories import echo_setup


@pytest.fixture
def echo(app, echo_service):
    return echo_setup(app, echo_service.url)


def _calls(echo_service, f010: str) -> int:
    return requests.get(f"{echo_service.url}/calls/{f010}", timeout=5).json()["calls"]


def test_same_payload_replays_without_second_call(client, echo, echo_service):
    merchant, service = echo
    body = merchant.fields(service["name"], "pay", f004="10")
    first = client.post("/api/v1/payment/process", json=body, headers=merchant.headers())
    second = client.post("/api/v1/payment/process", json=body, headers=merchant.headers())
    assert first.status_code == second.status_code == 200
    assert first.get_json() == second.get_json()
    assert _calls(echo_service, body["f010"]) == 1


def test_different_payload_is_409(client, echo):
    merchant, service = echo
    body = merchant.fields(service["name"], "pay", f004="10")
    client.post("/api/v1/payment/process", json=body, headers=merchant.headers())
    resp = client.post("/api/v1/payment/process", json={**body, "f004": "11"}, headers=merchant.headers())
    assert resp.status_code == 409
    assert "different payload" in resp.get_json()["message"]


def test_in_flight_duplicate_is_409_in_progress(app, live_gateway, echo_service):
    merchant, service = echo_setup(app, echo_service.url, timeout_s=20)  # the first call sleeps 3 s
    body = merchant.fields(service["name"], "pay", f001="sleep:3")
    url = f"{live_gateway.url}/api/v1/payment/process"
    with ThreadPoolExecutor(2) as pool:
        slow = pool.submit(requests.post, url, json=body, headers=merchant.headers(), timeout=30)
        deadline = time.monotonic() + 20
        while _calls(echo_service, body["f010"]) < 1:  # the first request is at the echo service: in flight
            assert time.monotonic() < deadline and not slow.done(), "the first request never reached the service"
            time.sleep(0.02)
        dup = requests.post(url, json=body, headers=merchant.headers(), timeout=30)
        assert dup.status_code == 409
        assert "in progress" in dup.json()["message"]
        assert slow.result().status_code == 200


def test_twenty_concurrent_duplicates_make_one_call(live_gateway, echo, echo_service):
    merchant, service = echo
    body = merchant.fields(service["name"], "pay", f001="sleep:0.3", f004="5")
    url = f"{live_gateway.url}/api/v1/payment/process"
    with ThreadPoolExecutor(20) as pool:
        answers = list(
            pool.map(lambda _: requests.post(url, json=body, headers=merchant.headers(), timeout=20), range(20))
        )
    codes = sorted(a.status_code for a in answers)
    assert _calls(echo_service, body["f010"]) == 1
    assert set(codes) <= {200, 409}
    assert codes.count(200) >= 1
    ids = {a.json().get("transaction_id") for a in answers if a.status_code == 200}
    assert len(ids) == 1
