"""End to end: an ISP client pays through /api/v1/payment/process (Daraja simulator → M-Pesa adapter → callback),
the worker switches the PPPoE account on through the router adapter (librouteros → RouterOS simulator), and
switches it off and drops the session when the plan ends. Everything runs for real on loopback."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
import requests
from librouteros.query import Key

from admin import services
from billing import catalogue, queue
from core import db
from tests.billing.conftest import SUBSCRIBER_PASSWORD, plan, rows, sql
from tests.factories import ACTOR
from tests.routeros_fixtures import api_connect


def pay(live_gateway, isp, *, plan: str = "QUICK", phone: str = "254708374149", amount: str = "10") -> dict:
    body = isp.merchant.fields(isp.isp_service, "pay", f001=plan, f004=amount, f005=phone, f006="alice")
    resp = requests.post(
        f"{live_gateway.url}/api/v1/payment/process", json=body, headers=isp.merchant.headers(), timeout=20
    )
    assert resp.status_code == 202, resp.text
    assert resp.json()["action"] == "PENDING"
    return body


def settled(app, f010: str, timeout: float = 8.0) -> dict:
    """The transaction once the callback (or a status query) has settled it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        [txn] = rows(app, "SELECT * FROM gateway.transactions WHERE f010 = :f", f=f010)
        if txn["state"] in ("completed", "failed", "timed_out"):
            return txn
        time.sleep(0.05)
    raise AssertionError(f"transaction {f010} is still {txn['state']}")


