"""What every microservice's HTTP face shares: the internal-token guard (constant time, /healthz open), the JSON
body reader, and one error renderer, so every answer is JSON {"status": "<code>", "message": ...}."""

from __future__ import annotations

import hmac
import logging
from typing import Any

from flask import Flask, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

TOKEN_HEADER = "X-Internal-Token"
OPEN_ENDPOINTS = frozenset({"healthz"})  # health checks (the gateway's dashboard) carry no token

log = logging.getLogger(__name__)


class ServiceError(Exception):
    """An error answer: HTTP status, a message that says what to fix, and optional extra fields."""

    def __init__(self, http_status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.message = message
        self.extra = extra

    def to_dict(self) -> dict[str, Any]:
        return {"status": str(self.http_status), "message": self.message, **self.extra}


def error_response(exc: ServiceError) -> ResponseReturnValue:
    if exc.http_status >= 500:
        log.warning("answered %d: %s", exc.http_status, exc.message)
    fields = current_app.config.get("ERROR_FIELDS") or {}
    return jsonify({**fields, **exc.to_dict()}), exc.http_status


def json_object() -> dict[str, Any]:
    """The request body as a JSON object. :raise ServiceError: 415 when not JSON, 400 when not an object."""
    if not request.is_json:
        raise ServiceError(415, "send a JSON object with Content-Type: application/json")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ServiceError(400, "the body must be a JSON object")
    return body


def token_matches(sent: str | None, expected: str | None) -> bool:
    """Constant-time comparison; an unset expected token matches nothing."""
    if not sent or not expected:
        return False
    return hmac.compare_digest(sent.encode(), str(expected).encode())


def install(
    app: Flask,
    endpoints: str,
    name: str,
    open_endpoints: frozenset[str] = OPEN_ENDPOINTS,
    error_fields: dict[str, Any] | None = None,
) -> None:
    """Guard every endpoint but /healthz with X-Internal-Token (the app's INTERNAL_TOKEN) and render every error,
    including Flask's own 404/405/413 and anything unexpected, as JSON. `endpoints` is named in 404/405 hints;
    `error_fields` are keys every error answer carries (e.g. the M-Pesa adapter's error_code)."""
    app.config["ERROR_FIELDS"] = dict(error_fields or {})

    @app.before_request
    def require_internal_token() -> None:
        if request.endpoint in open_endpoints:
            return
        sent = request.headers.get(TOKEN_HEADER)
        if sent is None:
            raise ServiceError(401, f"missing {TOKEN_HEADER} header: send the gateway's INTERNAL_TOKEN")
        if not token_matches(sent, app.config.get("INTERNAL_TOKEN")):
            raise ServiceError(401, f"{TOKEN_HEADER} does not match this service's INTERNAL_TOKEN")

    app.register_error_handler(ServiceError, error_response)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> ResponseReturnValue:
        hints = {
            404: f"no such endpoint; this service offers {endpoints}",
            405: f"method not allowed here; this service offers {endpoints}",
            413: "body too large",
        }
        code = exc.code or 500
        return error_response(ServiceError(code, hints.get(code, exc.description or exc.name)))

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> ResponseReturnValue:
        # The single catch-all renderer: log the trace here, never send it.
        log.exception("%s failed unexpectedly", name)
        return error_response(ServiceError(500, f"the {name} failed unexpectedly; see its log"))
