"""Daraja simulator state: the scripted outcomes, the pushes in flight, tokens, and callback delivery (daraja.md §3).

Everything lives in memory behind ``SimulatorState.lock``; callbacks go out from daemon threads that end when the
state is reset or the simulator stops.
"""

from __future__ import annotations

import json
import logging
import secrets
import string
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import requests

from simulators.daraja_rules import DarajaFault, eat_now

# The simulator's one logger name, kept from before the split so log filters on it still match.
log = logging.getLogger("simulators.daraja")

LOCK_MESSAGE = "Unable to lock subscriber, a transaction is already in process for the current subscriber"
SUCCESS_DESC = "The service request is processed successfully."
ALNUM = string.ascii_uppercase + string.digits


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
MAX_ACCOUNT_REFERENCE = 12
# [sim-choice] Daraja accepts a longer AccountReference, then no prompt reaches the phone; 1025 is the code it
# documents for a prompt it could not send (docs/protocols/daraja.md, "AccountReference").
PROMPT_NOT_SENT = Outcome(1025, "An error occurred while sending a push request.")


def outcome_for(fields: dict) -> Outcome:
    """What happens to an accepted push: the phone's scripted outcome, unless the prompt cannot be built."""
    outcome = OUTCOMES.get(fields["phone"], SUCCESS)
    if outcome.reject is None and len(fields["account_reference"]) > MAX_ACCOUNT_REFERENCE:
        return PROMPT_NOT_SENT
    return outcome


def _random_code(length: int) -> str:
    return "".join(secrets.choice(ALNUM) for _ in range(length))


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
    account_reference: str = ""
    receipt: str | None = None

    def callback_body(self) -> dict:
        """The STK callback exactly as Daraja sends it (daraja.md §3): numbers stay numbers, Balance has no Value."""
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
