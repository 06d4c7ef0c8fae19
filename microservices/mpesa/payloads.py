"""The gateway's request bodies, checked and turned into typed values before anything is sent to Daraja."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from microservices.mpesa.errors import InvalidInput
from microservices.mpesa.phone import normalise_msisdn

TRANSACTION_TYPES = ("CustomerPayBillOnline", "CustomerBuyGoodsOnline")
MAX_AMOUNT = 250_000  # KES per transaction (docs/protocols/daraja.md §2)
DEFAULT_DESCRIPTION = "Payment"
SHORTCODE_RE = re.compile(r"[0-9]{5,7}")
AMOUNT_RE = re.compile(r"([0-9]{1,9})(?:\.([0-9]{1,2}))?")
REFERENCE_RE = re.compile(r"[A-Za-z0-9]{1,12}")
CHECKOUT_ID_RE = re.compile(r"[A-Za-z0-9_\-]{1,64}")


@dataclass(frozen=True)
class Credentials:
    """One merchant's Daraja app and shortcode, as the gateway injects them into each call."""

    consumer_key: str
    consumer_secret: str = field(repr=False)
    shortcode: str
    passkey: str = field(repr=False)
    transaction_type: str
    party_b: str
    base_url: str

    @property
    def cache_key(self) -> str:
        """The token-cache key: one token per (Daraja, app) pair, shared by every instance."""
        raw = f"{self.base_url}|{self.consumer_key}|{self.consumer_secret}"
        return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class StkPush:
    credentials: Credentials
    amount: int
    phone: str
    account_reference: str
    description: str
    callback_url: str


@dataclass(frozen=True)
class StkQuery:
    credentials: Credentials
    checkout_request_id: str


def _text(body: dict, name: str, label: str, hint: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{label} is required: {hint}")
    return value.strip()


def _shortcode(value: object, label: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not SHORTCODE_RE.fullmatch(value.strip()):
        raise InvalidInput(f"{label} must be a 5-7 digit M-Pesa shortcode (paybill or till), got {value!r}")
    return value.strip()


def _http_url(value: str, label: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname or re.search(r"\s", value):
        raise InvalidInput(f"{label} must be an absolute http(s) URL without spaces, got {value!r}")
    return value


def parse_credentials(raw: object) -> Credentials:
    """:raises InvalidInput: naming the first missing or malformed credentials field."""
    if not isinstance(raw, dict):
        raise InvalidInput(
            "credentials must be an object with consumer_key, consumer_secret, shortcode, passkey, base_url"
        )
    shortcode = _shortcode(raw.get("shortcode"), "credentials.shortcode")
    transaction_type = raw.get("transaction_type", TRANSACTION_TYPES[0])
    if transaction_type not in TRANSACTION_TYPES:
        raise InvalidInput(f"credentials.transaction_type must be one of {', '.join(TRANSACTION_TYPES)}")
    party_b = raw.get("party_b")
    base_url = _text(raw, "base_url", "credentials.base_url", "Daraja's base URL, e.g. https://sandbox.safaricom.co.ke")
    return Credentials(
        consumer_key=_text(raw, "consumer_key", "credentials.consumer_key", "the Daraja app's consumer key"),
        consumer_secret=_text(raw, "consumer_secret", "credentials.consumer_secret", "the Daraja app's secret"),
        shortcode=shortcode,
        passkey=_text(raw, "passkey", "credentials.passkey", "the Lipa na M-Pesa passkey of the shortcode"),
        transaction_type=transaction_type,
        party_b=shortcode if party_b in (None, "") else _shortcode(party_b, "credentials.party_b"),
        base_url=_http_url(base_url, "credentials.base_url").rstrip("/"),
    )


def parse_amount(raw: object) -> int:
    """Whole shillings 1..250000; "10.00" is 10, "10.5" is refused (Daraja rejects decimals)."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    match = AMOUNT_RE.fullmatch(raw.strip()) if isinstance(raw, str) else None
    if match is None:
        raise InvalidInput(f'amount must be a whole number of shillings as a string, e.g. "10"; got {raw!r}')
    whole, cents = match.groups()
    if cents and cents.strip("0"):
        raise InvalidInput(f"amount {raw!r} has cents; M-Pesa takes whole shillings only")
    amount = int(whole)
    if not 1 <= amount <= MAX_AMOUNT:
        raise InvalidInput(f"amount must be between 1 and {MAX_AMOUNT} shillings, got {raw!r}")
    return amount


def parse_push(body: dict) -> StkPush:
    """:raises InvalidInput: naming the field and the accepted form."""
    credentials = parse_credentials(body.get("credentials"))
    amount = parse_amount(body.get("amount"))
    try:
        phone = normalise_msisdn(body.get("phone"))
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    reference = body.get("account_reference")
    if not isinstance(reference, str) or not REFERENCE_RE.fullmatch(reference):
        raise InvalidInput(
            "account_reference must be 1-12 letters or digits (Daraja's AccountReference limit; a longer one "
            f"is accepted by Daraja but no prompt reaches the phone), got {reference!r}"
        )
    description = body.get("description", DEFAULT_DESCRIPTION)
    if not isinstance(description, str) or len(description) > 13:
        raise InvalidInput(
            f"description must be a string of at most 13 characters (TransactionDesc), got {description!r}"
        )
    callback_url = _http_url(
        _text(body, "callback_url", "callback_url", "where Daraja posts the result"), "callback_url"
    )
    return StkPush(credentials, amount, phone, reference, description or DEFAULT_DESCRIPTION, callback_url)


def parse_query(body: dict) -> StkQuery:
    """:raises InvalidInput: naming the field and the accepted form."""
    credentials = parse_credentials(body.get("credentials"))
    checkout_id = body.get("checkout_request_id")
    if not isinstance(checkout_id, str) or not CHECKOUT_ID_RE.fullmatch(checkout_id):
        raise InvalidInput(f"checkout_request_id must be the CheckoutRequestID from the STK push, got {checkout_id!r}")
    return StkQuery(credentials, checkout_id)
