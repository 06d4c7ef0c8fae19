"""The Daraja client: password and timestamp, OAuth and the shared token cache, error mapping, query states."""

from __future__ import annotations

import base64
import re
import threading
import time
from datetime import UTC, datetime, timedelta

import psycopg2
import pytest
import requests

from config import DEV_ENCRYPTION_KEY
from core.crypto import SecretBox
from microservices.mpesa.daraja import (
    DarajaClient,
    basic_auth_header,
    interpret_query,
    parse_expires_in,
)
from microservices.mpesa.errors import MpesaError, from_daraja
from microservices.mpesa.password import EAT, eat_timestamp, stk_password
from microservices.mpesa.payloads import parse_push, parse_query
from microservices.mpesa.phone import mask_msisdn, normalise_msisdn
from microservices.mpesa.token_cache import FreshToken, MemoryTokenCache, PostgresTokenCache
from simulators.daraja import SANDBOX_PASSKEY, SANDBOX_SHORTCODE
from tests.microservices.conftest import (
    CONSUMER_KEY,
    CONSUMER_SECRET,
    NO_STK_KEY,
    NO_STK_SECRET,
    closed_port,
    sim_requests,
)

OAUTH = "/oauth/v1/generate"
PUSH = "/mpesa/stkpush/v1/processrequest"
QUERY = "/mpesa/stkpushquery/v1/query"


