"""The Daraja simulator over real loopback HTTP: OAuth, STK push validation, scripted outcomes, callbacks, query."""

from __future__ import annotations

import base64
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from simulators.daraja import EAT, OUTCOMES, SANDBOX_PASSKEY, SANDBOX_SHORTCODE, RunningSimulator

KEY, SECRET = "sim-consumer-key", "sim-consumer-secret"
# Wide enough that "still in flight" checks made right after a push hold on a loaded machine; waits for the
# outcome are conditions (wait_for), so the delays cost a second, not a flaky window.
SETTINGS = {
    "callback_delay_s": 1.0,
    "late_callback_delay_s": 4.0,
    "expire_after_s": 4.0,
    "callback_timeout_s": 1.0,
}
PUSH, QUERY, OAUTH = "/mpesa/stkpush/v1/processrequest", "/mpesa/stkpushquery/v1/query", "/oauth/v1/generate"
SUCCESS_DESC = "The service request is processed successfully."


class CallbackReceiver:
    """A loopback HTTP server that records every POST it gets and answers like a gateway would."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append({"path": self.path, "headers": dict(self.headers), "body": json.loads(raw)})
                answer = b'{"ResultCode":0,"ResultDesc":"Accepted"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/api/v1/callbacks/tok123?x=1"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def for_checkout(self, checkout_id: str) -> list[dict]:
        return [r for r in list(self.received) if r["body"]["Body"]["stkCallback"]["CheckoutRequestID"] == checkout_id]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_for(predicate: Callable[[], object], timeout: float = 15.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def settled_query(base: str, token: str, checkout_id: str) -> dict:
    """The STK query's answer once the outcome is final (until then Daraja says it is being processed)."""
    return wait_for(lambda: (r := query(base, token, checkout_id)).status_code == 200 and r.json())


@pytest.fixture(scope="module")
def simulator() -> Iterator[RunningSimulator]:
    sim = RunningSimulator(SETTINGS)
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def receiver() -> Iterator[CallbackReceiver]:
    rec = CallbackReceiver()
    yield rec
    rec.stop()


@pytest.fixture
def base(simulator: RunningSimulator) -> str:
    requests.post(f"{simulator.base_url}/simulator/reset", timeout=5).raise_for_status()
    return simulator.base_url


@pytest.fixture
def token(base: str) -> str:
    return requests.get(f"{base}{OAUTH}?grant_type=client_credentials", auth=(KEY, SECRET)).json()["access_token"]


def eat_stamp(offset: timedelta = timedelta()) -> str:
    return (datetime.now(EAT) + offset).strftime("%Y%m%d%H%M%S")


def password(timestamp: str, shortcode: str = SANDBOX_SHORTCODE, passkey: str = SANDBOX_PASSKEY) -> str:
    return base64.b64encode(f"{shortcode}{passkey}{timestamp}".encode()).decode()


def push_body(callback_url: str, phone: str = "254712345678", **overrides: object) -> dict:
    stamp = eat_stamp()
    body = {
        "BusinessShortCode": 174379,
        "Password": password(stamp),
        "Timestamp": stamp,
        "TransactionType": "CustomerPayBillOnline",
        "Amount": "1",
        "PartyA": phone,
        "PartyB": 174379,
        "PhoneNumber": phone,
        "CallBackURL": callback_url,
        "AccountReference": "INV001",
        "TransactionDesc": "Payment",
    }
    body.update(overrides)
    return body


def post(base: str, path: str, token: str, body: object) -> requests.Response:
    return requests.post(f"{base}{path}", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=5)


def push(base: str, token: str, callback_url: str, phone: str = "254712345678", **overrides: object) -> dict:
    response = post(base, PUSH, token, push_body(callback_url, phone, **overrides))
    assert response.status_code == 200, response.text
    return response.json()


def query(base: str, token: str, checkout_id: str) -> requests.Response:
    stamp = eat_stamp()
    body = {"BusinessShortCode": "174379", "Password": password(stamp), "Timestamp": stamp}
    return post(base, QUERY, token, {**body, "CheckoutRequestID": checkout_id})


def assert_fault(response: requests.Response, status: int, code: str, message: str) -> None:
    body = response.json()
    assert response.status_code == status, body
    assert (body["errorCode"], body["errorMessage"]) == (code, message)
    assert list(body) == ["requestId", "errorCode", "errorMessage"]
    assert body["requestId"]