def worker_once(app) -> dict:
    result = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def status(live_gateway, isp) -> dict:
    body = isp.merchant.fields(isp.isp_service, "status", f006="alice")
    resp = requests.post(
        f"{live_gateway.url}/api/v1/payment/process", json=body, headers=isp.merchant.headers(), timeout=10
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


def accounts(sim, name: str = "alice") -> list[dict]:
    return [s for s in sim.state()["/ppp/secret"] if s["name"] == name]


def periods(app, isp) -> list[dict]:
    return rows(app, "SELECT * FROM billing.subscriptions WHERE client_id = :c ORDER BY starts_at", c=isp.client_id)


def followup_job(app, txn_id: int) -> dict:
    [job] = rows(app, "SELECT * FROM gateway.outbox WHERE transaction_id = :t AND kind = 'service_call'", t=txn_id)
    return job


@pytest.fixture(autouse=True)
def _no_drift_unless_asked(app, monkeypatch):
    # Drift repair is exercised on purpose below; elsewhere it would only add router traffic.
    monkeypatch.setitem(app.config, "BILLING_DRIFT_INTERVAL_S", 3600)


def test_paid_plan_switches_the_account_on_and_expiry_switches_it_off(app, live_gateway, live_isp, routeros):
    body = pay(live_gateway, live_isp)  # plan QUICK: 2 seconds, profile 10M
    txn = settled(app, body["f010"])
    assert txn["state"] == "completed" and txn["receipt"]
    assert txn["flags"]["followup"] == "pending"
    assert accounts(routeros) == []  # the router is switched by the worker's durable job, never fire-and-forget

    worker_once(app)
    [account] = accounts(routeros)
    assert (account["disabled"], account["profile"], account["service"]) == ("false", "10M", "pppoe")
    assert account["password"] == SUBSCRIBER_PASSWORD
    routeros.connect_session("pppoe", "alice", password=SUBSCRIBER_PASSWORD)
    assert [s["name"] for s in routeros.state()["/ppp/active"]] == ["alice"]
    assert status(live_gateway, live_isp)["message"].startswith("alice: active until ")
    assert followup_job(app, txn["id"])["status"] == "delivered"
    assert sql(app, "SELECT flags->>'followup' FROM gateway.transactions WHERE id = :t", t=txn["id"]) == "done"

    [period] = periods(app, live_isp)
    assert period["ends_at"] - period["starts_at"] == dt.timedelta(seconds=2)
    while sql(app, "SELECT now() < :e", e=period["ends_at"]):
        time.sleep(0.1)
    counts = worker_once(app)
    assert counts["billing"]["suspended"] >= 1
    [account] = accounts(routeros)
    assert account["disabled"] == "true"
    assert routeros.state()["/ppp/active"] == []  # disabling alone would have left the session up
    now = status(live_gateway, live_isp)
    assert now["data"]["state"] == "suspended" and now["message"].startswith("alice: suspended since ")


@pytest.mark.parametrize("phone", ["254700000001", "254700000003"], ids=["cancelled", "wrong-pin"])
def test_cancelled_or_failed_payment_activates_nothing(app, live_gateway, live_isp, routeros, phone):
    body = pay(live_gateway, live_isp, phone=phone)
    txn = settled(app, body["f010"])
    assert txn["state"] == "failed" and txn["reason"].startswith("not activated: ")
    worker_once(app)
    assert periods(app, live_isp) == []
    assert accounts(routeros) == []
    assert (
        rows(app, "SELECT id FROM gateway.outbox WHERE client_id = :c AND kind = 'service_call'", c=live_isp.client_id)
        == []
    )
    assert status(live_gateway, live_isp)["message"] == "alice: no plan paid yet"


def test_router_down_during_activation_is_retried_until_enabled(app, live_gateway, live_isp, routeros):
    routeros.stop()
    body = pay(live_gateway, live_isp, plan="HOUR")  # 1 hour, profile 20M
    txn = settled(app, body["f010"])
    assert txn["state"] == "completed"

    worker_once(app)
    job = followup_job(app, txn["id"])
    assert (job["status"], job["attempts"], job["last_status"]) == ("pending", 1, 502)
    assert sql(app, "SELECT :at > now()", at=job["next_attempt_at"])  # backing off, not hammering the router
    assert status(live_gateway, live_isp)["message"].startswith("alice: paid, provisioning pending until ")
    assert periods(app, live_isp)[0]["provisioning"] == "pending"

    routeros.start()  # the router is back on the same port
    sql(app, "UPDATE gateway.outbox SET next_attempt_at = now() WHERE id = :i", i=job["id"])  # the backoff elapsed
    worker_once(app)
    [account] = accounts(routeros)
    assert (account["disabled"], account["profile"]) == ("false", "20M")
    job = followup_job(app, txn["id"])
    assert (job["status"], job["attempts"]) == ("delivered", 2)
    assert periods(app, live_isp)[0]["provisioning"] == "done"
    assert status(live_gateway, live_isp)["message"].startswith("alice: active until ")


def test_two_payments_in_a_row_extend_instead_of_overlapping(
    app, live_gateway, live_isp, routeros, admin_headers, client
):
    first = settled(app, pay(live_gateway, live_isp, plan="HOUR")["f010"])
    second = settled(app, pay(live_gateway, live_isp, plan="HOUR")["f010"])
    assert first["state"] == second["state"] == "completed"
    p1, p2 = periods(app, live_isp)
    assert (p1["transaction_id"], p2["transaction_id"]) == (first["id"], second["id"])
    assert p2["starts_at"] == p1["ends_at"]
    assert p2["ends_at"] - p1["starts_at"] == dt.timedelta(hours=2)
    worker_once(app)
    [account] = accounts(routeros)
    assert (account["disabled"], account["profile"]) == ("false", "20M")
    now = status(live_gateway, live_isp)["data"]
    assert now["ends_at"].startswith(p2["ends_at"].strftime("%Y-%m-%dT%H:%M:%S"))
    listed = client.get(f"/api/v1/admin/clients/{live_isp.app_id}/subscriptions", headers=admin_headers).get_json()
    assert listed["total"] == 2 and {s["provisioning"] for s in listed["items"]} == {"done"}


def test_drift_repair_undoes_manual_changes_and_a_router_reset(app, live_gateway, live_isp, routeros, monkeypatch):
    settled(app, pay(live_gateway, live_isp, plan="HOUR")["f010"])
    worker_once(app)
    api = api_connect(routeros)
    try:
        secrets = api.path("ppp", "secret")
        [alice] = tuple(secrets.select(Key(".id")).where(Key("name") == "alice"))
        secrets.update(**{".id": alice[".id"], "disabled": True})  # someone switched a paying customer off…
        secrets.add(name="freeloader", password="x1", service="pppoe", profile="20M")  # …and one on for free
    finally:
        api.close()

    monkeypatch.setitem(app.config, "BILLING_DRIFT_INTERVAL_S", 0)
    counts = worker_once(app)
    assert counts["billing"]["drift"]["differences"] == 2
    assert accounts(routeros)[0]["disabled"] == "false"
    assert accounts(routeros, "freeloader")[0]["disabled"] == "true"
    reports = rows(
        app,
        "SELECT username, kind, repair FROM billing.drift_reports WHERE client_id = :c ORDER BY id",
        c=live_isp.client_id,
    )
    assert [(r["username"], r["kind"], r["repair"]) for r in reports] == [
        ("alice", "disabled", "activate"),
        ("freeloader", "unknown_account", "suspend"),
    ]

    routeros.reset()  # a factory reset: every account gone
    worker_once(app)
    [account] = accounts(routeros)
    assert (account["disabled"], account["profile"], account["password"]) == ("false", "20M", SUBSCRIBER_PASSWORD)
    assert rows(
        app,
        "SELECT kind FROM billing.drift_reports WHERE client_id = :c ORDER BY id DESC LIMIT 1",
        c=live_isp.client_id,
    ) == [{"kind": "missing"}]


def test_an_unconfirmed_callback_buys_nothing_until_the_status_query_confirms(app, live_gateway, live_isp, routeros):
    # Production holds unsigned "paid" callbacks until Daraja's status query agrees (confirm_with_query).
    with app.app_context(), db.transaction() as conn:
        services.update_service(conn, live_isp.isp_service, {"settings": {"confirm_with_query": True}}, ACTOR)
    body = pay(live_gateway, live_isp, plan="HOUR")
    deadline = time.monotonic() + 5
    while not rows(
        app, "SELECT 1 FROM gateway.transactions WHERE f010 = :f AND flags ? 'unconfirmed_callback'", f=body["f010"]
    ):
        assert time.monotonic() < deadline, "the success callback never arrived"
        time.sleep(0.05)
    assert periods(app, live_isp) == []  # a forged or premature callback must not buy access
    assert status(live_gateway, live_isp)["message"] == "alice: no plan paid yet"

    worker_once(app)  # the status query confirms; the activation job runs in the same pass
    txn = settled(app, body["f010"])
    assert txn["state"] == "completed" and txn["receipt"]
    [period] = periods(app, live_isp)
    assert period["transaction_id"] == txn["id"] and period["provisioning"] == "done"
    [account] = accounts(routeros)
    assert (account["disabled"], account["profile"]) == ("false", "20M")


@pytest.mark.parametrize(
    "forged",
    [
        {"Body": {"stkCallback": {"ResultCode": 0}}},
        {"source": "stkquery", "state": "completed", "result_code": "0"},
    ],
)
def test_a_forged_paid_callback_buys_no_plan_and_no_router_access(
    app, live_gateway, live_isp, isp_daraja, routeros, forged
):
    """Issue 13: with the callback URL, {"ResultCode": 0} used to activate a plan and the router account."""
    body = pay(live_gateway, live_isp, plan="HOUR", phone="254700000007")  # this customer never pays
    seen = requests.get(f"{isp_daraja.base_url}/simulator/requests", timeout=5).json()["requests"]
    url = [r["json"]["CallBackURL"] for r in seen if (r.get("json") or {}).get("CallBackURL")][-1]
    resp = requests.post(url, json=forged, timeout=10)
    assert resp.status_code == 400, resp.text
    [txn] = rows(app, "SELECT * FROM gateway.transactions WHERE f010 = :f", f=body["f010"])
    assert txn["state"] == "pending"
    assert periods(app, live_isp) == []
    assert status(live_gateway, live_isp)["message"] == "alice: no plan paid yet"
    assert all(a["disabled"] == "true" for a in accounts(routeros)) or accounts(routeros) == []


def test_renewal_on_a_faster_plan_sets_the_profile_and_drops_the_running_session(app, live_gateway, live_isp, routeros):
    with app.app_context(), db.transaction() as conn:
        catalogue.create_plan(conn, live_isp.app_id, plan("SLOW", duration="1 hour", profile="10M"), ACTOR)
    slow = settled(app, pay(live_gateway, live_isp, plan="SLOW")["f010"])
    worker_once(app)
    assert accounts(routeros)[0]["profile"] == "10M"
    routeros.connect_session("pppoe", "alice", password=SUBSCRIBER_PASSWORD)
    assert "replaces" in status(live_gateway, live_isp)["data"]["renewal"]

    fast = settled(app, pay(live_gateway, live_isp, plan="HOUR")["f010"])  # 20M, paid while SLOW runs
    assert fast["state"] == "completed"
    old, new = periods(app, live_isp)
    assert (old["transaction_id"], old["status"]) == (slow["id"], "replaced")  # replaced at once, not queued
    assert new["transaction_id"] == fast["id"] and new["starts_at"] == old["ends_at"]
    assert new["ends_at"] - new["starts_at"] == dt.timedelta(hours=1)
    worker_once(app)
    [account] = accounts(routeros)
    assert (account["disabled"], account["profile"]) == ("false", "20M")
    assert routeros.state()["/ppp/active"] == []  # the running session kept the old speed until dropped
    assert status(live_gateway, live_isp)["data"]["plan"] == "HOUR"


def test_manual_suspend_drops_the_session_resume_reenables_and_remove_deletes(
    app, live_gateway, live_isp, routeros, client, admin_headers
):
    settled(app, pay(live_gateway, live_isp, plan="HOUR")["f010"])
    worker_once(app)
    routeros.connect_session("pppoe", "alice", password=SUBSCRIBER_PASSWORD)
    base = f"/api/v1/admin/clients/{live_isp.app_id}/subscribers/alice"

    assert client.post(f"{base}/suspend", json={"reason": "abuse"}, headers=admin_headers).status_code == 200
    worker_once(app)
    assert accounts(routeros)[0]["disabled"] == "true" and routeros.state()["/ppp/active"] == []

    assert client.post(f"{base}/resume", headers=admin_headers).status_code == 200
    worker_once(app)
    assert (accounts(routeros)[0]["disabled"], accounts(routeros)[0]["profile"]) == ("false", "20M")
    with app.app_context():
        assert queue.router_account(live_isp.app_id, "alice")["message"] == "enabled, profile 20M"
    routeros.connect_session("pppoe", "alice", password=SUBSCRIBER_PASSWORD)

    assert client.delete(base, headers=admin_headers).status_code == 200
    worker_once(app)
    assert accounts(routeros) == [] and routeros.state()["/ppp/active"] == []
    assert status(live_gateway, live_isp)["data"]["state"] == "removed"
