"""The adapter's HTTP face, driven through Flask's test client against the real Daraja simulator."""

from __future__ import annotations

import time

import pytest

from tests.microservices.conftest import (
    INTERNAL_TOKEN,
    OTHER_PASSKEY,
    OTHER_SHORTCODE,
    SIMULATOR_SETTINGS,
    closed_port,
    sim_requests,
)

PUSH = "/mpesa/stkpush/v1/processrequest"


def assert_error(response, status: int, fragment: str, error_code: str | None = None) -> dict:
    body = response.get_json()
    assert response.status_code == status, body
    assert body["status"] == str(status)
    assert fragment in body["message"]
    assert body["error_code"] == error_code
    assert set(body) == {"status", "message", "error_code"}
    return body


# --- Guard and plumbing ------------------------------------------------------------------------------------


def test_healthz_needs_no_token(service):
    response = service.test_client().get("/healthz")
    assert (response.status_code, response.get_json()) == (200, {"status": "ok"})


@pytest.mark.parametrize("token", [None, "", "wrong-token", INTERNAL_TOKEN + "x"])
def test_internal_token_is_required(call, push_body, sim, token):
    assert_error(call("/stkpush", push_body, token=token), 401, "X-Internal-Token")
    assert sim_requests(sim) == []


def test_not_json_is_415(service):
    response = service.test_client().post(
        "/stkpush", data="amount=10", headers={"X-Internal-Token": INTERNAL_TOKEN, "Content-Type": "text/plain"}
    )
    assert_error(response, 415, "Content-Type: application/json")


@pytest.mark.parametrize("body", [[], "text", 42])
def test_body_must_be_an_object(call, body):
    assert_error(call("/stkpush", body), 400, "JSON object")


def test_unknown_path_and_wrong_method_are_json(service):
    client = service.test_client()
    assert_error(client.get("/nope", headers={"X-Internal-Token": INTERNAL_TOKEN}), 404, "POST /stkpush")
    assert_error(client.get("/stkpush", headers={"X-Internal-Token": INTERNAL_TOKEN}), 405, "not allowed")


# --- STK push ----------------------------------------------------------------------------------------------


def test_push_accepted(call, push_body, sim):
    response = call("/stkpush", push_body)
    body = response.get_json()
    assert response.status_code == 200, body
    assert set(body) == {
        "ResponseCode",
        "MerchantRequestID",
        "CheckoutRequestID",
        "ResponseDescription",
        "CustomerMessage",
    }
    assert body["ResponseCode"] == "0"
    assert body["CheckoutRequestID"].startswith("ws_CO_")
    assert body["CheckoutRequestID"].endswith("712345678")
    assert body["CustomerMessage"] == "Success. Request accepted for processing"


@pytest.mark.parametrize(
    ("phone", "expected"),
    [
        ("0712345678", "254712345678"),
        ("+254712345678", "254712345678"),
        ("254712345678", "254712345678"),
        ("712345678", "254712345678"),
        ("0112345678", "254112345678"),
    ],
)
def test_phone_is_normalised_before_daraja(call, push_body, sim, phone, expected):
    push_body["phone"] = phone
    assert call("/stkpush", push_body).status_code == 200
    sent = sim_requests(sim, PUSH)[-1]["json"]
    assert sent["PartyA"] == sent["PhoneNumber"] == expected


@pytest.mark.parametrize(
    "phone",
    ["", "0812345678", "071234567", "07123456789", "+255712345678", "254812345678", "phone", "0712-34x-678", 712345678],
)
def test_bad_phone_is_400_listing_the_accepted_forms(call, push_body, sim, phone):
    push_body["phone"] = phone
    assert_error(call("/stkpush", push_body), 400, "07XXXXXXXX, 01XXXXXXXX, +2547XXXXXXXX")
    assert sim_requests(sim, PUSH) == []