# --- OAuth -------------------------------------------------------------------------------------------------


def test_oauth_issues_a_28_char_token_with_string_expiry(base):
    response = requests.get(f"{base}{OAUTH}?grant_type=client_credentials", auth=(KEY, SECRET))
    body = response.json()
    assert response.status_code == 200
    assert re.fullmatch(r"[A-Za-z0-9]{28}", body["access_token"])
    assert body["expires_in"] == "3599"


@pytest.mark.parametrize(
    ("query_string", "auth", "code", "message"),
    [
        ("grant_type=client_credentials", (KEY, "wrong"), "400.008.01", "Invalid Authentication passed"),
        ("grant_type=client_credentials", ("nobody", SECRET), "400.008.01", "Invalid Authentication passed"),
        ("grant_type=client_credentials", None, "400.008.01", "Invalid Authentication passed"),
        ("grant_type=password", (KEY, SECRET), "400.008.02", "Invalid grant type passed"),
        ("", (KEY, SECRET), "400.008.02", "Invalid grant type passed"),
    ],
)
def test_oauth_refusals(base, query_string, auth, code, message):
    assert_fault(requests.get(f"{base}{OAUTH}?{query_string}", auth=auth), 400, code, message)


def test_oauth_is_get_only(base):
    response = requests.post(f"{base}{OAUTH}?grant_type=client_credentials", auth=(KEY, SECRET))
    assert_fault(response, 405, "405.001", "Method Not Allowed")


def test_each_new_token_invalidates_the_previous_one(base, receiver):
    first = requests.get(f"{base}{OAUTH}?grant_type=client_credentials", auth=(KEY, SECRET)).json()["access_token"]
    second = requests.get(f"{base}{OAUTH}?grant_type=client_credentials", auth=(KEY, SECRET)).json()["access_token"]
    assert first != second
    assert_fault(post(base, PUSH, first, push_body(receiver.url)), 404, "404.001.03", "Invalid Access Token")
    assert post(base, PUSH, second, push_body(receiver.url)).status_code == 200


@pytest.mark.parametrize("authorization", [None, "Bearer ", "Bearer not-a-token", "Basic abc"])
def test_push_needs_a_valid_bearer_token(base, receiver, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = requests.post(f"{base}{PUSH}", json=push_body(receiver.url), headers=headers)
    assert_fault(response, 404, "404.001.03", "Invalid Access Token")


def test_expired_token_is_refused(receiver):
    sim = RunningSimulator({**SETTINGS, "token_ttl_s": 0.2})
    try:
        tok = requests.get(f"{sim.base_url}{OAUTH}?grant_type=client_credentials", auth=(KEY, SECRET)).json()
        assert tok["expires_in"] == "0.2"
        time.sleep(0.3)
        response = post(sim.base_url, PUSH, tok["access_token"], push_body(receiver.url))
        assert_fault(response, 404, "404.001.03", "Invalid Access Token")
    finally:
        sim.stop()


# --- Routing -----------------------------------------------------------------------------------------------


def test_unknown_path_and_wrong_method(base, token):
    assert_fault(post(base, "/mpesa/nothing/v1", token, {}), 404, "404.001.01", "Resource not found")
    response = requests.get(f"{base}{PUSH}", headers={"Authorization": f"Bearer {token}"})
    assert_fault(response, 405, "405.001", "Method Not Allowed")


# --- STK push validation -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"BusinessShortCode": "1234"}, "BusinessShortCode"),
        ({"BusinessShortCode": "12345678"}, "BusinessShortCode"),
        ({"BusinessShortCode": "17437a"}, "BusinessShortCode"),
        ({"BusinessShortCode": True}, "BusinessShortCode"),
        ({"BusinessShortCode": None}, "BusinessShortCode"),
        ({"Password": ""}, "Password"),
        ({"Timestamp": "2024010112"}, "Timestamp"),
        ({"Timestamp": "20241301000000"}, "Timestamp"),
        ({"Timestamp": 20240101000000}, "Timestamp"),
        ({"TransactionType": "CustomerPayBill"}, "TransactionType"),
        ({"Amount": "1.5"}, "Amount"),
        ({"Amount": 1.5}, "Amount"),
        ({"Amount": "10.00"}, "Amount"),
        ({"Amount": 0}, "Amount"),
        ({"Amount": 250001}, "Amount"),
        ({"Amount": "ten"}, "Amount"),
        ({"Amount": None}, "Amount"),
        ({"PartyA": "0712345678"}, "PartyA"),
        ({"PartyA": "254812345678"}, "PartyA"),
        ({"PartyB": "12"}, "PartyB"),
        ({"PhoneNumber": "25471234567"}, "PhoneNumber"),
        ({"PhoneNumber": "+254712345678"}, "PhoneNumber"),
        ({"CallBackURL": "ftp://example.com/cb"}, "CallBackURL"),
        ({"CallBackURL": "https://example.com/c b"}, "CallBackURL"),
        ({"CallBackURL": " https://example.com/cb"}, "CallBackURL"),
        ({"CallBackURL": "example.com/cb"}, "CallBackURL"),
        ({"AccountReference": ""}, "AccountReference"),
        ({"TransactionDesc": "Fourteen chars"}, "TransactionDesc"),
    ],
)
def test_push_field_validation(base, token, receiver, overrides, field):
    response = post(base, PUSH, token, push_body(receiver.url, **overrides))
    assert_fault(response, 400, "400.002.02", f"Bad Request - Invalid {field}")


