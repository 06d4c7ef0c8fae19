"""HTTP face of the router adapter: the gateway posts JSON, this module checks it and calls routeros.py.

Every request carries ``X-Internal-Token``; every answer is JSON with a string ``status`` equal to the HTTP code.
Run with ``python -m microservices.router.app`` or ``gunicorn "microservices.router.app:create_app()"``.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from urllib.parse import urlsplit

from flask import Flask, current_app, jsonify
from flask.typing import ResponseReturnValue

from config import Config, check_microservice_production
from microservices import http_face
from microservices.http_face import json_object
from microservices.router.routeros import (
    SERVICE_TYPES,
    RouterCredentials,
    RouterError,
    SubscriberAccounts,
    install_log_masking,
    open_connection,
)

log = logging.getLogger(__name__)

ENDPOINTS = "POST /activate, /suspend, /remove, /kick, /accounts and GET /healthz"


class InvalidField(RouterError):
    """The body is not what this endpoint needs; the message names the field."""

    def __init__(self, message: str) -> None:
        super().__init__(400, message)


# ---------------------------------------------------------------------------------------------- body checks


def _required(obj: dict, key: str, where: str = "", *, empty: bool = False, max_len: int = 128) -> str:
    """Return a string field. :raise InvalidField: naming the field and what it must be."""
    name, value = f"{where}{key}", obj.get(key)
    if value is None:
        raise InvalidField(f"field '{name}' is required")
    if not isinstance(value, str):
        raise InvalidField(f"field '{name}' must be a string")
    if not value and not empty:
        raise InvalidField(f"field '{name}' must not be empty")
    if len(value) > max_len:
        raise InvalidField(f"field '{name}' must be at most {max_len} characters")
    if not all(" " <= c <= "~" for c in value):  # librouteros sends ASCII only and would fail mid-request
        raise InvalidField(f"field '{name}' must be printable ASCII")
    return value


def _optional(obj: dict, key: str, where: str = "", *, max_len: int = 128) -> str | None:
    """Return a string field that may be absent or empty; None when absent."""
    return None if obj.get(key) is None else _required(obj, key, where, empty=True, max_len=max_len)


def _flag(obj: dict, key: str, default: bool) -> bool:
    value = obj.get(key, default)
    if not isinstance(value, bool):
        raise InvalidField(f"field 'router.{key}' must be true or false")
    return value


def _router(body: dict) -> RouterCredentials:
    router = body.get("router")
    if not isinstance(router, dict):
        raise InvalidField("field 'router' must be an object with host, port, username, password and tls")
    port = router.get("port")
    if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536):
        raise InvalidField("field 'router.port' must be an integer from 1 to 65535 (8728 api, 8729 api-ssl)")
    return RouterCredentials(
        host=_required(router, "host", "router.", max_len=253),
        username=_required(router, "username", "router.", max_len=64),
        password=_required(router, "password", "router.", empty=True, max_len=256),
        port=port,
        tls=_flag(router, "tls", False),
        tls_verify=_flag(router, "tls_verify", True),
        tls_ca=_tls_ca(router),
    )


def _tls_ca(router: dict) -> str | None:
    value = router.get("tls_ca")
    if value is not None and (not isinstance(value, str) or "-----BEGIN CERTIFICATE-----" not in value):
        raise InvalidField("field 'router.tls_ca' must be a PEM certificate (-----BEGIN CERTIFICATE----- ...)")
    return value


def _service_type(body: dict) -> str:
    value = body.get("service_type")
    if value not in SERVICE_TYPES:
        raise InvalidField(f"field 'service_type' must be one of {', '.join(SERVICE_TYPES)}")
    return value


def _request() -> tuple[dict, RouterCredentials, str]:
    body = json_object()
    return body, _router(body), _service_type(body)


def _timeout() -> float:
    return float(current_app.config["ROUTER_TIMEOUT_S"])


# ---------------------------------------------------------------------------------------------- views


def activate() -> ResponseReturnValue:
    """Create or update the subscriber's account with this profile and enable it."""
    body, creds, service_type = _request()
    username = _required(body, "username", max_len=64)
    password = _optional(body, "password")
    profile = _required(body, "profile", max_len=64)
    comment = _optional(body, "comment", max_len=255)
    with open_connection(creds, _timeout()) as conn:
        outcome = SubscriberAccounts(conn, service_type).ensure(username, password, profile, comment)
    log.info("activate %s on %s (%s, profile %s): %s, %d session(s) removed", username, creds.masked(), service_type,
             profile, outcome.result, outcome.sessions_removed)  # fmt: skip
    return _ok(result=outcome.result, id=outcome.id, username=username, service_type=service_type, profile=profile,
               sessions_removed=outcome.sessions_removed)  # fmt: skip


