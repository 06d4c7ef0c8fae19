"""The `subscription` and `router` templates as generated for a client: request, callback and response branches."""

from __future__ import annotations

import pytest

from tests.billing.conftest import invoke, payment, rows, sql

CALLBACK_URL = "http://127.0.0.1:5000/api/v1/callbacks/tok"


def stk_callback(ref: str, code: int = 0, amount: float = 10, receipt: str = "SIM1234567") -> dict:
    body = {
        "MerchantRequestID": "m-1",
        "CheckoutRequestID": ref,
        "ResultCode": code,
        "ResultDesc": "The service request is processed successfully." if code == 0 else "Request cancelled by user",
    }
    if code == 0:
        body["CallbackMetadata"] = {
            "Item": [
                {"Name": "Amount", "Value": amount},
                {"Name": "MpesaReceiptNumber", "Value": receipt},
                {"Name": "Balance"},
                {"Name": "TransactionDate", "Value": 20261123190235},
                {"Name": "PhoneNumber", "Value": 254708374149},
            ]
        }
    return {"Body": {"stkCallback": body}}


def periods(app, isp):
    return rows(app, "SELECT * FROM billing.subscriptions WHERE client_id = :c ORDER BY id", c=isp.client_id)


def pay_input(isp, **fields):
    return {
        "f000": isp.isp_service,
        "f002": "pay",
        "f003": isp.app_id,
        "f006": "alice",
        "f001": "DAY",
        "f004": "10",
        "f010": "u1",
        "callback_url": CALLBACK_URL,
        **fields,
    }


# ---------------------------------------------------------------------------------------------- isp / pay request


def test_pay_request_sends_an_stk_push_for_the_plan(app, isp):
    result = invoke(app, isp, "pay", "request", pay_input(isp))
    assert result == {
        "status": "200",
        "type": "service",
        "message": "sending STK push",
        "version": "1",
        "action": "SERVICE",
        "command": "stkpush",
        "serviceurl": "/stkpush",
        "servicemethod": "POST",
        "servicecredentials": "mpesa",
        "servicepayload": {
            "amount": "10",
            "phone": "254708374149",
            "account_reference": "alice",
            "description": "DAY plan",
            "callback_url": CALLBACK_URL,
        },
    }
    # A phone in f005 wins over the one on file; paying more than the price is allowed.
    result = invoke(app, isp, "pay", "request", pay_input(isp, f005="254711000222", f004="15"))
    assert result["servicepayload"]["phone"] == "254711000222"
    assert result["servicepayload"]["amount"] == "15"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"f004": "9"}, "f004 must be at least the price of plan DAY (10.00)"),
        ({"f004": ""}, "f004 must be at least the price of plan DAY (10.00)"),
        ({"f004": "10.50"}, "f004 must be a whole number of shillings"),
        ({"f001": "NOPE"}, "f001: no active plan NOPE"),
        ({"f006": "zed"}, "f006: no subscriber zed"),
        ({"f001": "HS"}, "plan HS is for hotspot but subscriber alice uses pppoe"),
        ({"f006": "bob"}, "f005 must be a Safaricom number"),
        ({"f005": "447700900123"}, "f005 must be a Safaricom number"),
    ],
)
def test_pay_request_refusals_are_400(app, isp, fields, message):
    result = invoke(app, isp, "pay", "request", pay_input(isp, **fields))
    assert (result["status"], result["action"], result["type"]) == ("400", "ERROR", "error")
    assert result["message"].startswith(message)


# ---------------------------------------------------------------------------------------------- isp / pay callback


def test_pay_callback_success_activates_and_asks_for_the_router(app, isp):
    f010 = payment(app, isp, "alice", "DAY", ref="ws_CO_1")
    result = invoke(app, isp, "pay", "callback", pay_input(isp), unique_id=f010, data=stk_callback("ws_CO_1"))
    [period] = periods(app, isp)
    alice = isp.subscribers["alice"]["id"]
    assert result["message"].startswith("payment received; plan active until ")
    assert result["data"]["subscription"]["id"] == period["id"]
    assert {k: v for k, v in result.items() if k not in ("message", "data")} == {
        "status": "200",
        "type": "success",
        "version": "1",
        "action": "SERVICE",
        "command": "activate",
        "reference": "ws_CO_1",
        "receipt": "SIM1234567",
        "amount": "10",
        "servicename": isp.router_service,
        "serviceurl": "/activate",
        "servicemethod": "POST",
        "servicecredentials": "router",
        "servicesecrets": {"password": f"subscriber:{alice}"},
        "servicepayload": {
            "username": "alice",
            "service_type": "pppoe",
            "profile": "10M",
            "comment": f"mospay {isp.app_id}",
        },
    }
    # The same callback again (Daraja may deliver twice) buys nothing more.
    again = invoke(app, isp, "pay", "callback", pay_input(isp), unique_id=f010, data=stk_callback("ws_CO_1"))
    assert again["data"]["subscription"]["id"] == period["id"]
    assert len(periods(app, isp)) == 1