@pytest.mark.parametrize(
    ("amount", "sent"), [("10", 10), ("10.00", 10), ("10.0", 10), (" 25 ", 25), ("1", 1), ("250000", 250000), (7, 7)]
)
def test_good_amounts(call, push_body, sim, amount, sent):
    push_body["amount"] = amount
    assert call("/stkpush", push_body).status_code == 200
    assert sim_requests(sim, PUSH)[-1]["json"]["Amount"] == sent


@pytest.mark.parametrize(
    ("amount", "fragment"),
    [
        ("10.5", "whole shillings only"),
        ("10.05", "whole shillings only"),
        ("0", "between 1 and 250000"),
        ("250001", "between 1 and 250000"),
        ("-5", "whole number of shillings"),
        ("1e3", "whole number of shillings"),
        ("ten", "whole number of shillings"),
        ("", "whole number of shillings"),
        (None, "whole number of shillings"),
        (10.5, "whole number of shillings"),
        (True, "whole number of shillings"),
    ],
)
def test_bad_amounts_are_400(call, push_body, amount, fragment):
    push_body["amount"] = amount
    assert_error(call("/stkpush", push_body), 400, fragment)


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("account_reference", "ABCDEFGHIJKLM", "1-12 letters or digits"),
        ("account_reference", "INV-001", "1-12 letters or digits"),
        ("account_reference", "", "1-12 letters or digits"),
        ("account_reference", None, "1-12 letters or digits"),
        ("description", "Fourteen chars", "at most 13 characters"),
        ("description", 5, "at most 13 characters"),
        ("callback_url", "ftp://example.com/cb", "http(s) URL"),
        ("callback_url", "http://example.com/c b", "http(s) URL"),
        ("callback_url", "/relative", "http(s) URL"),
        ("callback_url", None, "callback_url is required"),
        ("credentials", None, "credentials must be an object"),
    ],
)
def test_bad_fields_are_400(call, push_body, sim, field, value, fragment):
    push_body[field] = value
    assert_error(call("/stkpush", push_body), 400, fragment)
    assert sim_requests(sim) == []


@pytest.mark.parametrize(("reference", "description"), [("ABCDEFGHIJKL", "Thirteen char"), ("A1", "")])
def test_limits_are_inclusive(call, push_body, sim, reference, description):
    push_body.update(account_reference=reference, description=description)
    assert call("/stkpush", push_body).status_code == 200
    sent = sim_requests(sim, PUSH)[-1]["json"]
    assert sent["AccountReference"] == reference
    assert sent["TransactionDesc"] == (description or "Payment")


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("consumer_key", "", "credentials.consumer_key is required"),
        ("consumer_secret", None, "credentials.consumer_secret is required"),
        ("passkey", "", "credentials.passkey is required"),
        ("shortcode", "1234", "5-7 digit"),
        ("shortcode", "17437a", "5-7 digit"),
        ("party_b", "12", "credentials.party_b"),
        ("transaction_type", "CustomerPayBill", "CustomerPayBillOnline, CustomerBuyGoodsOnline"),
        ("base_url", "sandbox.safaricom.co.ke", "http(s) URL"),
        ("base_url", None, "credentials.base_url is required"),
    ],
)
def test_bad_credentials_are_400(call, push_body, field, value, fragment):
    push_body["credentials"][field] = value
    assert_error(call("/stkpush", push_body), 400, fragment)


# --- Daraja failures as the gateway sees them ----------------------------------------------------------------


def test_lock_is_409(call, push_body):
    push_body["phone"] = "254700000008"
    assert_error(call("/stkpush", push_body), 409, "already open on this phone", "500.001.1001")


def test_spike_arrest_is_503(call, push_body):
    push_body["phone"] = "254700000009"
    assert_error(call("/stkpush", push_body), 503, "retry later", "500.003.02")


def test_wrong_passkey_is_502(call, push_body):
    push_body["credentials"]["passkey"] = OTHER_PASSKEY
    assert_error(call("/stkpush", push_body), 502, "check the shortcode and passkey", "500.001.1001")