OFF_CLOCK = [timedelta(hours=-3), timedelta(minutes=11), timedelta(minutes=-11), timedelta(days=-3650)]


@pytest.mark.parametrize("offset", OFF_CLOCK)
def test_any_well_formed_timestamp_with_its_password_is_accepted(base, token, receiver, offset):
    stamp = eat_stamp(offset)  # -3 h is what a client that formats UTC sends; Daraja's own samples are years old
    accepted = post(base, PUSH, token, push_body(receiver.url, Timestamp=stamp, Password=password(stamp)))
    assert accepted.status_code == 200, accepted.text
    query_body = {"BusinessShortCode": "174379", "Password": password(stamp), "Timestamp": stamp}
    answer = post(base, QUERY, token, {**query_body, "CheckoutRequestID": accepted.json()["CheckoutRequestID"]})
    assert_fault(answer, 500, "500.001.1001", "The transaction is being processed")  # not "Invalid Timestamp"


@pytest.mark.parametrize("offset", OFF_CLOCK)
def test_opt_in_window_refuses_timestamps_away_from_eat_now(receiver, offset):
    strict = RunningSimulator({**SETTINGS, "timestamp_window_s": 600})
    try:
        key = requests.get(f"{strict.base_url}{OAUTH}?grant_type=client_credentials", auth=(KEY, SECRET))
        stamp = eat_stamp(offset)
        body = push_body(receiver.url, Timestamp=stamp, Password=password(stamp))
        response = post(strict.base_url, PUSH, key.json()["access_token"], body)
        assert_fault(response, 400, "400.002.02", "Bad Request - Invalid Timestamp")
        assert post(strict.base_url, PUSH, key.json()["access_token"], push_body(receiver.url)).status_code == 200
    finally:
        strict.stop()


@pytest.mark.parametrize(
    "overrides",
    [
        {"BusinessShortCode": "174379", "PartyB": "174379", "Amount": 250000},
        {"Amount": 1, "PartyA": 254712345678, "PhoneNumber": 254712345678},
        {"TransactionType": "CustomerBuyGoodsOnline", "PartyB": "5432101", "AccountReference": "ABCDEFGHIJKL"},
        {"TransactionDesc": "Thirteen char"},
        {"Amount": 5.0},
    ],
)
def test_push_accepts_daraja_variants(base, token, receiver, overrides):
    assert post(base, PUSH, token, push_body(receiver.url, **overrides)).status_code == 200


def test_transaction_desc_is_optional(base, token, receiver):
    body = push_body(receiver.url)
    del body["TransactionDesc"]
    assert post(base, PUSH, token, body).status_code == 200


def test_push_without_json_content_type_is_invalid_shortcode(base, token, receiver):
    response = requests.post(
        f"{base}{PUSH}",
        data=json.dumps(push_body(receiver.url)),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "text/plain"},
    )
    assert_fault(response, 400, "400.002.02", "Bad Request - Invalid BusinessShortCode")