def test_pay_callback_settled_by_status_query(app, isp):
    f010 = payment(app, isp, "alice", "DAY", ref="ws_CO_2")
    pending = invoke(
        app, isp, "pay", "callback", pay_input(isp), unique_id=f010, data={"source": "stkquery", "state": "pending"}
    )
    assert (pending["action"], pending["status"]) == ("PENDING", "202")
    assert periods(app, isp) == []
    done = invoke(
        app,
        isp,
        "pay",
        "callback",
        pay_input(isp),
        unique_id=f010,
        data={"source": "stkquery", "state": "completed", "result_code": "0", "CheckoutRequestID": "ws_CO_2"},
    )
    assert done["action"] == "SERVICE" and done["reference"] == "ws_CO_2"
    assert len(periods(app, isp)) == 1


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (1032, "not activated: cancelled by the customer"),
        (2001, "not activated: wrong M-Pesa PIN entered"),
        (1, "not activated: insufficient M-Pesa balance"),
        (1037, "not activated: the customer's phone could not be reached (no answer to the prompt)"),
    ],
)
def test_pay_callback_failure_activates_nothing(app, isp, code, message):
    f010 = payment(app, isp, "alice", "DAY", ref="ws_CO_3")
    result = invoke(app, isp, "pay", "callback", pay_input(isp), unique_id=f010, data=stk_callback("ws_CO_3", code))
    assert (result["status"], result["action"], result["message"]) == ("402", "ERROR", message)
    assert periods(app, isp) == []


def test_pay_callback_with_a_different_amount_activates_nothing(app, isp):
    f010 = payment(app, isp, "alice", "DAY", ref="ws_CO_4")
    result = invoke(app, isp, "pay", "callback", pay_input(isp), unique_id=f010, data=stk_callback("ws_CO_4", amount=9))
    # OUTPUT with the paid amount: the gateway compares it, fails the payment and flags it for review.
    assert (result["action"], result["amount"]) == ("OUTPUT", "9")
    assert result["message"] == "not activated: paid 9 but 10.00 was requested"
    assert periods(app, isp) == []


def test_pay_callback_without_a_router_service_still_records_the_period(app, isp_factory):
    from tests.billing.conftest import plan, subscriber

    isp = isp_factory(plans=(plan("DAY"),), subscribers=(subscriber("alice"),), with_router_service=False)
    f010 = payment(app, isp, "alice", "DAY", ref="ws_CO_5")
    result = invoke(app, isp, "pay", "callback", pay_input(isp), unique_id=f010, data=stk_callback("ws_CO_5"))
    assert result["action"] == "OUTPUT" and result["message"].endswith("provisioning pending")
    assert len(periods(app, isp)) == 1


def test_pay_callback_rejects_a_body_that_is_not_an_stk_callback(app, isp):
    out = sql(
        app,
        "SELECT gateway.invoke('clientfn', :fn, 'callback', 'u', '{}'::json, NULL, CAST(:body AS json))",
        fn=isp.fn("pay", "callback"),
        body='{"x": 1}',
    )
    assert out["ok"] is False and "not an STK callback" in out["error"]


# ---------------------------------------------------------------------------------------------- isp / pay response


@pytest.mark.parametrize(
    ("code", "data", "status", "action", "message"),
    [
        (
            200,
            {"ResponseCode": "0", "CheckoutRequestID": "ws_CO_9", "MerchantRequestID": "m"},
            "202",
            "PENDING",
            "STK push sent",
        ),
        (409, {}, "409", "ERROR", "an M-Pesa prompt is already open"),
        (503, {}, "503", "ERROR", "M-Pesa is busy"),
        (504, {}, "504", "ERROR", "M-Pesa is busy or did not answer in time"),
        (400, {"message": "phone must be 2547…"}, "400", "ERROR", "phone must be 2547…"),
        (500, {"message": "Merchant does not exist"}, "502", "ERROR", "M-Pesa request failed: Merchant does not exist"),
    ],
)
def test_pay_response_to_the_stk_push(app, isp, code, data, status, action, message):
    result = invoke(app, isp, "pay", "response", pay_input(isp), code=code, data=data)
    assert (result["status"], result["action"]) == (status, action)
    assert result["message"].startswith(message)
    if action == "PENDING":
        assert result["reference"] == "ws_CO_9"


