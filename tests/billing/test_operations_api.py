"""The operator's admin API: edit plans; search, read, edit, suspend, resume and remove subscribers; all audited,
every bad input a JSON 4xx, and every change that alters the router queued as a router job."""

from __future__ import annotations

import pytest

from tests.billing.conftest import SUBSCRIBER_PASSWORD, payment, rows, sql


def url(isp, what: str) -> str:
    return f"/api/v1/admin/clients/{isp.app_id}/{what}"


def _activate(app, isp, username="alice", code="DAY", amount="10"):
    f010 = payment(app, isp, username, code, amount)
    return sql(app, "SELECT billing.activate_paid(:a, :f, NULL, NULL, NULL)", a=isp.app_id, f=f010)


def _jobs(app, isp, username="alice"):
    return rows(
        app,
        "SELECT j.action, o.status, o.payload FROM billing.router_jobs j JOIN gateway.outbox o ON o.id = j.outbox_id "
        "WHERE j.client_id = :c AND j.username = :u ORDER BY j.outbox_id",
        c=isp.client_id,
        u=username,
    )


def _audit(app, target):
    return [
        r["action"] for r in rows(app, "SELECT action FROM gateway.audit_log WHERE target = :t ORDER BY id", t=target)
    ]


def test_plan_patch_changes_terms_and_a_new_profile_reaches_running_subscribers(app, client, admin_headers, isp):
    _activate(app, isp)
    resp = client.patch(url(isp, "plans/DAY"), json={"name": "Daily", "price": "12.50", "duration": "2 days",
                                                     "profile": "20M"}, headers=admin_headers)  # fmt: skip
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert (body["name"], body["price"], body["duration"], body["profile"], body["reprofiled"]) == (
        "Daily", "12.50", "2 days", "20M", 1)  # fmt: skip
    [job] = _jobs(app, isp)
    assert (job["action"], job["payload"]["servicepayload"]["profile"]) == ("activate", "20M")
    assert sql(app, "SELECT profile FROM billing.subscriptions WHERE client_id = :c", c=isp.client_id) == "20M"
    assert _audit(app, f"{isp.app_id}/DAY")[-1] == "billing.plan.update"
    off = client.patch(url(isp, "plans/DAY"), json={"active": False}, headers=admin_headers).get_json()
    assert off["active"] is False
    quote = sql(app, "SELECT billing.quote(:a, 'alice', 'DAY', 20)", a=isp.app_id)
    assert quote["ok"] is False and "no active plan DAY" in quote["message"]


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({}, 400, "send one or more of"),
        ({"code": "X"}, 400, "not code"),
        ({"price": "0"}, 400, "price must be greater than zero"),
        ({"duration": "soon"}, 400, "is not a PostgreSQL interval"),
        ({"active": "yes"}, 400, "active must be true or false"),
        ({"profile": "10M\u00e9"}, 400, "profile must be"),
        ([1], 400, "JSON object"),
    ],
)
def test_plan_patch_refusals(client, admin_headers, isp, body, status, fragment):
    resp = client.patch(url(isp, "plans/DAY"), json=body, headers=admin_headers)
    assert resp.status_code == status and fragment in resp.get_json()["message"]


def test_plan_patch_unknown_plan_is_404(client, admin_headers, isp):
    resp = client.patch(url(isp, "plans/NOPE"), json={"name": "x"}, headers=admin_headers)
    assert resp.status_code == 404 and resp.get_json()["status"] == "404"


def test_subscriber_search_is_paged(client, admin_headers, isp):
    for i in range(5):
        client.post(url(isp, "subscribers"), json={"username": f"user{i}", "password": "pw-123456",
                                                   "phone": f"07123456{i:02d}", "service_type": "pppoe"},
                    headers=admin_headers)  # fmt: skip
    page = client.get(url(isp, "subscribers?q=user&page=2&per_page=2"), headers=admin_headers).get_json()
    assert [s["username"] for s in page["items"]] == ["user2", "user3"]
    assert (page["total"], page["pages"], page["page"]) == (5, 3, 2)
    by_phone = client.get(url(isp, "subscribers?q=0712345603"), headers=admin_headers).get_json()
    assert [s["username"] for s in by_phone["items"]] == ["user3"]
    everyone = client.get(url(isp, "subscribers"), headers=admin_headers).get_json()
    assert everyone["total"] == 7 and "password_enc" not in everyone["items"][0]
    odd = client.get(url(isp, "subscribers?q=%25_%5C&page=-3&per_page=100000"), headers=admin_headers)
    assert odd.status_code == 200 and odd.get_json()["total"] == 0 and odd.get_json()["per_page"] == 200


