"""Answers the adapter gives the gateway when something fails, and the one map from Daraja's error envelope to them."""

from __future__ import annotations

from microservices.http_face import ServiceError

INVALID_TOKEN_CODES = frozenset({"404.001.03", "400.003.01", "401.002.01", "401.001"})
THROTTLED_CODES = frozenset({"500.003.02", "500.003.03"})
WRONG_PATH_CODES = frozenset({"404.001.01", "404.001.04", "405.001"})


class MpesaError(ServiceError):
    """An error answer: HTTP status, a message saying what to fix, and Daraja's errorCode when there is one."""

    def __init__(self, http_status: int, message: str, error_code: str | None = None) -> None:
        super().__init__(http_status, message, error_code=error_code)
        self.error_code = error_code


class InvalidInput(MpesaError):
    """The gateway sent a body this adapter cannot turn into a valid Daraja request."""

    def __init__(self, message: str) -> None:
        super().__init__(400, message)


def is_invalid_token(body: dict) -> bool:
    """True when Daraja refused the bearer token; its APIs spell this four ways (docs/protocols/daraja.md §1)."""
    message = str(body.get("errorMessage") or "").lower()
    return body.get("errorCode") in INVALID_TOKEN_CODES or "invalid access token" in message


def from_daraja(http_status: int, body: dict, operation: str) -> MpesaError:
    """Map one Daraja error envelope (errorCode/errorMessage) to the answer for the gateway."""
    code = str(body.get("errorCode") or "") or None
    text = str(body.get("errorMessage") or "").strip()
    lowered = text.lower()
    said = f"Daraja answered {operation} with {code} {text!r}"
    if code == "400.002.02":
        return MpesaError(400, f"{said}: correct that field and send the request again.", code)
    if "wrong credentials" in lowered or "merchant does not exist" in lowered:
        return MpesaError(
            502,
            f"{said}: check the shortcode and passkey configured for this service (the passkey from the Daraja "
            "portal, not a base64 password) and that the shortcode is the one the Daraja app went live with.",
            code,
        )
    if "unable to lock subscriber" in lowered:
        return MpesaError(
            409, f"{said}: a payment prompt is already open on this phone; wait about a minute and try again.", code
        )
    if code in THROTTLED_CODES:
        return MpesaError(503, f"{said}: Daraja is throttling this app; retry later.", code)
    if is_invalid_token(body):
        return MpesaError(
            502,
            f"{said} even with a freshly issued token: check that the Daraja app has the M-Pesa Express "
            "(Lipa na M-Pesa) product enabled.",
            code,
        )
    if code == "400.008.01":
        return MpesaError(502, f"{said}: check the consumer key and consumer secret of the Daraja app.", code)
    if code in WRONG_PATH_CODES:
        return MpesaError(502, f"{said}: check credentials.base_url points at Daraja.", code)
    return MpesaError(502, f"{said} (HTTP {http_status}).", code)
