"""SDK-style Daraja client: OAuth, STK push and STK query, with every failure turned into an MpesaError.

Rules from docs/protocols/daraja.md §1-§4: the STK push is never retried (a resubmission is a second payment)
except once after an invalid-token answer, when the push was refused; the query is idempotent and retried on
connection errors; any 500.001.1001 or ResultCode 4999 from the query means "ask again later", never a failure.
"""

from __future__ import annotations

import base64
import logging
import time
from dataclasses import dataclass

import requests

from microservices.mpesa.errors import MpesaError, from_daraja, is_invalid_token
from microservices.mpesa.password import eat_timestamp, stk_password
from microservices.mpesa.payloads import Credentials, StkPush, StkQuery
from microservices.mpesa.phone import mask_msisdn
from microservices.mpesa.token_cache import FreshToken, TokenCache

log = logging.getLogger(__name__)

OAUTH_PATH = "/oauth/v1/generate"
STK_PUSH_PATH = "/mpesa/stkpush/v1/processrequest"
STK_QUERY_PATH = "/mpesa/stkpushquery/v1/query"
PUSH_FIELDS = ("ResponseCode", "MerchantRequestID", "CheckoutRequestID", "ResponseDescription", "CustomerMessage")
PENDING_RESULT_CODES = frozenset({"4999"})  # "still under processing", seen on the query only
PUSH_OP, QUERY_OP, OAUTH_OP = "the STK push", "the STK query", "the OAuth token request"


def basic_auth_header(consumer_key: str, consumer_secret: str) -> str:
    """Return the OAuth header value: Basic base64(key:secret)."""
    return "Basic " + base64.b64encode(f"{consumer_key}:{consumer_secret}".encode()).decode()


def parse_expires_in(value: object) -> int:
    """Daraja sends "3599" (string) on some pages and 3599 (number) on others; accept both.

    :raises ValueError: when it is neither.
    """
    try:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise TypeError
        seconds = float(value)
        return int(seconds)  # OverflowError for inf, ValueError for nan
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"expires_in {value!r} is not a number of seconds") from None


@dataclass(frozen=True)
class QueryResult:
    state: str  # completed | failed | pending
    result_code: str | None
    result_desc: str | None
    merchant_request_id: str | None
    checkout_request_id: str

    def to_dict(self) -> dict:
        return {
            "state": self.state,
            "result_code": self.result_code,
            "result_desc": self.result_desc,
            "MerchantRequestID": self.merchant_request_id,
            "CheckoutRequestID": self.checkout_request_id,
        }


def interpret_query(http_status: int, body: dict, checkout_request_id: str) -> QueryResult:
    """Turn an STK query answer into a state.

    :raises MpesaError: for answers that say our call was wrong rather than where the payment stands.
    """
    code = body.get("errorCode")
    message = str(body.get("errorMessage") or "")
    if code == "500.001.1001" and not any(s in message.lower() for s in ("wrong credentials", "merchant does not")):
        # Being processed, not yet known, or a sporadic answer after the result: ask again later.
        return QueryResult("pending", None, message or None, None, checkout_request_id)
    if code:
        raise from_daraja(http_status, body, QUERY_OP)
    if body.get("ResultCode") is None:
        raise MpesaError(502, f"Daraja answered the STK query with HTTP {http_status} and no ResultCode")
    result_code = str(body["ResultCode"]).strip()
    if result_code == "0":
        state = "completed"
    elif result_code in PENDING_RESULT_CODES:
        state = "pending"
    else:
        state = "failed"
    merchant_id = body.get("MerchantRequestID")
    return QueryResult(state, result_code, body.get("ResultDesc"), merchant_id, checkout_request_id)