@pytest.mark.parametrize(
    ("code", "data", "status", "action", "provisioning"),
    [
        (200, {"status": "200", "result": "created", "username": "alice"}, "200", "OUTPUT", "done"),
        (502, {"message": "router 127.0.0.1:8728 unreachable"}, "502", "ERROR", "pending"),
        (504, {"message": "router did not answer"}, "504", "ERROR", "pending"),
        (400, {"message": "profile '10M' does not exist on the router"}, "400", "ERROR", "failed"),
    ],
)
def test_pay_response_to_the_router_follow_up(app, isp, code, data, status, action, provisioning):
    f010 = payment(app, isp, "alice", "DAY", ref="ws_CO_6")
    invoke(app, isp, "pay", "callback", pay_input(isp), unique_id=f010, data=stk_callback("ws_CO_6"))
    result = invoke(
        app, isp, "pay", "response", pay_input(isp, followup_command="activate"), unique_id=f010, code=code, data=data
    )
    assert (result["status"], result["action"]) == (status, action)
    [period] = periods(app, isp)
    assert period["provisioning"] == provisioning
    summary = sql(app, "SELECT billing.subscriber_status(:a, 'alice')", a=isp.app_id)["summary"]
    expected = {"done": "active until", "pending": "paid, provisioning pending", "failed": "paid, provisioning failed"}[
        provisioning
    ]
    assert summary.startswith(expected)
    if provisioning == "pending":
        assert result["message"].startswith("paid, provisioning pending: router unreachable")


# ---------------------------------------------------------------------------------------------- isp / status


def test_status_answers_plan_end_and_state(app, isp):
    base = {"f000": isp.isp_service, "f002": "status", "f003": isp.app_id, "f010": "s1"}
    unknown = invoke(app, isp, "status", "request", {**base, "f006": "zed"})
    assert (unknown["status"], unknown["action"], unknown["message"]) == ("404", "ERROR", "no subscriber zed")
    new = invoke(app, isp, "status", "request", {**base, "f006": "bob"})
    assert (new["status"], new["action"], new["message"]) == ("200", "OUTPUT", "bob: no plan paid yet")
    assert new["data"]["state"] == "new"
    f010 = payment(app, isp, "alice", "DAY", ref="ws_CO_7")
    invoke(app, isp, "pay", "callback", pay_input(isp), unique_id=f010, data=stk_callback("ws_CO_7"))
    active = invoke(app, isp, "status", "request", {**base, "f006": "alice"})
    [period] = periods(app, isp)
    assert active["message"].startswith("alice: paid, provisioning pending until ")
    assert active["data"]["plan"] == "DAY" and active["data"]["state"] == "active"
    assert active["data"]["ends_at"].startswith(period["ends_at"].strftime("%Y-%m-%dT%H:%M:%S"))


# ---------------------------------------------------------------------------------------------- router kind


def router_input(isp, **fields):
    return {"f000": isp.router_service, "f003": isp.app_id, "f010": "r1", **fields}


def test_router_activate_for_a_billing_subscriber(app, isp):
    alice = isp.subscribers["alice"]["id"]
    no_profile = invoke(app, isp, "activate", "request", router_input(isp, f006="alice"), service=isp.router_service)
    assert (no_profile["status"], no_profile["message"]) == (
        "400",
        "f001 must name the router profile to activate alice with",
    )
    result = invoke(
        app, isp, "activate", "request", router_input(isp, f006="alice", f001="20M"), service=isp.router_service
    )
    assert result == {
        "status": "200",
        "type": "service",
        "version": "1",
        "action": "SERVICE",
        "command": "activate",
        "message": "activate alice on the router",
        "serviceurl": "/activate",
        "servicemethod": "POST",
        "servicecredentials": "router",
        "servicesecrets": {"password": f"subscriber:{alice}"},
        "servicepayload": {
            "username": "alice",
            "service_type": "pppoe",
            "profile": "20M",
            "comment": f"mospay {isp.app_id}",
        },
    }
    # Once alice has a paid period, her plan's profile is the default.
    f010 = payment(app, isp, "alice", "DAY", ref="ws_CO_8")
    invoke(app, isp, "pay", "callback", pay_input(isp), unique_id=f010, data=stk_callback("ws_CO_8"))
    result = invoke(app, isp, "activate", "request", router_input(isp, f006="alice"), service=isp.router_service)
    assert result["servicepayload"]["profile"] == "10M"