def test_wrong_password_and_unknown_merchant(base, token, receiver):
    stamp = eat_stamp()
    wrong = push_body(receiver.url, Password=password(stamp, passkey="nope"), Timestamp=stamp)
    assert_fault(post(base, PUSH, token, wrong), 500, "500.001.1001", "Wrong credentials")
    other_stamp = eat_stamp(timedelta(seconds=-5))
    mismatched = push_body(receiver.url, Password=password(stamp), Timestamp=other_stamp)
    assert_fault(post(base, PUSH, token, mismatched), 500, "500.001.1001", "Wrong credentials")
    unknown = push_body(receiver.url, BusinessShortCode="999999", Password=password(stamp, "999999"), Timestamp=stamp)
    assert_fault(post(base, PUSH, token, unknown), 500, "500.001.1001", "Merchant does not exist")


def test_accepted_push_answer(base, token, receiver):
    before = datetime.now(EAT).replace(microsecond=0)
    response = post(base, PUSH, token, push_body(receiver.url, phone="254712345678"))
    body = response.json()
    assert response.status_code == 200
    assert list(body) == [
        "MerchantRequestID",
        "CheckoutRequestID",
        "ResponseCode",
        "ResponseDescription",
        "CustomerMessage",
    ]
    assert body["ResponseCode"] == "0"
    assert body["ResponseDescription"] == body["CustomerMessage"] == "Success. Request accepted for processing"
    match = re.fullmatch(r"ws_CO_([0-9]{14})([0-9]{3})([0-9]{9})", body["CheckoutRequestID"])
    assert match
    stamp = datetime.strptime(match[1], "%d%m%Y%H%M%S").replace(tzinfo=EAT)
    assert before - timedelta(seconds=1) <= stamp <= datetime.now(EAT)
    assert match[3] == "712345678"


# --- Outcomes and callbacks ----------------------------------------------------------------------------------


def items(callback: dict) -> dict:
    """CallbackMetadata items by Name, keeping a missing Value as the marker 'absent'."""
    meta = callback["Body"]["stkCallback"]["CallbackMetadata"]["Item"]
    return {i["Name"]: i.get("Value", "absent") for i in meta}


@pytest.mark.parametrize(
    ("phone", "result_code", "callback_desc", "query_desc"),
    [
        ("254708374149", 0, SUCCESS_DESC, SUCCESS_DESC),
        ("254711111111", 0, SUCCESS_DESC, SUCCESS_DESC),  # not in the table: success
        ("254111111111", 0, SUCCESS_DESC, SUCCESS_DESC),
        ("254700000001", 1032, "Request cancelled by user", "Request Cancelled by user."),
        ("254700000003", 2001, "The initiator information is invalid.", "The initiator information is invalid."),
        (
            "254700000004",
            1,
            "The balance is insufficient for the transaction.",
            "The balance is insufficient for the transaction.",
        ),
    ],
)
def test_outcome_callback_and_query(base, token, receiver, phone, result_code, callback_desc, query_desc):
    accepted = push(base, token, receiver.url, phone=phone, Amount="7")
    checkout_id = accepted["CheckoutRequestID"]
    assert_fault(query(base, token, checkout_id), 500, "500.001.1001", "The transaction is being processed")
    (delivery,) = wait_for(lambda: receiver.for_checkout(checkout_id))
    assert delivery["path"] == "/api/v1/callbacks/tok123?x=1"  # path and query delivered intact
    assert delivery["headers"]["Content-Type"] == "application/json;charset=UTF-8"
    assert delivery["headers"]["Businessshortcode"] == "174379"
    callback = delivery["body"]["Body"]["stkCallback"]
    assert callback["MerchantRequestID"] == accepted["MerchantRequestID"]
    assert callback["ResultCode"] == result_code
    assert type(callback["ResultCode"]) is int
    assert callback["ResultDesc"] == callback_desc
    if result_code == 0:
        meta = items(delivery["body"])
        assert list(meta) == ["Amount", "MpesaReceiptNumber", "Balance", "TransactionDate", "PhoneNumber"]
        assert meta["Amount"] == 7
        assert type(meta["Amount"]) is int
        assert re.fullmatch(r"[A-Z0-9]{10}", meta["MpesaReceiptNumber"])
        assert meta["Balance"] == "absent"
        assert type(meta["TransactionDate"]) is int
        settled = datetime.strptime(str(meta["TransactionDate"]), "%Y%m%d%H%M%S").replace(tzinfo=EAT)
        assert abs(datetime.now(EAT) - settled) < timedelta(seconds=5)
        assert meta["PhoneNumber"] == int(phone)
    else:
        assert "CallbackMetadata" not in callback
    answer = query(base, token, checkout_id)
    assert answer.status_code == 200
    assert answer.json() == {
        "ResponseCode": "0",
        "ResponseDescription": "The service request has been accepted successfully",
        "MerchantRequestID": accepted["MerchantRequestID"],
        "CheckoutRequestID": checkout_id,
        "ResultCode": str(result_code),
        "ResultDesc": query_desc,
    }


