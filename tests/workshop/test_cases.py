"""Item 5: tests attached to a route gate a save; they run from the API in rolled-back transactions."""

from __future__ import annotations

from tests.workshop.conftest import assert_only_request_logs, live_source, pay, row_counts

CASE = {
    "name": "asks the service for 250",
    "payload": {"f000": "svc", "f002": "pay", "f004": "250", "f010": "case-1"},
    "expect": {"action": "SERVICE", "servicepayload.data.f004": "250", "serviceurl": "/pay"},
}


def _with_reply(service: str) -> dict:
    return {
        "name": "paid reply is OUTPUT",
        "payload": {"f000": service, "f002": "pay", "f004": "250", "f010": "case-2"},
        "service_reply": {"code": 200, "data": {"message": "paid"}},
        "expect": {"action": "OUTPUT", "message": "paid", "request.action": "SERVICE", "http_status": 200},
    }


def test_attach_list_and_run(app, client, admin, viewer, echo):
    _, service, fn = echo
    created = client.post(f"/api/v1/admin/functions/{fn}/tests", headers=admin, json=CASE)
    assert created.status_code == 201, created.get_json()
    assert client.post(f"/api/v1/admin/functions/{fn}/tests", headers=admin, json=CASE).status_code == 409
    assert (
        client.post(f"/api/v1/admin/functions/{fn}/tests", headers=admin, json=_with_reply(service["name"])).status_code
        == 201
    )
    listed = client.get(f"/api/v1/admin/functions/response_{fn}/tests", headers=viewer).get_json()["items"]
    assert [t["name"] for t in listed] == ["asks the service for 250", "paid reply is OUTPUT"]  # per route
    before = row_counts(app)
    run = client.post(f"/api/v1/admin/functions/{fn}/tests/run", headers=viewer)
    assert run.status_code == 200
    assert run.get_json() == {
        "passed": 2,
        "failed": 0,
        "results": [
            {"name": "asks the service for 250", "ok": True, "message": "ok"},
            {"name": "paid reply is OUTPUT", "ok": True, "message": "ok"},
        ],
    }
    assert_only_request_logs(before, row_counts(app), 1)


def test_failing_attached_test_blocks_a_save_without_override(client, admin, echo):
    merchant, service, fn = echo
    assert client.post(f"/api/v1/admin/functions/{fn}/tests", headers=admin, json=CASE).status_code == 201
    live = live_source(client, admin, fn)
    draft = live.replace("'serviceurl', '/' || 'pay'", "'serviceurl', '/' || 'refund'")
    assert draft != live
    refused = client.put(
        f"/api/v1/admin/functions/{fn}", headers=admin, json={"source": draft, "reason": "route moved"}
    )
    assert refused.status_code == 422
    findings = refused.get_json()["findings"]
    assert findings == [
        {
            "rule": "test",
            "message": 'attached test \'asks the service for 250\' failed: serviceurl: expected "/pay", got "/refund"',
            "line": None,
        }
    ]
    assert pay(client, merchant, service["name"]).get_json()["data"]["route"] == "pay"  # old version serves
    accepted = client.put(
        f"/api/v1/admin/functions/{fn}",
        headers=admin,
        json={"source": draft, "reason": "route moved", "override_reason": "refund route takes payments now"},
    )
    assert accepted.status_code == 200 and accepted.get_json()["warnings"] == findings
    assert pay(client, merchant, service["name"]).get_json()["data"]["route"] == "refund"
    run = client.post(f"/api/v1/admin/functions/{fn}/tests/run", headers=admin).get_json()
    assert run["passed"] == 0 and run["failed"] == 1


def test_bad_test_cases_are_refused(client, admin, echo):
    _, _, fn = echo
    url = f"/api/v1/admin/functions/{fn}/tests"
    assert client.post(url, headers=admin, json={**CASE, "name": ""}).status_code == 400
    assert client.post(url, headers=admin, json={**CASE, "expect": {}}).status_code == 400
    assert client.post(url, headers=admin, json={**CASE, "payload": {"f004": 1}}).status_code == 400
    assert client.post(url, headers=admin, json={**CASE, "service_reply": {"code": "x"}}).status_code == 400
    assert client.post(url, headers=admin, json=["x"]).status_code == 400


def test_secrets_in_a_test_payload_are_stored_masked(app, client, admin, echo):
    _, _, fn = echo
    case = {**CASE, "payload": {**CASE["payload"], "f008": "hunter2-secret"}}
    created = client.post(f"/api/v1/admin/functions/{fn}/tests", headers=admin, json=case)
    assert created.status_code == 201 and created.get_json()["payload"]["f008"] == "****"
    from sqlalchemy import text

    from core import db

    with app.app_context(), db.transaction() as conn:
        stored = conn.execute(text("SELECT payload::text FROM gateway.function_tests WHERE fn_name = :f"), {"f": fn})
        assert "hunter2" not in stored.scalar()
