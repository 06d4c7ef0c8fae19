"""Items 4 and 6: dry-run and shadow replay run in rolled-back transactions: no row written anywhere, no
microservice called."""

from __future__ import annotations

import requests

from tests.workshop.conftest import assert_only_request_logs, live_source, pay, row_counts

AMOUNT_X2 = (
    "'servicepayload', json_build_object('unique_id', unique_id, 'route', 'pay', 'data', data_input, "
    "'double', ((data_input->>'f004')::numeric * 2)::text)"
)


def _draft(source: str) -> str:
    """The generated request function with one more key in the service payload."""
    start = source.index("'servicepayload'")
    end = source.index("));", start) + 1
    return source[:start] + AMOUNT_X2 + source[end:]


def _echo_calls(echo_service, unique_id: str) -> int:
    return requests.get(f"{echo_service.url}/calls/{unique_id}", timeout=5).json()["calls"]


def test_dry_run_shows_call_spec_result_and_status_and_writes_nothing(app, client, admin, echo, echo_service):
    _, service, fn = echo
    payload = {"f000": service["name"], "f002": "pay", "f004": "250", "f010": "dry-1"}
    before, calls_before = row_counts(app), _echo_calls(echo_service, "dry-1")
    spec_only = client.post(f"/api/v1/admin/functions/{fn}/dry-run", headers=admin, json={"payload": payload})
    assert spec_only.status_code == 200, spec_only.get_json()
    body = spec_only.get_json()
    assert body["call_spec"]["action"] == "SERVICE" and body["call_spec"]["serviceurl"] == "/pay"
    assert body["call_spec"]["servicepayload"]["data"]["f004"] == "250"
    assert body["response_result"] is None and body["http_status"] is None
    replied = client.post(
        f"/api/v1/admin/functions/{fn}/dry-run",
        headers=admin,
        json={"payload": payload, "service_reply": {"code": 200, "data": {"message": "paid"}}},
    ).get_json()
    assert replied["response_result"]["action"] == "OUTPUT" and replied["response_result"]["message"] == "paid"
    assert replied["http_status"] == 200
    failed = client.post(
        f"/api/v1/admin/functions/response_{fn}/dry-run",
        headers=admin,
        json={"payload": payload, "service_reply": {"code": 504, "data": {}}},
    ).get_json()
    assert failed["http_status"] == 504 and failed["response_result"]["action"] == "ERROR"
    assert_only_request_logs(before, row_counts(app), 3)
    assert _echo_calls(echo_service, "dry-1") == calls_before == 0


def test_dry_run_of_a_draft_leaves_the_live_version(app, client, admin, echo):
    merchant, service, fn = echo
    live = live_source(client, admin, fn)
    before = row_counts(app)
    payload = {"f000": service["name"], "f002": "pay", "f004": "250", "f010": "dry-2"}
    drafted = client.post(
        f"/api/v1/admin/functions/{fn}/dry-run", headers=admin, json={"payload": payload, "source": _draft(live)}
    ).get_json()
    assert drafted["draft"] is True and drafted["call_spec"]["servicepayload"]["double"] == "500"
    assert_only_request_logs(before, row_counts(app), 1)
    assert live_source(client, admin, fn) == live
    assert "double" not in pay(client, merchant, service["name"], f004="250").get_json()["data"]["echo"]
    broken = client.post(
        f"/api/v1/admin/functions/{fn}/dry-run",
        headers=admin,
        json={"payload": payload, "source": live.replace("BEGIN", "BEGN")},
    )
    assert broken.status_code == 400 and broken.get_json()["line"]


def test_dry_run_bad_input(client, viewer, echo):
    _, _, fn = echo
    url = f"/api/v1/admin/functions/{fn}/dry-run"
    assert client.post(url, headers=viewer, json={"payload": {"f004": 250}}).status_code == 400
    assert client.post(url, headers=viewer, json={"payload": []}).status_code == 400
    bad_reply = client.post(url, headers=viewer, json={"payload": {"f010": "x"}, "service_reply": {"code": 9}})
    assert bad_reply.status_code == 400 and "service_reply" in bad_reply.get_json()["message"]


def test_shadow_replay_shows_differences_and_writes_nothing(app, client, admin, echo, echo_service):
    merchant, service, fn = echo
    sent = [pay(client, merchant, service["name"], f004=str(amount)) for amount in (100, 250, 400)]
    assert all(r.status_code == 200 for r in sent)
    live = live_source(client, admin, fn)
    before = row_counts(app)
    same = client.post(f"/api/v1/admin/functions/{fn}/shadow", headers=admin, json={"source": live, "last": 10})
    assert same.status_code == 200, same.get_json()
    assert same.get_json() == {"replayed": 3, "differences": []}
    changed = client.post(
        f"/api/v1/admin/functions/{fn}/shadow", headers=admin, json={"source": _draft(live), "last": 2}
    ).get_json()
    assert changed["replayed"] == 2 and len(changed["differences"]) == 2
    newest = changed["differences"][0]
    assert newest["draft"]["call_spec"]["servicepayload"]["double"] == "800"
    assert "double" not in newest["live"]["call_spec"]["servicepayload"]
    # the recorded echo reply stood in for the service: both sides saw the same final result
    assert newest["live"]["result"]["data"]["message"] == "echo pay ok" == newest["draft"]["result"]["data"]["message"]
    assert_only_request_logs(before, row_counts(app), 2)
    assert live_source(client, admin, fn) == live
    for r in sent:
        assert _echo_calls(echo_service, r.get_json()["data"]["echo"]["f010"]) == 1  # only the real payment


def test_shadow_bad_input(client, viewer, echo):
    _, _, fn = echo
    url = f"/api/v1/admin/functions/{fn}/shadow"
    assert client.post(url, headers=viewer, json={"last": 3}).status_code == 400
    assert client.post(url, headers=viewer, json={"source": "x", "last": 0}).status_code == 400
    assert client.post(url, headers=viewer, json={"source": "SELECT 1", "last": 5}).status_code == 400