@pytest.mark.parametrize("reference", ["ABCDEFGHIJKLM", "SUBSCRIBER-0001-RENEWAL-2026"])
def test_long_account_reference_is_accepted_then_fails_asynchronously(base, token, receiver, reference):
    accepted = push(base, token, receiver.url, AccountReference=reference)  # 200, as Daraja answers
    checkout_id = accepted["CheckoutRequestID"]
    (delivery,) = wait_for(lambda: receiver.for_checkout(checkout_id))
    callback = delivery["body"]["Body"]["stkCallback"]
    assert (callback["ResultCode"], callback["ResultDesc"]) == (1025, "An error occurred while sending a push request.")
    assert "CallbackMetadata" not in callback
    assert query(base, token, checkout_id).json()["ResultCode"] == "1025"


def test_unanswered_prompt_expires_with_1037_and_no_callback(base, token, receiver):
    checkout_id = push(base, token, receiver.url, phone="254700000002")["CheckoutRequestID"]
    time.sleep(SETTINGS["callback_delay_s"] + 0.1)  # past callback_delay_s: still in flight until expire_after_s
    assert_fault(query(base, token, checkout_id), 500, "500.001.1001", "The transaction is being processed")
    answer = settled_query(base, token, checkout_id)
    assert (answer["ResultCode"], answer["ResultDesc"]) == ("1037", "DS timeout user cannot be reached")
    assert receiver.for_checkout(checkout_id) == []


def test_duplicate_callback(base, token, receiver):
    checkout_id = push(base, token, receiver.url, phone="254700000005")["CheckoutRequestID"]
    first, second = wait_for(
        lambda: len(receiver.for_checkout(checkout_id)) == 2 and receiver.for_checkout(checkout_id)
    )
    assert first["body"] == second["body"]
    assert items(first["body"])["MpesaReceiptNumber"] == items(second["body"])["MpesaReceiptNumber"]


def test_late_callback_arrives_after_the_query_settles(base, token, receiver):
    checkout_id = push(base, token, receiver.url, phone="254700000006")["CheckoutRequestID"]
    assert settled_query(base, token, checkout_id)["ResultCode"] == "0"
    assert receiver.for_checkout(checkout_id) == []  # the late callback comes at late_callback_delay_s
    (late,) = wait_for(lambda: receiver.for_checkout(checkout_id))
    assert late["body"]["Body"]["stkCallback"]["ResultCode"] == 0
    # The simulator records a delivery when its POST returns, a moment after the receiver has the callback.
    deliveries = wait_for(lambda: requests.get(f"{base}/simulator/callbacks").json()["callbacks"])
    assert [c["reason"] for c in deliveries] == ["late"]


def test_settled_by_query_only(base, token, receiver):
    checkout_id = push(base, token, receiver.url, phone="254700000007")["CheckoutRequestID"]
    assert settled_query(base, token, checkout_id)["ResultCode"] == "0"
    assert receiver.for_checkout(checkout_id) == []


@pytest.mark.parametrize(
    ("phone", "code", "message"),
    [
        ("254700000008", "500.001.1001", OUTCOMES["254700000008"].reject[2]),
        ("254700000009", "500.003.02", "Spike Arrest Violation"),
    ],
)
def test_synchronous_refusals(base, token, receiver, phone, code, message):
    assert_fault(post(base, PUSH, token, push_body(receiver.url, phone=phone)), 500, code, message)


def test_subscriber_lock_until_the_outcome_is_final(base, token, receiver):
    push(base, token, receiver.url, phone="254722000001")
    response = post(base, PUSH, token, push_body(receiver.url, phone="254722000001"))
    assert_fault(response, 500, "500.001.1001", OUTCOMES["254700000008"].reject[2])
    push(base, token, receiver.url, phone="254722000002")  # another phone is not locked
    wait_for(lambda: post(base, PUSH, token, push_body(receiver.url, phone="254722000001")).status_code == 200)