def test_subscriber_detail_edit_suspend_resume_remove(app, client, admin_headers, isp):
    _activate(app, isp)
    detail = client.get(url(isp, "subscribers/alice"), headers=admin_headers).get_json()
    assert detail["now"]["state"] == "active" and len(detail["periods"]) == 1 and detail["jobs"] == []
    assert client.get(url(isp, "subscribers/nobody"), headers=admin_headers).status_code == 404

    edited = client.patch(url(isp, "subscribers/alice"), json={"phone": "0722000111", "password": "new-pass-1"},
                          headers=admin_headers)  # fmt: skip
    assert edited.status_code == 200 and edited.get_json()["phone"] == "254722000111"
    assert "new-pass-1" not in str(
        rows(app, "SELECT * FROM gateway.audit_log WHERE target = :t", t=f"{isp.app_id}/alice")
    )
    assert [j["action"] for j in _jobs(app, isp)] == ["activate"]  # the new password goes to the router now

    no_reason = client.post(url(isp, "subscribers/alice/suspend"), json={}, headers=admin_headers)
    assert no_reason.status_code == 400 and "reason is required" in no_reason.get_json()["message"]
    held = client.post(url(isp, "subscribers/alice/suspend"), json={"reason": "abuse report"}, headers=admin_headers)
    assert held.status_code == 200 and held.get_json()["hold_reason"] == "abuse report"
    jobs = _jobs(app, isp)
    assert [(j["action"], j["status"]) for j in jobs] == [("activate", "dead"), ("suspend", "pending")]
    status = sql(app, "SELECT billing.subscriber_status(:a, 'alice')", a=isp.app_id)
    assert (status["state"], status["summary"]) == ("suspended", "suspended by the operator: abuse report")
    quote = sql(app, "SELECT billing.quote(:a, 'alice', 'DAY', 10)", a=isp.app_id)
    assert quote["status"] == "403" and "suspended by the operator (abuse report)" in quote["message"]
    assert sql(app, "SELECT billing.expire_due(1000)")["expired"] == 0

    resumed = client.post(url(isp, "subscribers/alice/resume"), headers=admin_headers)
    assert resumed.status_code == 200 and resumed.get_json()["status"] == "active"
    assert [j["action"] for j in _jobs(app, isp)][-1] == "activate"  # a period runs: switched on again
    again = client.post(url(isp, "subscribers/alice/resume"), headers=admin_headers)
    assert again.status_code == 409 and "not suspended by hand" in again.get_json()["message"]

    removed = client.delete(url(isp, "subscribers/alice"), headers=admin_headers)
    assert removed.status_code == 200 and removed.get_json()["status"] == "removed"
    assert [(j["action"], j["status"]) for j in _jobs(app, isp)][-1] == ("remove", "pending")
    assert _jobs(app, isp)[-1]["payload"]["serviceurl"] == "/remove"
    detail = client.get(url(isp, "subscribers/alice"), headers=admin_headers).get_json()
    assert detail["status"] == "removed" and len(detail["periods"]) == 1  # history kept
    assert detail["now"]["state"] == "removed"
    assert client.patch(url(isp, "subscribers/alice"), json={"phone": "0700000000"},
                        headers=admin_headers).status_code == 409  # fmt: skip
    assert _audit(app, f"{isp.app_id}/alice") == [
        "billing.subscriber.create", "billing.subscriber.update", "billing.subscriber.suspend",
        "billing.subscriber.resume", "billing.subscriber.remove"]  # fmt: skip


def test_resume_without_a_running_period_only_allows_payment(app, client, admin_headers, isp):
    client.post(url(isp, "subscribers/bob/suspend"), json={"reason": "unpaid install fee"}, headers=admin_headers)
    resumed = client.post(url(isp, "subscribers/bob/resume"), headers=admin_headers).get_json()
    assert resumed["status"] == "new" and resumed["router_job"] is None
    assert [j["action"] for j in _jobs(app, isp, "bob")] == ["suspend"]


@pytest.mark.parametrize(
    ("method", "path", "body", "fragment"),
    [
        ("patch", "subscribers/alice", {}, "send phone and/or password"),
        ("patch", "subscribers/alice", {"username": "x"}, "username cannot be changed"),
        ("patch", "subscribers/alice", {"password": "short"}, "password must be 6–64"),
        ("patch", "subscribers/alice", {"phone": "12"}, "phone must be a mobile number"),
        ("post", "subscribers/alice/suspend", {"reason": 5}, "reason must be a string"),
        ("post", "subscribers/alice/suspend", {"reason": "x" * 501}, "at most 500"),
    ],
)
def test_subscriber_refusals(client, admin_headers, isp, method, path, body, fragment):
    resp = getattr(client, method)(url(isp, path), json=body, headers=admin_headers)
    assert resp.status_code == 400 and fragment in resp.get_json()["message"]


def test_writes_need_a_write_role(client, isp):
    resp = client.delete(url(isp, "subscribers/alice"))
    assert resp.status_code == 401


def test_password_is_never_returned(client, admin_headers, isp):
    body = client.get(url(isp, "subscribers/alice"), headers=admin_headers).get_data(as_text=True)
    assert SUBSCRIBER_PASSWORD not in body and "password_enc" not in body


def test_captive_progress_stages(app, isp):
    f010 = payment(app, isp, "alice", "DAY")
    progress = "SELECT billing.captive_progress(:c, :f)"
    assert sql(app, progress, c=isp.client_id, f=f010)["stage"] == "paying"
    _activate(app, isp)  # another payment; this one is still open
    sql(app, "SELECT billing.activate_paid(:a, :f, NULL, NULL, NULL)", a=isp.app_id, f=f010)
    assert sql(app, progress, c=isp.client_id, f=f010)["stage"] == "switching_on"
    sql(app, "SELECT billing.mark_provisioning(:a, :f, 'failed', 'profile missing')", a=isp.app_id, f=f010)
    assert sql(app, progress, c=isp.client_id, f=f010)["stage"] == "router_failed"
    sql(app, "SELECT billing.mark_provisioning(:a, :f, 'done', 'ok')", a=isp.app_id, f=f010)
    done = sql(app, progress, c=isp.client_id, f=f010)
    assert done["stage"] == "connected" and done["message"].startswith("connected until ")
    assert sql(app, progress, c=isp.client_id, f="nope") is None


@pytest.mark.parametrize(
    ("interval", "words"),
    [("1 hour", "1 hour"), ("30 days", "30 days"), ("1 day 12 hours", "1 day 12 hours"), ("90 seconds", "1 min 30 s"),
     ("1 mon", "1 month")],
)  # fmt: skip
def test_plan_durations_in_words(app, interval, words):
    assert sql(app, "SELECT billing.interval_words(CAST(:i AS interval))", i=interval) == words