def suspend() -> ResponseReturnValue:
    """Disable the account and end its running sessions."""
    body, creds, service_type = _request()
    username = _required(body, "username", max_len=64)
    with open_connection(creds, _timeout()) as conn:
        outcome = SubscriberAccounts(conn, service_type).suspend(username)
    log.info("suspend %s on %s (%s): %s, %d session(s) removed", username, creds.masked(), service_type,
             outcome.result, outcome.sessions_removed)  # fmt: skip
    return _ok(result=outcome.result, id=outcome.id, sessions_removed=outcome.sessions_removed, username=username,
               service_type=service_type)  # fmt: skip


def remove() -> ResponseReturnValue:
    """Delete the subscriber's account and end its running sessions (the operator removed the subscriber)."""
    body, creds, service_type = _request()
    username = _required(body, "username", max_len=64)
    with open_connection(creds, _timeout()) as conn:
        outcome = SubscriberAccounts(conn, service_type).remove(username)
    log.info("remove %s on %s (%s): %s, %d session(s) removed", username, creds.masked(), service_type,
             outcome.result, outcome.sessions_removed)  # fmt: skip
    return _ok(result=outcome.result, sessions_removed=outcome.sessions_removed, username=username,
               service_type=service_type)  # fmt: skip


def kick() -> ResponseReturnValue:
    """End the user's running sessions; the account stays as it is."""
    body, creds, service_type = _request()
    username = _required(body, "username", max_len=64)
    with open_connection(creds, _timeout()) as conn:
        removed = SubscriberAccounts(conn, service_type).kick(username)
    log.info("kick %s on %s (%s): %d session(s) removed", username, creds.masked(), service_type, removed)
    return _ok(sessions_removed=removed, username=username, service_type=service_type)


def accounts() -> ResponseReturnValue:
    """List the router's accounts of this service type, for drift reconciliation."""
    _body, creds, service_type = _request()
    with open_connection(creds, _timeout()) as conn:
        listing = SubscriberAccounts(conn, service_type).list_all()
    return _ok(service_type=service_type, accounts=[a.to_dict() for a in listing])


def healthz() -> ResponseReturnValue:
    return _ok(service="router-adapter")


def _ok(**fields: object) -> ResponseReturnValue:
    return jsonify({"status": "200", **fields}), 200


# ---------------------------------------------------------------------------------------------- guards and errors


ROUTES: list[tuple[str, str, Callable[[], ResponseReturnValue]]] = [
    ("/activate", "POST", activate),
    ("/suspend", "POST", suspend),
    ("/remove", "POST", remove),
    ("/kick", "POST", kick),
    ("/accounts", "POST", accounts),
    ("/healthz", "GET", healthz),
]


def create_app(settings: dict | None = None) -> Flask:
    """Build the router adapter app; ``settings`` override Config (INTERNAL_TOKEN, ROUTER_TIMEOUT_S, ...)."""
    app = Flask(__name__)
    app.config.update(
        INTERNAL_TOKEN=Config.INTERNAL_TOKEN,
        ROUTER_TIMEOUT_S=getattr(Config, "ROUTER_TIMEOUT_S", 5),
        MAX_CONTENT_LENGTH=Config.MAX_CONTENT_LENGTH,
    )
    app.config.update(settings or {})
    check_microservice_production(app.config)
    install_log_masking()
    for rule, method, view in ROUTES:
        app.add_url_rule(rule, view_func=view, methods=[method])
    http_face.install(app, ENDPOINTS, "router adapter")
    return app


def _default_port() -> int:
    # config.py reads the environment; prefer ROUTER_SERVICE_PORT if declared, else the port of ROUTER_SERVICE_URL.
    declared = getattr(Config, "ROUTER_SERVICE_PORT", None)
    return int(declared or urlsplit(Config.ROUTER_SERVICE_URL).port or 5102)


def main(argv: list[str] | None = None) -> None:
    """Serve the adapter on loopback for ``make run``."""
    parser = argparse.ArgumentParser(description="Router adapter microservice")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=None, help="default: ROUTER_SERVICE_PORT, else 5102")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    create_app().run(host=args.host, port=args.port or _default_port(), threaded=True)


if __name__ == "__main__":
    main()