def test_subscriber_lock_can_be_turned_off(receiver):
    sim = RunningSimulator({**SETTINGS, "subscriber_lock": False})
    try:
        tok = requests.get(f"{sim.base_url}{OAUTH}?grant_type=client_credentials", auth=(KEY, SECRET)).json()
        ids = {push(sim.base_url, tok["access_token"], receiver.url)["CheckoutRequestID"] for _ in range(5)}
        assert len(ids) == 5
    finally:
        sim.stop()


def test_receipts_are_unique(base, token, receiver):
    ids = [push(base, token, receiver.url, phone=f"25472300000{n}")["CheckoutRequestID"] for n in range(5)]
    receipts = {items(wait_for(lambda i=i: receiver.for_checkout(i))[0]["body"])["MpesaReceiptNumber"] for i in ids}
    assert len(receipts) == 5


def test_dead_receiver_is_recorded_not_fatal(base, token):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead_url = f"http://127.0.0.1:{sock.getsockname()[1]}/cb"
    checkout_id = push(base, token, dead_url)["CheckoutRequestID"]
    (delivery,) = wait_for(lambda: requests.get(f"{base}/simulator/callbacks").json()["callbacks"])
    assert delivery["checkout_request_id"] == checkout_id
    assert delivery["status_code"] is None
    assert "ConnectionError" in delivery["error"]


# --- Query -------------------------------------------------------------------------------------------------


def test_query_of_unknown_id(base, token):
    assert_fault(query(base, token, "ws_CO_000"), 500, "500.001.1001", "The transaction does not Exist")


@pytest.mark.parametrize(
    ("overrides", "status", "code", "message"),
    [
        ({"CheckoutRequestID": ""}, 400, "400.002.02", "Bad Request - Invalid CheckoutRequestID"),
        ({"Timestamp": "yesterday"}, 400, "400.002.02", "Bad Request - Invalid Timestamp"),
        ({"BusinessShortCode": "12"}, 400, "400.002.02", "Bad Request - Invalid BusinessShortCode"),
        ({"Password": "d3Jvbmc="}, 500, "500.001.1001", "Wrong credentials"),
    ],
)
def test_query_validation(base, token, overrides, status, code, message):
    stamp = eat_stamp()
    body = {"BusinessShortCode": "174379", "Password": password(stamp), "Timestamp": stamp, "CheckoutRequestID": "x"}
    assert_fault(post(base, QUERY, token, {**body, **overrides}), status, code, message)


def test_query_needs_a_token(base):
    assert_fault(post(base, QUERY, "nope", {}), 404, "404.001.03", "Invalid Access Token")


# --- Inspection endpoints ------------------------------------------------------------------------------------


def test_requests_are_recorded_with_authorization_masked(base, token, receiver):
    push(base, token, receiver.url)
    recorded = requests.get(f"{base}/simulator/requests").json()["requests"]
    assert [r["path"] for r in recorded] == [OAUTH, PUSH]
    assert recorded[0]["headers"]["Authorization"] == "Basic <redacted>"
    assert recorded[1]["headers"]["Authorization"] == "Bearer <redacted>"
    assert token not in json.dumps(recorded)
    assert recorded[1]["json"]["PhoneNumber"] == "254712345678"


def test_resend_callback_on_demand(base, token, receiver):
    checkout_id = push(base, token, receiver.url, phone="254700000007")["CheckoutRequestID"]
    early = requests.post(f"{base}/simulator/stk/{checkout_id}/callback")
    assert early.status_code == 409
    resend = f"{base}/simulator/stk/{checkout_id}/callback"
    sent = wait_for(lambda: (r := requests.post(resend)).status_code == 200 and r.json())
    assert (sent["reason"], sent["status_code"]) == ("manual", 200)
    (delivery,) = receiver.for_checkout(checkout_id)
    assert delivery["body"] == sent["body"]
    assert requests.post(f"{base}/simulator/stk/ws_CO_unknown/callback").status_code == 404


def test_reset_forgets_everything(base, token, receiver):
    checkout_id = push(base, token, receiver.url)["CheckoutRequestID"]
    requests.post(f"{base}/simulator/reset").raise_for_status()
    assert requests.get(f"{base}/simulator/requests").json()["requests"] == []
    assert_fault(query(base, token, checkout_id), 404, "404.001.03", "Invalid Access Token")
    time.sleep(SETTINGS["callback_delay_s"] + 0.3)  # past the moment the callback was due
    assert receiver.for_checkout(checkout_id) == []  # pending deliveries were cancelled
