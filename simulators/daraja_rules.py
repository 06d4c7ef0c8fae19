"""Daraja request rules (docs/protocols/daraja.md §2): field, password and timestamp checks, the error envelope.

Pure validation, no state: ``parse_push`` and ``parse_query`` turn a request body into the fields the simulator
keeps, or raise ``DarajaFault``, which the app in ``simulators.daraja`` renders in Daraja's error envelope.
"""

from __future__ import annotations

import base64
import re
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

EAT = timezone(timedelta(hours=3), "EAT")  # Kenya has no DST, so a fixed offset is exact

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
    # Daraja takes stale and future timestamps alike; the opt-in window ([sim-choice]) catches clients on UTC.
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
    # Over 12 characters is accepted here, as Daraja does; the push then fails later (daraja_state.outcome_for).
    if isinstance(reference, bool) or not isinstance(reference, str | int) or not str(reference):
        raise invalid("AccountReference")
    desc = body.get("TransactionDesc", "")
    if not isinstance(desc, str) or len(desc) > 13:
        raise invalid("TransactionDesc")
    check_password(settings, shortcode, password, timestamp)
    return {
        "shortcode": shortcode,
        "amount": amount,
        "phone": phone,
        "callback_url": callback_url,
        "account_reference": str(reference),
    }


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
