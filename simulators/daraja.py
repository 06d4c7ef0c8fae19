"""Daraja (M-Pesa) simulator: Safaricom's OAuth, STK push, STK query and callbacks over the same HTTP/JSON.

The outcome of a push is scripted by the phone number (OUTCOMES). Test helpers live under /simulator/, apart
from the Daraja surface. State is in memory behind one lock; callbacks go out from background threads.
Facts and their sources: /work/shared/PROTOCOLS.md Part A; docs/daraja-simulator.md for the table and settings.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import secrets
import string
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

import requests
from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.serving import make_server

log = logging.getLogger(__name__)

EAT = timezone(timedelta(hours=3), "EAT")  # Kenya has no DST, so a fixed offset is exact
SANDBOX_SHORTCODE = "174379"
SANDBOX_PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
LOCK_MESSAGE = "Unable to lock subscriber, a transaction is already in process for the current subscriber"
SUCCESS_DESC = "The service request is processed successfully."
ACCEPTED = "Success. Request accepted for processing"
INVALID_TOKEN = (404, "404.001.03", "Invalid Access Token")
ALNUM = string.ascii_uppercase + string.digits

DEFAULT_SETTINGS: dict[str, Any] = {
    "apps": [{"consumer_key": "sim-consumer-key", "consumer_secret": "sim-consumer-secret"}],
    "passkeys": {SANDBOX_SHORTCODE: SANDBOX_PASSKEY},
    "callback_delay_s": 3.0,
    "late_callback_delay_s": 30.0,
    "expire_after_s": 60.0,
    "subscriber_lock": True,
    "timestamp_window_s": 600,  # [sim-choice] stricter than Daraja; 0 or None turns it off
    "token_ttl_s": 3599,
    "expires_in_number": False,  # Daraja's older answer is the string "3599"; True emits a number
    "stk_response_delay_s": 0.0,  # slow down STK push/query answers (timeout tests)
    "callback_timeout_s": 10.0,
}


@dataclass(frozen=True)
class Outcome:
    """What happens to a push for one phone number."""

    result_code: int | None  # None: the push is refused synchronously with `reject`
    result_desc: str = ""
    query_desc: str | None = None  # the query's wording where it differs from the callback's
    callbacks: str = "once"  # once | twice | late | none
    reject: tuple[int, str, str] | None = None
    expires: bool = False  # stays in flight until expire_after_s


SUCCESS = Outcome(0, SUCCESS_DESC)
OUTCOMES: dict[str, Outcome] = {
    "254708374149": SUCCESS,  # Safaricom's sandbox test MSISDN (the real sandbox lets it time out: 1037)
    "254700000001": Outcome(1032, "Request cancelled by user", query_desc="Request Cancelled by user."),
    "254700000002": Outcome(1037, "DS timeout user cannot be reached", callbacks="none", expires=True),
    "254700000003": Outcome(2001, "The initiator information is invalid."),
    "254700000004": Outcome(1, "The balance is insufficient for the transaction."),
    "254700000005": replace(SUCCESS, callbacks="twice"),
    "254700000006": replace(SUCCESS, callbacks="late"),
    "254700000007": replace(SUCCESS, callbacks="none"),
    "254700000008": Outcome(None, reject=(500, "500.001.1001", LOCK_MESSAGE)),
    "254700000009": Outcome(None, reject=(500, "500.003.02", "Spike Arrest Violation")),
}

SHORTCODE_RE = re.compile(r"^[0-9]{5,7}$")
MSISDN_RE = re.compile(r"^254[17][0-9]{8}$")
TIMESTAMP_RE = re.compile(r"^[0-9]{14}$")
TRANSACTION_TYPES = {"CustomerPayBillOnline", "CustomerBuyGoodsOnline"}


class DarajaFault(Exception):
    """An answer in Daraja's error envelope."""

    def __init__(self, http_status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.http_status, self.code, self.message = http_status, code, message


def invalid(field_name: str) -> DarajaFault:
    return DarajaFault(400, "400.002.02", f"Bad Request - Invalid {field_name}")


def eat_now() -> datetime:
    return datetime.now(EAT)


def _request_id() -> str:
    hexes = [secrets.token_hex(n) for n in (2, 2, 2, 6)]
    return "-".join(hexes) + str(secrets.randbelow(10**7))


def _random_code(length: int) -> str:
    return "".join(secrets.choice(ALNUM) for _ in range(length))


# --- field rules (PROTOCOLS A.2) ---------------------------------------------------------------------------


def _digits(value: Any, pattern: re.Pattern[str], name: str) -> str:
    """A numeric id sent as a JSON number or string, checked against `pattern`."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise invalid(name)
    text = str(value)
    if not pattern.fullmatch(text):
        raise invalid(name)
    return text


def check_timestamp(value: Any, window_s: float | None) -> str:
    if not isinstance(value, str) or not TIMESTAMP_RE.fullmatch(value):
        raise invalid("Timestamp")
    try:
        stamp = datetime.strptime(value, "%Y%m%d%H%M%S").replace(tzinfo=EAT)
    except ValueError:
        raise invalid("Timestamp") from None
    # [sim-choice] Daraja takes stale timestamps; the window catches clients that send UTC.
    if window_s and abs((eat_now() - stamp).total_seconds()) > window_s:
        raise invalid("Timestamp")
    return value


def check_amount(value: Any) -> int:
    if isinstance(value, bool):
        raise invalid("Amount")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,7}", value):
        value = int(value)
    if not isinstance(value, int) or not 1 <= value <= 250_000:
        raise invalid("Amount")
    return value


def check_url(value: Any) -> str:
    if not isinstance(value, str) or re.search(r"\s", value):
        raise invalid("CallBackURL")
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise invalid("CallBackURL")
    return value


def check_password(settings: dict, shortcode: str, password: Any, timestamp: str) -> None:
    passkey = settings["passkeys"].get(shortcode)
    if passkey is None:
        raise DarajaFault(500, "500.001.1001", "Merchant does not exist")
    expected = base64.b64encode(f"{shortcode}{passkey}{timestamp}".encode()).decode()
    if password != expected:
        raise DarajaFault(500, "500.001.1001", "Wrong credentials")


def parse_push(body: dict, settings: dict) -> dict:
    """Validate an STK push body; return the fields the simulator keeps. Raises DarajaFault."""
    shortcode = _digits(body.get("BusinessShortCode"), SHORTCODE_RE, "BusinessShortCode")
    password = body.get("Password")
    if not isinstance(password, str) or not password:
        raise invalid("Password")
    timestamp = check_timestamp(body.get("Timestamp"), settings["timestamp_window_s"])
    if body.get("TransactionType") not in TRANSACTION_TYPES:
        raise invalid("TransactionType")
    amount = check_amount(body.get("Amount"))
    _digits(body.get("PartyA"), MSISDN_RE, "PartyA")
    _digits(body.get("PartyB"), SHORTCODE_RE, "PartyB")
    phone = _digits(body.get("PhoneNumber"), MSISDN_RE, "PhoneNumber")
    callback_url = check_url(body.get("CallBackURL"))
    reference = body.get("AccountReference")
    if isinstance(reference, bool) or not isinstance(reference, str | int) or not 1 <= len(str(reference)) <= 12:
        raise invalid("AccountReference")
    desc = body.get("TransactionDesc", "")
    if not isinstance(desc, str) or len(desc) > 13:
        raise invalid("TransactionDesc")
    check_password(settings, shortcode, password, timestamp)
    return {"shortcode": shortcode, "amount": amount, "phone": phone, "callback_url": callback_url}


def parse_query(body: dict, settings: dict) -> tuple[str, str]:
    """Validate an STK query body; return (shortcode, CheckoutRequestID). Raises DarajaFault."""
    shortcode = _digits(body.get("BusinessShortCode"), SHORTCODE_RE, "BusinessShortCode")
    password = body.get("Password")
    if not isinstance(password, str) or not password:
        raise invalid("Password")
    timestamp = check_timestamp(body.get("Timestamp"), settings["timestamp_window_s"])
    checkout_id = body.get("CheckoutRequestID")
    if not isinstance(checkout_id, str) or not checkout_id.strip():
        raise invalid("CheckoutRequestID")
    check_password(settings, shortcode, password, timestamp)
    return shortcode, checkout_id


# --- state ---------------------------------------------------------------------------------------------------


@dataclass
class Push:
    checkout_request_id: str
    merchant_request_id: str
    shortcode: str
    phone: str
    amount: int
    callback_url: str
    outcome: Outcome
    final_at: float  # time.monotonic() when the outcome becomes final
    transaction_date: datetime
    receipt: str | None = None

    def callback_body(self) -> dict:
        """The STK callback exactly as Daraja sends it (A.3): numbers stay numbers, Balance has no Value."""
        result: dict[str, Any] = {
            "MerchantRequestID": self.merchant_request_id,
            "CheckoutRequestID": self.checkout_request_id,
            "ResultCode": self.outcome.result_code,
            "ResultDesc": self.outcome.result_desc,
        }
        if self.outcome.result_code == 0:
            result["CallbackMetadata"] = {
                "Item": [
                    {"Name": "Amount", "Value": self.amount},
                    {"Name": "MpesaReceiptNumber", "Value": self.receipt},
                    {"Name": "Balance"},
                    {"Name": "TransactionDate", "Value": int(self.transaction_date.strftime("%Y%m%d%H%M%S"))},
                    {"Name": "PhoneNumber", "Value": int(self.phone)},
                ]
            }
        return {"Body": {"stkCallback": result}}


@dataclass
class SimulatorState:
    """Everything the simulator remembers. Guard every access with `lock`."""

    settings: dict
    lock: threading.RLock = field(default_factory=threading.RLock)
    requests: list[dict] = field(default_factory=list)
    callbacks: list[dict] = field(default_factory=list)
    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)  # token -> (consumer key, expiry)
    current_token: dict[str, str] = field(default_factory=dict)  # consumer key -> its only valid token
    pushes: dict[str, Push] = field(default_factory=dict)
    open_push_by_phone: dict[str, str] = field(default_factory=dict)
    receipts: set[str] = field(default_factory=set)
    stopped: threading.Event = field(default_factory=threading.Event)

    def reset(self) -> None:
        with self.lock:
            self.stopped.set()  # wakes and ends the delivery threads of the old state
            self.stopped = threading.Event()
            for bucket in (self.requests, self.callbacks, self.tokens, self.current_token, self.pushes):
                bucket.clear()
            self.open_push_by_phone.clear()
            self.receipts.clear()

    def issue_token(self, consumer_key: str) -> str:
        token = _random_code(28)
        with self.lock:
            old = self.current_token.get(consumer_key)
            self.tokens.pop(old, None)  # portal FAQ: each new token invalidates the previous one
            self.tokens[token] = (consumer_key, time.monotonic() + self.settings["token_ttl_s"])
            self.current_token[consumer_key] = token
        return token

    def token_app(self, token: str) -> str | None:
        with self.lock:
            entry = self.tokens.get(token)
        if entry is None or entry[1] <= time.monotonic():
            return None
        return entry[0]

    def new_push(self, fields: dict, outcome: Outcome) -> Push:
        """Record an accepted push; refuse it while the phone has a prompt open (when the lock is on)."""
        settings, now, wall = self.settings, time.monotonic(), eat_now()
        delay = settings["expire_after_s"] if outcome.expires else settings["callback_delay_s"]
        with self.lock:
            open_id = self.open_push_by_phone.get(fields["phone"])
            if settings["subscriber_lock"] and open_id and self.pushes[open_id].final_at > now:
                raise DarajaFault(500, "500.001.1001", LOCK_MESSAGE)
            push = Push(
                checkout_request_id=self._checkout_id(wall, fields["phone"]),
                merchant_request_id=f"{secrets.randbelow(90000) + 10000}-{secrets.randbelow(10**8)}-1",
                outcome=outcome,
                final_at=now + delay,
                transaction_date=wall + timedelta(seconds=delay),
                receipt=self._receipt() if outcome.result_code == 0 else None,
                **fields,
            )
            self.pushes[push.checkout_request_id] = push
            self.open_push_by_phone[push.phone] = push.checkout_request_id
        return push

    def _checkout_id(self, wall: datetime, phone: str) -> str:
        millis = wall.microsecond // 1000
        while True:  # the format leaves room for one push per phone per millisecond; bump to stay unique
            candidate = f"ws_CO_{wall:%d%m%Y%H%M%S}{millis:03d}{phone[-9:]}"
            if candidate not in self.pushes:
                return candidate
            millis = (millis + 1) % 1000

    def _receipt(self) -> str:
        while (receipt := _random_code(10)) in self.receipts:
            pass
        self.receipts.add(receipt)
        return receipt


# --- callbacks -----------------------------------------------------------------------------------------------


def deliver(state: SimulatorState, push: Push, reason: str) -> dict:
    """POST the callback once; record and return the delivery. Never raises on a dead receiver."""
    body = push.callback_body()
    headers = {"Content-Type": "application/json;charset=UTF-8", "Businessshortcode": push.shortcode}
    record: dict[str, Any] = {
        "checkout_request_id": push.checkout_request_id,
        "url": push.callback_url,
        "reason": reason,
        "headers": headers,
        "body": body,
        "status_code": None,
        "error": None,
        "at": eat_now().isoformat(),
    }
    try:
        timeout = state.settings["callback_timeout_s"]
        answer = requests.post(push.callback_url, data=json.dumps(body).encode(), headers=headers, timeout=timeout)
        record["status_code"] = answer.status_code
    except requests.RequestException as exc:
        record["error"] = f"{type(exc).__name__}: {exc}"
    with state.lock:
        state.callbacks.append(record)
    log.info("callback delivered", extra={"checkout_request_id": push.checkout_request_id, "delivery": reason})
    return record


def schedule_callbacks(state: SimulatorState, push: Push) -> None:
    """Deliver the push's callbacks from a daemon thread, as its outcome prescribes."""
    settings, start = state.settings, time.monotonic()
    plan = {
        "once": [(settings["callback_delay_s"], "scheduled")],
        "twice": [(settings["callback_delay_s"], "scheduled"), (settings["callback_delay_s"], "duplicate")],
        "late": [(settings["late_callback_delay_s"], "late")],
        "none": [],
    }[push.outcome.callbacks]
    if not plan:
        return
    stopped = state.stopped

    def run() -> None:
        for offset, reason in plan:
            if stopped.wait(max(0.0, start + offset - time.monotonic())):
                return  # the simulator was reset or stopped
            deliver(state, push, reason)

    threading.Thread(target=run, name=f"daraja-callback-{push.checkout_request_id}", daemon=True).start()


# --- HTTP surface --------------------------------------------------------------------------------------------


def _masked_headers() -> dict:
    headers = dict(request.headers)
    if "Authorization" in headers:
        headers["Authorization"] = headers["Authorization"].split(" ", 1)[0] + " <redacted>"
    return headers


def _basic_credentials() -> tuple[str, str] | None:
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        key, sep, secret = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (key, secret) if sep else None


def _json_body() -> dict:
    # Portal FAQ 9: a missing JSON content type surfaces as "Invalid BusinessShortCode".
    body = request.get_json(silent=True) if request.mimetype == "application/json" else None
    if not isinstance(body, dict):
        raise invalid("BusinessShortCode")
    return body


def _bearer_app(state: SimulatorState) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    app_key = state.token_app(token.strip()) if scheme.lower() == "bearer" else None
    if app_key is None:
        raise DarajaFault(*INVALID_TOKEN)
    app_settings = next(a for a in state.settings["apps"] if a["consumer_key"] == app_key)
    if not app_settings.get("stk_enabled", True):
        raise DarajaFault(*INVALID_TOKEN)  # Daraja's answer when the app lacks the Lipa na M-Pesa product
    return app_key


def _register_daraja_routes(app: Flask, state: SimulatorState) -> None:
    settings = state.settings

    @app.get("/oauth/v1/generate")
    def oauth():
        if request.args.get("grant_type") != "client_credentials":
            raise DarajaFault(400, "400.008.02", "Invalid grant type passed")
        creds = _basic_credentials()
        known = {(a["consumer_key"], a["consumer_secret"]) for a in settings["apps"]}
        if creds not in known:
            raise DarajaFault(400, "400.008.01", "Invalid Authentication passed")
        ttl = settings["token_ttl_s"]
        expires_in = ttl if settings["expires_in_number"] else str(ttl)
        return jsonify(access_token=state.issue_token(creds[0]), expires_in=expires_in)

    @app.post("/mpesa/stkpush/v1/processrequest")
    def stk_push():
        time.sleep(settings["stk_response_delay_s"])
        _bearer_app(state)
        fields = parse_push(_json_body(), settings)
        outcome = OUTCOMES.get(fields["phone"], SUCCESS)
        if outcome.reject:
            raise DarajaFault(*outcome.reject)
        push = state.new_push(fields, outcome)
        schedule_callbacks(state, push)
        return jsonify(
            MerchantRequestID=push.merchant_request_id,
            CheckoutRequestID=push.checkout_request_id,
            ResponseCode="0",
            ResponseDescription=ACCEPTED,
            CustomerMessage=ACCEPTED,
        )

    @app.post("/mpesa/stkpushquery/v1/query")
    def stk_query():
        time.sleep(settings["stk_response_delay_s"])
        _bearer_app(state)
        shortcode, checkout_id = parse_query(_json_body(), settings)
        with state.lock:
            push = state.pushes.get(checkout_id)
        if push is None or push.shortcode != shortcode:
            raise DarajaFault(500, "500.001.1001", "The transaction does not Exist")
        if push.final_at > time.monotonic():
            raise DarajaFault(500, "500.001.1001", "The transaction is being processed")
        return jsonify(
            ResponseCode="0",
            ResponseDescription="The service request has been accepted successfully",
            MerchantRequestID=push.merchant_request_id,
            CheckoutRequestID=push.checkout_request_id,
            ResultCode=str(push.outcome.result_code),  # a string here, unlike the callback
            ResultDesc=push.outcome.query_desc or push.outcome.result_desc,
        )


def _register_simulator_routes(app: Flask, state: SimulatorState) -> None:
    @app.get("/simulator/requests")
    def received():
        with state.lock:
            return jsonify(requests=list(state.requests))

    @app.get("/simulator/callbacks")
    def delivered():
        with state.lock:
            return jsonify(callbacks=list(state.callbacks))

    @app.post("/simulator/reset")
    def reset():
        state.reset()
        return jsonify(status="reset")

    @app.post("/simulator/stk/<checkout_id>/callback")
    def resend(checkout_id: str):
        with state.lock:
            push = state.pushes.get(checkout_id)
        if push is None:
            return jsonify(error=f"unknown CheckoutRequestID {checkout_id}"), 404
        if push.final_at > time.monotonic():
            return jsonify(error="the outcome is not final yet; try again after callback_delay_s"), 409
        return jsonify(deliver(state, push, "manual"))


def create_app(settings: dict | None = None) -> Flask:
    """Build the simulator; `settings` overrides DEFAULT_SETTINGS key by key."""
    merged = {**DEFAULT_SETTINGS, **(settings or {})}
    merged["passkeys"] = {str(k): v for k, v in merged["passkeys"].items()}
    state = SimulatorState(merged)
    app = Flask(__name__)
    app.json.sort_keys = False  # keep Daraja's field order
    app.extensions["daraja_simulator"] = state

    @app.before_request
    def record_request() -> None:
        if request.path.startswith("/simulator/"):
            return
        entry = {
            "method": request.method,
            "path": request.path,
            "args": request.args.to_dict(),
            "headers": _masked_headers(),
            "json": request.get_json(silent=True),
        }
        with state.lock:
            state.requests.append(entry)

    @app.errorhandler(DarajaFault)
    def fault(exc: DarajaFault):
        return jsonify(requestId=_request_id(), errorCode=exc.code, errorMessage=exc.message), exc.http_status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code == 405:
            return fault(DarajaFault(405, "405.001", "Method Not Allowed"))
        if exc.code == 404:
            return fault(DarajaFault(404, "404.001.01", "Resource not found"))
        return fault(DarajaFault(exc.code or 500, f"{exc.code}.000", exc.description or exc.name))

    _register_daraja_routes(app, state)
    _register_simulator_routes(app, state)
    return app


class RunningSimulator:
    """A simulator served by werkzeug on a loopback port in a daemon thread (tests, `make run`)."""

    def __init__(self, settings: dict | None = None, port: int = 0) -> None:
        self.app = create_app(settings)
        self.server = make_server("127.0.0.1", port, self.app, threaded=True)
        self.base_url = f"http://127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def state(self) -> SimulatorState:
        return self.app.extensions["daraja_simulator"]

    def stop(self) -> None:
        self.state.stopped.set()
        self.server.shutdown()
        self.server.server_close()


def main() -> None:
    """Serve the simulator on 127.0.0.1 (port from Config.DARAJA_SIM_PORT, else the port of DARAJA_BASE_URL)."""
    from config import Config

    logging.basicConfig(level=logging.INFO)
    port = getattr(Config, "DARAJA_SIM_PORT", None) or urlsplit(Config.DARAJA_BASE_URL).port or 5201
    server = make_server("127.0.0.1", int(port), create_app(), threaded=True)
    log.info("Daraja simulator listening", extra={"port": port})
    server.serve_forever()


if __name__ == "__main__":
    main()
