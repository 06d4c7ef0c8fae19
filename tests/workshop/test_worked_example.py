"""docs/functions.md's worked example, step by step: change a routing rule, try it, test it, ship it, roll it back."""

from __future__ import annotations

from tests.workshop.conftest import live_source, pay

RULE = """BEGIN
    IF (data_input->>'f004')::numeric > 1000 THEN
        RETURN QUERY SELECT json_build_object('status', '400', 'action', 'ERROR', 'type', 'error',
                                              'message', 'amounts above 1000 need a bank transfer');
        RETURN;
    END IF;
"""


def test_worked_example(app, client, admin, echo, tmp_path):
    merchant, service, fn = echo
    base = f"/api/v1/admin/functions/{fn}"
    names = [
        i["name"] for i in client.get(f"/api/v1/admin/functions?app_id={merchant.app_id}", headers=admin).json["items"]
    ]
    assert fn in names  # 1. read it
    source = live_source(client, admin, fn).replace("BEGIN\n", RULE, 1)  # 2. change it
    payload = {"f000": service["name"], "f002": "pay", "f004": "5000", "f010": "try-1"}
    tried = client.post(f"{base}/dry-run", headers=admin, json={"source": source, "payload": payload}).json  # 3.
    assert tried["request_result"]["action"] == "ERROR" and tried["call_spec"] is None and tried["http_status"] == 400
    for amount in ("20", "5000"):
        assert pay(client, merchant, service["name"], f004=amount).status_code == 200
    shadow = client.post(f"{base}/shadow", headers=admin, json={"source": source, "last": 50}).json
    assert shadow["replayed"] == 2 and [d["draft"]["http_status"] for d in shadow["differences"]] == [400]
    large = {"name": "large amounts are refused", "payload": payload, "expect": {"action": "ERROR", "http_status": 400}}
    small = {  # 4. test it
        "name": "small amounts go to the service",
        "payload": {**payload, "f004": "250", "f010": "t2"},
        "service_reply": {"code": 200, "data": {"message": "ok"}},
        "expect": {"request.action": "SERVICE", "request.servicepayload.data.f004": "250", "action": "OUTPUT"},
    }
    for case in (large, small):
        assert client.post(f"{base}/tests", headers=admin, json=case).status_code == 201
    assert client.post(f"{base}/tests/run", headers=admin).json["failed"] == 1
    shipped = client.put(
        base, headers=admin, json={"source": source, "reason": "ticket 42: large amounts by bank transfer"}
    )
    assert shipped.status_code == 200 and shipped.json["version"] == 2 and shipped.json["warnings"] == []  # 5. ship
    refused = pay(client, merchant, service["name"], f004="5000")
    assert refused.status_code == 400 and refused.json["message"] == "amounts above 1000 need a bank transfer"
    back = client.post(f"{base}/rollback", headers=admin, json={"version": 1, "reason": "partner not ready"})
    assert back.json == {"name": fn, "version": 3, "restored": 1, "warnings": []}  # 6. roll it back
    assert pay(client, merchant, service["name"], f004="5000").status_code == 200
    assert (
        "+    IF (data_input->>'f004')::numeric > 1000 THEN"
        in client.get(f"{base}/diff?from=1&to=2", headers=admin).json["diff"]
    )
    assert [v["origin"] for v in client.get(f"{base}/versions", headers=admin).json["items"]] == [
        "rollback",
        "api",
        "generated",
    ]
    runner = app.test_cli_runner()  # 7. keep it in git
    assert runner.invoke(args=["functions", "export", str(tmp_path), "--app-id", merchant.app_id]).exit_code == 0
    assert '"changed": []' in runner.invoke(args=["functions", "import", str(tmp_path), "--dry-run"]).output