def test_other_merchant_with_its_own_passkey_works(call, push_body):
    push_body["credentials"].update(shortcode=OTHER_SHORTCODE, passkey=OTHER_PASSKEY)
    assert call("/stkpush", push_body).status_code == 200


def test_unreachable_daraja_is_502(call, push_body):
    push_body["credentials"]["base_url"] = f"http://127.0.0.1:{closed_port()}"
    assert_error(call("/stkpush", push_body), 502, "unreachable")


def test_slow_daraja_is_504(make_service, start_simulator, push_body):
    slow = start_simulator(stk_response_delay_s=1.0)
    push_body["credentials"]["base_url"] = slow.base_url
    client = make_service(DARAJA_READ_TIMEOUT_S=0.2).test_client()
    response = client.post("/stkpush", json=push_body, headers={"X-Internal-Token": INTERNAL_TOKEN})
    assert_error(response, 504, "did not answer the STK push within 0.2 s")


# --- STK query ---------------------------------------------------------------------------------------------


def query_body(credentials: dict, checkout_id: str) -> dict:
    return {"credentials": credentials, "checkout_request_id": checkout_id}


def _final_query(call, credentials: dict, checkout_id: str, timeout: float = 15.0) -> dict:
    """Poll /stkquery until the outcome is final (200 and no longer pending)."""
    deadline = time.monotonic() + timeout
    while True:
        response = call("/stkquery", query_body(credentials, checkout_id))
        body = response.get_json()
        if response.status_code == 200 and body["state"] != "pending":
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("phone", "state", "result_code"),
    [
        ("254708374149", "completed", "0"),
        ("254700000001", "failed", "1032"),
        ("254700000003", "failed", "2001"),
        ("254700000004", "failed", "1"),
        ("254700000007", "completed", "0"),
    ],
)
def test_query_states(call, push_body, credentials, phone, state, result_code):
    push_body["phone"] = phone
    checkout_id = call("/stkpush", push_body).get_json()["CheckoutRequestID"]
    pending = call("/stkquery", query_body(credentials, checkout_id)).get_json()
    assert pending == {
        "state": "pending",
        "result_code": None,
        "result_desc": "The transaction is being processed",
        "MerchantRequestID": None,
        "CheckoutRequestID": checkout_id,
    }
    body = _final_query(call, credentials, checkout_id)
    assert (body["state"], body["result_code"]) == (state, result_code)
    assert body["MerchantRequestID"]
    assert isinstance(body["result_desc"], str)


def test_query_of_an_unknown_id_is_pending(call, credentials):
    body = call("/stkquery", query_body(credentials, "ws_CO_000000000000000000000000")).get_json()
    assert (body["state"], body["result_desc"]) == ("pending", "The transaction does not Exist")


def test_unanswered_prompt_stays_pending_then_fails_1037(call, push_body, credentials):
    push_body["phone"] = "254700000002"
    checkout_id = call("/stkpush", push_body).get_json()["CheckoutRequestID"]
    time.sleep(SIMULATOR_SETTINGS["callback_delay_s"] + 0.1)  # past callback_delay_s, before expire_after_s
    assert call("/stkquery", query_body(credentials, checkout_id)).get_json()["state"] == "pending"
    body = _final_query(call, credentials, checkout_id)
    assert (body["state"], body["result_code"], body["result_desc"]) == (
        "failed",
        "1037",
        "DS timeout user cannot be reached",
    )


@pytest.mark.parametrize("checkout_id", [None, "", "ws CO 1", "x" * 65, 12])
def test_bad_checkout_id_is_400(call, credentials, checkout_id):
    assert_error(call("/stkquery", query_body(credentials, checkout_id)), 400, "checkout_request_id")


def test_query_with_wrong_passkey_is_502_not_pending(call, credentials):
    credentials["passkey"] = "wrong"
    assert_error(call("/stkquery", query_body(credentials, "ws_CO_1")), 502, "passkey", "500.001.1001")
