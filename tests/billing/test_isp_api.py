"""Read API for ISP merchants: their active plans and one subscriber's state, with client credentials, scoped to
the authenticated client."""

from __future__ import annotations

from tests.billing.conftest import make_isp, payment, plan, sql, subscriber
from tests.conftest import basic


def test_plans_lists_only_active_plans_of_this_client(app, client, isp, admin_headers):
    client.patch(f"/api/v1/admin/clients/{isp.app_id}/plans/HS", json={"active": False}, headers=admin_headers)
    resp = client.get("/api/v1/isp/plans", headers=isp.merchant.headers())
    assert resp.status_code == 200
    assert [p["code"] for p in resp.get_json()["items"]] == ["DAY", "FAST"]
    token = client.post("/api/v1/auth/token", headers=isp.merchant.headers()).get_json()["token"]
    bearer = client.get("/api/v1/isp/plans", headers={"Authorization": f"Bearer {token}"})
    assert bearer.get_json()["items"] == resp.get_json()["items"]


def test_subscriber_answer_has_status_plan_period_end_and_payments(app, client, isp):
    f010 = payment(app, isp, "alice", "DAY")
    sql(app, "SELECT billing.activate_paid(:a, :f, NULL, NULL, NULL)", a=isp.app_id, f=f010)
    body = client.get("/api/v1/isp/subscribers/alice", headers=isp.merchant.headers()).get_json()
    assert (body["status"], body["plan"], body["username"]) == ("active", "DAY", "alice")
    assert body["period_end"] and body["renewal"].startswith("paying for DAY again extends it")
    assert [p["f010"] for p in body["last_payments"]] == [f010]
    assert "password" not in str(body)


def test_other_clients_subscribers_and_bad_credentials(app, client, isp):
    other = make_isp(app, plans=(plan("X"),), subscribers=(subscriber("zoe"),))
    assert client.get("/api/v1/isp/subscribers/zoe", headers=isp.merchant.headers()).status_code == 404
    assert client.get("/api/v1/isp/subscribers/zoe", headers=other.merchant.headers()).status_code == 200
    wrong = {"Authorization": basic(isp.merchant.api_username, "wrong"), "App-ID": isp.app_id}
    resp = client.get("/api/v1/isp/plans", headers=wrong)
    assert resp.status_code == 401 and resp.get_json()["status"] == "401"
    assert client.get("/api/v1/isp/plans").status_code == 401
