"""Daraja (M-Pesa) simulator: Safaricom's OAuth, STK push, STK query and callbacks over the same HTTP/JSON.

The outcome of a push is scripted by the phone number (OUTCOMES). Test helpers live under /simulator/, apart
from the Daraja surface. State is in memory behind one lock; callbacks go out from background threads.
Facts and their sources: docs/protocols/daraja.md; docs/daraja-simulator.md for the table and settings.

This module is the Flask app, ``RunningSimulator`` and the entry point. The layers under it: ``daraja_rules``
(field, password and timestamp checks; ``DarajaFault``) and ``daraja_state`` (outcomes, pushes, tokens, callbacks).
"""

from __future__ import annotations

import base64
import binascii
import logging
import secrets
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.serving import make_server

from simulators.daraja_rules import (
    EAT,
    DarajaFault,
    check_amount,
    check_password,
    check_timestamp,
    check_url,
    eat_now,
    invalid,
    parse_push,
    parse_query,
)
from simulators.daraja_state import (
    LOCK_MESSAGE,
    OUTCOMES,
    SUCCESS,
    SUCCESS_DESC,
    Outcome,
    Push,
    SimulatorState,
    deliver,
    outcome_for,
    schedule_callbacks,
)

# Re-exported: tests, seed scripts and the microservices' tests import the constants and types from here.
__all__ = [
    "ACCEPTED",
    "DEFAULT_SETTINGS",
    "EAT",
    "LOCK_MESSAGE",
    "OUTCOMES",
    "SANDBOX_PASSKEY",
    "SANDBOX_SHORTCODE",
    "SUCCESS",
    "SUCCESS_DESC",
    "DarajaFault",
    "Outcome",
    "Push",
    "RunningSimulator",
    "SimulatorState",
    "check_amount",
    "check_password",
    "check_timestamp",
    "check_url",
    "create_app",
    "deliver",
    "eat_now",
    "invalid",
    "main",
    "parse_push",
    "parse_query",
    "schedule_callbacks",
]

log = logging.getLogger(__name__)

SANDBOX_SHORTCODE = "174379"
SANDBOX_PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
ACCEPTED = "Success. Request accepted for processing"
INVALID_TOKEN = (404, "404.001.03", "Invalid Access Token")

DEFAULT_SETTINGS: dict[str, Any] = {
    "apps": [{"consumer_key": "sim-consumer-key", "consumer_secret": "sim-consumer-secret"}],
    "passkeys": {SANDBOX_SHORTCODE: SANDBOX_PASSKEY},
    "callback_delay_s": 3.0,
    "late_callback_delay_s": 30.0,
    "expire_after_s": 60.0,
    "subscriber_lock": True,
    # Daraja takes any well-formed Timestamp whose Password matches. A window in seconds around EAT now is an
    # opt-in [sim-choice], stricter than Daraja, that catches clients formatting UTC; 0 or None turns it off.
    "timestamp_window_s": 0,
    "token_ttl_s": 3599,
    "expires_in_number": False,  # Daraja's older answer is the string "3599"; True emits a number
    "stk_response_delay_s": 0.0,  # slow down STK push/query answers (timeout tests)
    "callback_timeout_s": 10.0,
}


def _request_id() -> str:
    hexes = [secrets.token_hex(n) for n in (2, 2, 2, 6)]
    return "-".join(hexes) + str(secrets.randbelow(10**7))


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
        outcome = outcome_for(fields)
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
    """Serve the simulator on 127.0.0.1 (port from Config.DARAJA_SIM_PORT, else the port of DARAJA_BASE_URL)
    until SIGINT or SIGTERM."""
    from config import Config
    from lifecycle.shutdown import exit_process, serve

    logging.basicConfig(level=logging.INFO)
    port = getattr(Config, "DARAJA_SIM_PORT", None) or urlsplit(Config.DARAJA_BASE_URL).port or 5201
    settings = {"timestamp_window_s": Config.DARAJA_SIM_TIMESTAMP_WINDOW_S}
    app = create_app(settings)
    server = make_server("127.0.0.1", int(port), app, threaded=True)
    log.info("Daraja simulator listening", extra={"port": port})
    try:
        serve(server)
    finally:
        app.extensions["daraja_simulator"].stopped.set()  # pending callbacks are dropped, not sent late
    exit_process()


if __name__ == "__main__":
    main()