@pytest.mark.parametrize(
    ("route", "fields", "payload"),
    [
        (
            "activate",
            {"f006": "guest", "f001": "10M", "f009": "hotspot"},
            {"username": "guest", "service_type": "hotspot", "profile": "10M", "comment": None},
        ),
        ("suspend", {"f006": "alice"}, {"username": "alice", "service_type": "pppoe"}),
        ("kick", {"f006": "guest"}, {"username": "guest", "service_type": "pppoe"}),
    ],
)
def test_router_requests(app, isp, route, fields, payload):
    result = invoke(app, isp, route, "request", router_input(isp, **fields), service=isp.router_service)
    if payload.get("comment", "") is None:
        payload["comment"] = f"mospay {isp.app_id}"
    assert (result["action"], result["serviceurl"], result["command"]) == ("SERVICE", f"/{route}", route)
    assert result["servicepayload"] == payload
    assert "servicesecrets" not in result  # only a billing subscriber's activation carries a password reference


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "f006 must be the account username"),
        ({"f006": "guest", "f009": "wifi"}, "f009 must be the service type pppoe or hotspot"),
    ],
)
def test_router_request_refusals(app, isp, fields, message):
    result = invoke(app, isp, "suspend", "request", router_input(isp, **fields), service=isp.router_service)
    assert (result["status"], result["action"]) == ("400", "ERROR")
    assert result["message"].startswith(message)


@pytest.mark.parametrize(
    ("code", "data", "status", "action", "message"),
    [
        (
            200,
            {"result": "suspended", "username": "alice", "sessions_removed": 1},
            "200",
            "OUTPUT",
            "suspend alice: suspended",
        ),
        (200, {"username": "alice", "sessions_removed": 2}, "200", "OUTPUT", "suspend alice: 2 session(s) removed"),
        (502, {"message": "router unreachable"}, "502", "ERROR", "router unreachable: router unreachable"),
        (504, {"message": "timed out"}, "504", "ERROR", "router unreachable: timed out"),
        (400, {"message": "profile missing"}, "400", "ERROR", "the router adapter refused the call: profile missing"),
        (500, {"message": "boom"}, "502", "ERROR", "the router adapter failed: boom"),
    ],
)
def test_router_response(app, isp, code, data, status, action, message):
    result = invoke(
        app,
        isp,
        "suspend",
        "response",
        router_input(isp, f006="alice"),
        code=code,
        data=data,
        service=isp.router_service,
    )
    assert (result["status"], result["action"], result["message"]) == (status, action, message)


def test_pay_callback_confirmed_by_query_takes_receipt_and_amount_from_the_held_callback(app, isp):
    f010 = payment(app, isp, "alice", "DAY", ref="ws_CO_H")
    query = {"source": "stkquery", "state": "completed", "result_code": "0", "CheckoutRequestID": "ws_CO_H"}
    held = stk_callback("ws_CO_H", amount=10, receipt="HELD000001")
    result = invoke(app, isp, "pay", "callback", pay_input(isp), unique_id=f010, data={**query, "callback": held})
    assert (result["action"], result["receipt"], result["amount"]) == ("SERVICE", "HELD000001", "10")
    # A held callback for another payment, or one that paid less, is not trusted.
    f010 = payment(app, isp, "alice", "DAY", ref="ws_CO_J")
    other = {**query, "CheckoutRequestID": "ws_CO_J", "callback": stk_callback("ws_CO_X", receipt="OTHER00001")}
    assert invoke(app, isp, "pay", "callback", pay_input(isp), unique_id=f010, data=other)["receipt"] is None
    f010 = payment(app, isp, "alice", "DAY", ref="ws_CO_K")
    less = {**query, "CheckoutRequestID": "ws_CO_K", "callback": stk_callback("ws_CO_K", amount=5)}
    result = invoke(app, isp, "pay", "callback", pay_input(isp), unique_id=f010, data=less)
    assert result["action"] == "OUTPUT" and result["message"] == "not activated: paid 5 but 10.00 was requested"


def test_amount_below_the_plan_price_is_a_400_through_the_api(client, isp):
    body = isp.merchant.fields(isp.isp_service, "pay", f001="FAST", f004="10", f006="alice")
    resp = client.post("/api/v1/payment/process", json=body, headers=isp.merchant.headers())
    assert resp.status_code == 400
    assert resp.get_json()["message"] == "f004 must be at least the price of plan FAST (20.00)"
    assert periods(app=client.application, isp=isp) == []