class DarajaClient:
    """Calls Daraja for many merchants over one requests.Session, with one cached token per credential set."""

    def __init__(
        self,
        session: requests.Session,
        cache: TokenCache,
        connect_timeout_s: float = 5,
        read_timeout_s: float = 30,
        query_attempts: int = 2,
        retry_backoff_s: float = 0.2,
    ) -> None:
        self.session = session
        self.cache = cache
        self.timeouts = (connect_timeout_s, read_timeout_s)
        self.query_attempts = query_attempts
        self.retry_backoff_s = retry_backoff_s

    def close(self) -> None:
        self.session.close()
        self.cache.close()

    def stk_push(self, push: StkPush) -> dict:
        """Send the STK push; return Daraja's acceptance fields.

        :raises MpesaError: for any refusal, unreachable Daraja (502) or timeout (504).
        """
        creds = push.credentials
        timestamp = eat_timestamp()
        payload = {
            "BusinessShortCode": creds.shortcode,
            "Password": stk_password(creds.shortcode, creds.passkey, timestamp),
            "Timestamp": timestamp,
            "TransactionType": creds.transaction_type,
            "Amount": push.amount,
            "PartyA": push.phone,
            "PartyB": creds.party_b,
            "PhoneNumber": push.phone,
            "CallBackURL": push.callback_url,
            "AccountReference": push.account_reference,
            "TransactionDesc": push.description,
        }
        status, body = self._authorised_post(creds, STK_PUSH_PATH, payload, PUSH_OP, attempts=1)
        fields = {"shortcode": creds.shortcode, "msisdn": mask_msisdn(push.phone), "daraja_status": status}
        if str(body.get("ResponseCode")) == "0" and body.get("CheckoutRequestID"):
            log.info("stk push accepted", extra={**fields, "checkout_request_id": body["CheckoutRequestID"]})
            return {name: body.get(name) for name in PUSH_FIELDS}
        log.warning("stk push refused", extra={**fields, "daraja_error_code": body.get("errorCode")})
        if body.get("errorCode"):
            raise from_daraja(status, body, PUSH_OP)
        raise MpesaError(
            502, f"Daraja did not accept the STK push: HTTP {status}, ResponseCode {body.get('ResponseCode')!r}"
        )

    def stk_query(self, query: StkQuery) -> QueryResult:
        """Ask where an STK push stands.

        :raises MpesaError: when Daraja refuses the query itself, is unreachable (502) or times out (504).
        """
        creds = query.credentials
        timestamp = eat_timestamp()
        payload = {
            "BusinessShortCode": creds.shortcode,
            "Password": stk_password(creds.shortcode, creds.passkey, timestamp),
            "Timestamp": timestamp,
            "CheckoutRequestID": query.checkout_request_id,
        }
        status, body = self._authorised_post(creds, STK_QUERY_PATH, payload, QUERY_OP, self.query_attempts)
        result = interpret_query(status, body, query.checkout_request_id)
        log.info(
            "stk query answered",
            extra={
                "checkout_request_id": query.checkout_request_id,
                "daraja_status": status,
                "stk_state": result.state,
                "result_code": result.result_code,
            },
        )
        return result

    def fetch_token(self, creds: Credentials) -> FreshToken:
        """Get a new OAuth token (this invalidates the app's previous one).

        :raises MpesaError: when Daraja refuses the key/secret or answers something unusable.
        """
        response = self._send(
            "GET",
            creds.base_url + OAUTH_PATH,
            OAUTH_OP,
            attempts=1,
            params={"grant_type": "client_credentials"},
            headers={"Authorization": basic_auth_header(creds.consumer_key, creds.consumer_secret)},
        )
        body = self._json(response, OAUTH_OP)
        token = body.get("access_token")
        if response.status_code != 200 or not isinstance(token, str) or not token:
            if body.get("errorCode"):
                raise from_daraja(response.status_code, body, OAUTH_OP)
            raise MpesaError(
                502, f"Daraja answered the OAuth token request with HTTP {response.status_code} and no token"
            )
        try:
            expires_in = parse_expires_in(body.get("expires_in"))
        except ValueError as exc:
            raise MpesaError(502, f"Daraja's OAuth answer has an unusable expires_in: {exc}") from None
        log.info("daraja token issued", extra={"consumer_key_prefix": creds.consumer_key[:4], "expires_in": expires_in})
        return FreshToken(token, expires_in)

    def _authorised_post(
        self, creds: Credentials, path: str, payload: dict, operation: str, attempts: int
    ) -> tuple[int, dict]:
        """POST with the cached token; on an invalid-token answer refresh once and retry once (the call was refused)."""
        key = creds.cache_key
        fetch = lambda: self.fetch_token(creds)  # noqa: E731 - a named closure reads better than a partial
        token = self.cache.get(key) or self.cache.refresh(key, fetch, stale=None)
        status, body = self._post(creds.base_url + path, token, payload, operation, attempts)
        if is_invalid_token(body):
            log.warning("daraja refused the cached token; refreshing once", extra={"daraja_status": status})
            token = self.cache.refresh(key, fetch, stale=token)
            status, body = self._post(creds.base_url + path, token, payload, operation, attempts)
        return status, body

    def _post(self, url: str, token: str, payload: dict, operation: str, attempts: int) -> tuple[int, dict]:
        headers = {"Authorization": f"Bearer {token}"}
        response = self._send("POST", url, operation, attempts, json=payload, headers=headers)
        return response.status_code, self._json(response, operation)

    def _send(self, method: str, url: str, operation: str, attempts: int, **kwargs: object) -> requests.Response:
        attempts = max(1, attempts)
        for attempt in range(1, attempts + 1):
            try:
                return self.session.request(method, url, timeout=self.timeouts, allow_redirects=False, **kwargs)
            except requests.ConnectionError as exc:  # includes ConnectTimeout: nothing reached Daraja
                if attempt < attempts:
                    time.sleep(self.retry_backoff_s * attempt)
                    continue
                log.warning("daraja unreachable", extra={"daraja_url": url, "error_class": type(exc).__name__})
                raise MpesaError(
                    502, f"Daraja is unreachable for {operation} ({type(exc).__name__}): check credentials.base_url"
                ) from None
            except requests.Timeout:
                log.warning("daraja timed out", extra={"daraja_url": url, "read_timeout_s": self.timeouts[1]})
                # A push that timed out may still have been accepted; resending it would charge twice.
                hint = (
                    " The prompt may still reach the customer; do not resend blindly." if operation == PUSH_OP else ""
                )
                raise MpesaError(504, f"Daraja did not answer {operation} within {self.timeouts[1]} s.{hint}") from None
            except requests.RequestException as exc:
                raise MpesaError(502, f"calling Daraja for {operation} failed: {type(exc).__name__}") from None
        raise AssertionError("unreachable")

    @staticmethod
    def _json(response: requests.Response, operation: str) -> dict:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise MpesaError(
                502,
                f"Daraja answered {operation} with HTTP {response.status_code} and a body that is not JSON",
            )
        return body
