"""GatewayError tree and the one place errors become HTTP answers."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from core.masking import mask_callback_tokens

log = logging.getLogger(__name__)


class GatewayError(Exception):
    """Base error: carries the HTTP status and a message that says how to fix the problem."""

    http_status = 400
    code = "bad_request"

    def __init__(self, message: str, *, http_status: int | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if http_status is not None:
            self.http_status = http_status

    def body(self) -> dict:
        out = {"status": str(self.http_status), "message": self.message}
        if self.hint:
            out["hint"] = self.hint
        return out


class InvalidField(GatewayError):
    http_status, code = 400, "invalid_field"


class AuthError(GatewayError):
    http_status, code = 401, "unauthorized"


class NotAssigned(GatewayError):
    http_status, code = 403, "forbidden"


class UnknownRoute(GatewayError):
    http_status, code = 404, "not_found"


class NotFound(GatewayError):
    http_status, code = 404, "not_found"


class Conflict(GatewayError):
    http_status, code = 409, "conflict"


class RateLimited(GatewayError):
    """429: over the client's rate limit or monthly quota, or too many failed sign-ins from one address."""

    http_status, code = 429, "rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


class UnsupportedMediaType(GatewayError):
    http_status, code = 415, "unsupported_media_type"


class DatabaseUnavailable(GatewayError):
    http_status, code = 503, "database_unavailable"


class UpstreamTimeout(GatewayError):
    http_status, code = 504, "upstream_timeout"


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz" or not request.accept_mimetypes.accept_html


def _render(status: int, message: str, body: dict | None = None):
    if _wants_json():
        return jsonify(body or {"status": str(status), "message": message}), status
    return render_template("errors/error.html", status=status, message=message), status


HTTP_MESSAGES = {
    404: "Not found: check the URL against the API docs at /api/v1/docs.",
    405: "Method not allowed for this URL: see /api/v1/docs for the allowed method.",
    413: "Request body too large: the limit is 64 KiB.",
    429: "Too many requests: slow down and retry after the time in the Retry-After header.",
}


def register_error_handlers(app: Flask) -> None:
    """Render every error once, as JSON under /api/ and as a page in the portal."""

    @app.errorhandler(GatewayError)
    def _gateway_error(exc: GatewayError):
        response = _render(exc.http_status, exc.message, exc.body())
        if isinstance(exc, RateLimited):
            return response[0], response[1], {"Retry-After": str(exc.retry_after)}
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        status = exc.code or 500
        message = HTTP_MESSAGES.get(status) or (exc.description or exc.name)
        if status == 400 and "CSRF" in (exc.description or ""):
            message = "The form expired or was not sent from this site (missing CSRF token): reload the page and retry."
        return _render(status, message)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        # The single catch-all: log the trace for operators, never show it to the caller.
        log.exception("unhandled error on %s %s", request.method, mask_callback_tokens(request.path))
        body = {"status": "500", "message": "Internal error: the gateway logged it; retry later or contact support."}
        return _render(500, body["message"], body)