class CountingSession(requests.Session):
    """A real session that counts the requests it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.sent = 0

    def request(self, *args: object, **kwargs: object) -> requests.Response:
        self.sent += 1
        return super().request(*args, **kwargs)


@pytest.fixture
def client():
    created: list[DarajaClient] = []

    def make(cache=None, **kwargs) -> DarajaClient:
        kwargs.setdefault("retry_backoff_s", 0.01)
        created.append(DarajaClient(kwargs.pop("session", requests.Session()), cache or MemoryTokenCache(), **kwargs))
        return created[-1]

    yield make
    for c in created:
        c.close()


# --- Password and timestamp ------------------------------------------------------------------------------


def test_password_is_base64_of_shortcode_passkey_timestamp():
    password = stk_password("174379", SANDBOX_PASSKEY, "20210628092408")
    assert base64.b64decode(password).decode() == "174379" + SANDBOX_PASSKEY + "20210628092408"


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2024, 1, 1, 21, 30, 5, tzinfo=UTC), "20240102003005"),  # crosses midnight in Nairobi
        (datetime(2024, 6, 30, 0, 0, 0, tzinfo=UTC), "20240630030000"),
        (datetime(2024, 6, 30, 3, 0, 0, tzinfo=EAT), "20240630030000"),
    ],
)
def test_timestamp_is_east_africa_time(moment, expected):
    assert eat_timestamp(moment) == expected


def test_timestamp_now_is_utc_plus_three():
    stamp = datetime.strptime(eat_timestamp(), "%Y%m%d%H%M%S")
    utc_now = datetime.now(UTC).replace(tzinfo=None)
    assert abs((stamp - utc_now) - timedelta(hours=3)) < timedelta(seconds=5)


def test_push_on_the_wire_carries_matching_password_and_eat_timestamp(client, sim, push_body):
    push_body["credentials"].update(transaction_type="CustomerBuyGoodsOnline", party_b="5432101")
    client().stk_push(parse_push(push_body))
    sent = sim_requests(sim, PUSH)[-1]["json"]
    assert re.fullmatch(r"[0-9]{14}", sent["Timestamp"])
    stamp = datetime.strptime(sent["Timestamp"], "%Y%m%d%H%M%S").replace(tzinfo=EAT)
    assert abs(datetime.now(EAT) - stamp) < timedelta(seconds=30)
    assert base64.b64decode(sent["Password"]).decode() == SANDBOX_SHORTCODE + SANDBOX_PASSKEY + sent["Timestamp"]
    assert sent["BusinessShortCode"] == SANDBOX_SHORTCODE
    assert sent["PartyA"] == sent["PhoneNumber"] == "254712345678"
    assert sent["PartyB"] == "5432101"
    assert sent["TransactionType"] == "CustomerBuyGoodsOnline"
    assert sent["Amount"] == 10
    assert (sent["AccountReference"], sent["TransactionDesc"]) == ("INV001", "Internet")


def test_party_b_defaults_to_the_shortcode(client, sim, push_body):
    client().stk_push(parse_push(push_body))
    assert sim_requests(sim, PUSH)[-1]["json"]["PartyB"] == SANDBOX_SHORTCODE


# --- Phone numbers (the HTTP-level 400s are in test_mpesa_service.py) ----------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0712345678", "254712345678"),
        ("+254712345678", "254712345678"),
        ("254712345678", "254712345678"),
        ("712345678", "254712345678"),
        ("0112345678", "254112345678"),
        ("+254112345678", "254112345678"),
        ("112345678", "254112345678"),
        ("0712 345 678", "254712345678"),
        ("+254-712-345-678", "254712345678"),
    ],
)
def test_phone_forms_normalise(raw, expected):
    assert normalise_msisdn(raw) == expected


def test_masked_phone_keeps_prefix_and_tail():
    assert mask_msisdn("254712345678") == "25471****678"


# --- OAuth -------------------------------------------------------------------------------------------------


def test_basic_header_is_base64_key_colon_secret():
    header = basic_auth_header("key", "s3cr:et")
    scheme, encoded = header.split(" ")
    assert scheme == "Basic"
    assert base64.b64decode(encoded).decode() == "key:s3cr:et"


def test_oauth_request_shape(client, sim, credentials):
    token = client().fetch_token(parse_query({"credentials": credentials, "checkout_request_id": "x"}).credentials)
    assert len(token.access_token) == 28
    assert token.expires_in == 3599
    (oauth,) = sim_requests(sim, OAUTH)
    assert oauth["method"] == "GET"
    assert oauth["args"] == {"grant_type": "client_credentials"}
    assert oauth["headers"]["Authorization"] == "Basic <redacted>"  # the simulator accepted our Basic credentials


@pytest.mark.parametrize(("value", "expected"), [("3599", 3599), (3599, 3599), (3599.0, 3599), (" 120 ", 120)])
def test_expires_in_accepts_string_and_number(value, expected):
    assert parse_expires_in(value) == expected


@pytest.mark.parametrize("value", [None, "soon", True, [3599], "inf", "nan"])
def test_expires_in_rejects_garbage(value):
    with pytest.raises(ValueError, match="expires_in"):
        parse_expires_in(value)


def test_numeric_expires_in_from_daraja_works(client, start_simulator, push_body):
    numeric = start_simulator(expires_in_number=True)
    push_body["credentials"]["base_url"] = numeric.base_url
    assert client().stk_push(parse_push(push_body))["ResponseCode"] == "0"
    assert (
        requests.get(
            f"{numeric.base_url}{OAUTH}?grant_type=client_credentials", auth=(CONSUMER_KEY, CONSUMER_SECRET)
        ).json()["expires_in"]
        == 3599
    )


def test_wrong_consumer_secret_is_a_502_naming_the_key_and_secret(client, push_body):
    push_body["credentials"]["consumer_secret"] = "wrong"
    with pytest.raises(MpesaError) as err:
        client().stk_push(parse_push(push_body))
    assert (err.value.http_status, err.value.error_code) == (502, "400.008.01")
    assert "consumer key and consumer secret" in err.value.message


def test_token_is_reused_across_pushes(client, sim, push_body):
    adapter = client()
    for _ in range(2):
        adapter.stk_push(parse_push(push_body))
    assert len(sim_requests(sim, OAUTH)) == 1
    assert len(sim_requests(sim, PUSH)) == 2


def test_token_is_refreshed_before_it_expires(client, start_simulator, push_body):
    short = start_simulator(token_ttl_s=63)  # usable for 3 s with the 60 s margin: room for two pushes under load
    push_body["credentials"]["base_url"] = short.base_url
    adapter = client()
    adapter.stk_push(parse_push(push_body))
    adapter.stk_push(parse_push(push_body))
    assert len(sim_requests(short, OAUTH)) == 1
    time.sleep(3.1)  # the token's usable life is wall-clock time: nothing to wait on but the clock
    adapter.stk_push(parse_push(push_body))
    assert len(sim_requests(short, OAUTH)) == 2


def test_invalidated_token_is_refreshed_once_and_the_push_retried(client, sim, push_body):
    adapter = client()
    adapter.stk_push(parse_push(push_body))
    # Someone else fetches a token for the same app: ours is now invalid (portal FAQ).
    requests.get(f"{sim.base_url}{OAUTH}?grant_type=client_credentials", auth=(CONSUMER_KEY, CONSUMER_SECRET))
    answer = adapter.stk_push(parse_push(push_body))
    assert answer["ResponseCode"] == "0"
    seen = [r["path"] for r in sim_requests(sim)]
    assert seen == [OAUTH, PUSH, OAUTH, PUSH, OAUTH, PUSH]
    assert len(sim.state.pushes) == 2  # the refused push created nothing


def test_a_second_invalid_token_answer_is_not_retried_again(client, sim, push_body):
    push_body["credentials"].update(consumer_key=NO_STK_KEY, consumer_secret=NO_STK_SECRET)
    with pytest.raises(MpesaError) as err:
        client().stk_push(parse_push(push_body))
    assert (err.value.http_status, err.value.error_code) == (502, "404.001.03")
    assert "M-Pesa Express" in err.value.message
    assert [r["path"] for r in sim_requests(sim)] == [OAUTH, PUSH, OAUTH, PUSH]


# --- Daraja errors -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("http_status", "code", "message", "expected_status", "hint"),
    [
        (400, "400.002.02", "Bad Request - Invalid PhoneNumber", 400, "Invalid PhoneNumber"),
        (500, "500.001.1001", "Wrong credentials", 502, "shortcode and passkey"),
        (500, "500.001.1001", "[MerchantValidate] - Wrong credentials", 502, "shortcode and passkey"),
        (500, "500.001.1001", "Merchant does not exist", 502, "shortcode and passkey"),
        (500, "500.001.1001", "Unable to lock subscriber, a transaction is already in process", 409, "wait"),
        (500, "500.003.02", "Spike Arrest Violation", 503, "retry later"),
        (500, "500.003.03", "Quota Violation", 503, "retry later"),
        (404, "404.001.03", "Invalid Access Token", 502, "M-Pesa Express"),
        (401, "401.002.01", "Error Occurred - Invalid Access Token", 502, "M-Pesa Express"),
        (400, "400.008.01", "Invalid Authentication passed", 502, "consumer key"),
        (404, "404.001.01", "Resource not found", 502, "base_url"),
        (405, "405.001", "Method Not Allowed", 502, "base_url"),
        (500, "500.003.1001", "Internal Server Error", 502, "HTTP 500"),
    ],
)
def test_daraja_error_map(http_status, code, message, expected_status, hint):
    error = from_daraja(http_status, {"requestId": "r", "errorCode": code, "errorMessage": message}, "the STK push")
    assert error.http_status == expected_status
    assert error.error_code == code
    assert hint in error.message


@pytest.mark.parametrize(
    ("phone", "expected_status", "code"),
    [("254700000008", 409, "500.001.1001"), ("254700000009", 503, "500.003.02")],
)
def test_simulated_refusals_map(client, push_body, phone, expected_status, code):
    push_body["phone"] = phone
    with pytest.raises(MpesaError) as err:
        client().stk_push(parse_push(push_body))
    assert (err.value.http_status, err.value.error_code) == (expected_status, code)


@pytest.mark.parametrize(
    ("credential_changes", "daraja_message"),
    [({"passkey": "not-the-passkey"}, "Wrong credentials"), ({"shortcode": "999999"}, "Merchant does not exist")],
)
def test_merchant_credential_errors_are_502(client, push_body, credential_changes, daraja_message):
    push_body["credentials"].update(credential_changes)
    with pytest.raises(MpesaError) as err:
        client().stk_push(parse_push(push_body))
    assert err.value.http_status == 502
    assert daraja_message in err.value.message
    assert "check the shortcode and passkey" in err.value.message


def test_daraja_validation_error_is_400_with_darajas_message(client, sim, push_body):
    push = parse_push(push_body)
    bypassing_our_checks = type(push)(**{**push.__dict__, "amount": 0})
    with pytest.raises(MpesaError) as err:
        client().stk_push(bypassing_our_checks)
    assert (err.value.http_status, err.value.error_code) == (400, "400.002.02")
    assert "Bad Request - Invalid Amount" in err.value.message


def test_unreachable_daraja_is_502_and_the_push_is_sent_once(client, push_body):
    push_body["credentials"]["base_url"] = f"http://127.0.0.1:{closed_port()}"
    push = parse_push(push_body)
    session = CountingSession()
    adapter = client(session=session)
    adapter.cache.refresh(push.credentials.cache_key, lambda: FreshToken("seeded-token", 3600), None)
    with pytest.raises(MpesaError) as err:
        adapter.stk_push(push)
    assert err.value.http_status == 502
    assert "unreachable" in err.value.message
    assert session.sent == 1  # never retried: a resent push is a second payment


def test_query_is_retried_on_connection_errors(client, credentials):
    credentials["base_url"] = f"http://127.0.0.1:{closed_port()}"
    query = parse_query({"credentials": credentials, "checkout_request_id": "ws_CO_1"})
    session = CountingSession()
    adapter = client(session=session, query_attempts=2)
    adapter.cache.refresh(query.credentials.cache_key, lambda: FreshToken("seeded-token", 3600), None)
    with pytest.raises(MpesaError) as err:
        adapter.stk_query(query)
    assert err.value.http_status == 502
    assert session.sent == 2


def test_slow_daraja_is_504(client, start_simulator, push_body):
    slow = start_simulator(stk_response_delay_s=1.0)
    push_body["credentials"]["base_url"] = slow.base_url
    with pytest.raises(MpesaError) as err:
        client(read_timeout_s=0.2).stk_push(parse_push(push_body))
    assert err.value.http_status == 504
    assert "do not resend" in err.value.message


def test_wrong_base_path_is_502(client, sim, push_body):
    push_body["credentials"]["base_url"] = sim.base_url + "/nowhere"
    with pytest.raises(MpesaError) as err:
        client().stk_push(parse_push(push_body))
    assert (err.value.http_status, err.value.error_code) == (502, "404.001.01")


# --- STK query ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("http_status", "body", "state", "result_code"),
    [
        (500, {"errorCode": "500.001.1001", "errorMessage": "The transaction is being processed"}, "pending", None),
        (500, {"errorCode": "500.001.1001", "errorMessage": "The transaction does not Exist"}, "pending", None),
        (200, {"errorCode": "500.001.1001", "errorMessage": ""}, "pending", None),
        (200, {"ResponseCode": "0", "ResultCode": "4999", "ResultDesc": "still under processing"}, "pending", "4999"),
        (200, {"ResponseCode": "0", "ResultCode": "0", "ResultDesc": "ok"}, "completed", "0"),
        (200, {"ResponseCode": "0", "ResultCode": 0, "ResultDesc": "ok"}, "completed", "0"),
        (
            200,
            {"ResponseCode": "0", "ResultCode": "1032", "ResultDesc": "Request Cancelled by user."},
            "failed",
            "1032",
        ),
        (200, {"ResponseCode": "0", "ResultCode": "1037", "ResultDesc": "DS timeout"}, "failed", "1037"),
        (200, {"ResponseCode": "0", "ResultCode": "2001", "ResultDesc": "wrong PIN"}, "failed", "2001"),
        (200, {"ResponseCode": "0", "ResultCode": 1, "ResultDesc": "insufficient"}, "failed", "1"),
        (200, {"ResponseCode": "0", "ResultCode": "SFC_IC0003", "ResultDesc": "no operator"}, "failed", "SFC_IC0003"),
    ],
)
def test_query_answer_map(http_status, body, state, result_code):
    result = interpret_query(http_status, body, "ws_CO_1")
    assert (result.state, result.result_code) == (state, result_code)
    assert result.checkout_request_id == "ws_CO_1"


@pytest.mark.parametrize(
    ("body", "expected_status"),
    [
        ({"errorCode": "500.001.1001", "errorMessage": "Wrong credentials"}, 502),
        ({"errorCode": "400.002.02", "errorMessage": "Bad Request - Invalid CheckoutRequestID"}, 400),
        ({"errorCode": "500.003.02", "errorMessage": "Spike Arrest Violation"}, 503),
        ({"ResponseCode": "0"}, 502),
    ],
)
def test_query_answers_about_our_call_raise(body, expected_status):
    with pytest.raises(MpesaError) as err:
        interpret_query(500, body, "ws_CO_1")
    assert err.value.http_status == expected_status


def test_query_follows_a_push_to_completion(client, push_body, credentials):
    adapter = client()
    checkout_id = adapter.stk_push(parse_push(push_body))["CheckoutRequestID"]
    query = parse_query({"credentials": credentials, "checkout_request_id": checkout_id})
    first = adapter.stk_query(query)
    assert (first.state, first.result_desc) == ("pending", "The transaction is being processed")
    deadline = time.monotonic() + 15
    while (final := adapter.stk_query(query)).state == "pending":  # final after callback_delay_s
        assert time.monotonic() < deadline, "the push never settled"
        time.sleep(0.05)
    assert (final.state, final.result_code) == ("completed", "0")
    assert final.merchant_request_id


# --- Shared PostgreSQL token cache -------------------------------------------------------------------------


def db_cache(url: str, **kwargs) -> PostgresTokenCache:
    return PostgresTokenCache(url, SecretBox(DEV_ENCRYPTION_KEY), **kwargs)


def test_token_is_shared_through_the_database_and_stored_encrypted(client, sim, push_body, token_db):
    first, second = client(db_cache(token_db)), client(db_cache(token_db))
    first.stk_push(parse_push(push_body))
    second.stk_push(parse_push(push_body))
    assert len(sim_requests(sim, OAUTH)) == 1
    with psycopg2.connect(token_db) as conn, conn.cursor() as cur:
        cur.execute("SELECT cache_key, access_token_enc, expires_at - now() FROM gateway.daraja_tokens")
        ((key, stored, remaining),) = cur.fetchall()
    conn.close()
    current = sim.state.current_token[CONSUMER_KEY]
    assert key == parse_push(push_body).credentials.cache_key
    assert current not in stored
    assert SecretBox(DEV_ENCRYPTION_KEY).decrypt(stored) == current
    assert timedelta(seconds=3500) < remaining <= timedelta(seconds=3599)


def test_concurrent_instances_fetch_one_token(client, sim, push_body, token_db):
    adapters = [client(db_cache(token_db)) for _ in range(5)]
    push = parse_push(push_body)
    errors: list[Exception] = []

    def run(adapter: DarajaClient) -> None:
        try:
            adapter.stk_push(push)
        except MpesaError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(a,)) for a in adapters]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert errors == []
    assert len(sim_requests(sim, OAUTH)) == 1
    assert len(sim_requests(sim, PUSH)) == 5


def test_database_cache_refreshes_an_invalidated_token_once(client, sim, push_body, token_db):
    first, second = client(db_cache(token_db)), client(db_cache(token_db))
    first.stk_push(parse_push(push_body))
    requests.get(f"{sim.base_url}{OAUTH}?grant_type=client_credentials", auth=(CONSUMER_KEY, CONSUMER_SECRET))
    first.stk_push(parse_push(push_body))  # refused, refreshes, retries
    second.stk_push(parse_push(push_body))  # reads the refreshed token from the table
    assert len(sim_requests(sim, OAUTH)) == 3  # ours, the outsider's, one refresh


def test_unavailable_database_is_503(client, push_body):
    adapter = client(db_cache(f"postgresql://postgres@127.0.0.1:{closed_port()}/none"))
    with pytest.raises(MpesaError) as err:
        adapter.stk_push(parse_push(push_body))
    assert err.value.http_status == 503
    assert "token cache" in err.value.message
