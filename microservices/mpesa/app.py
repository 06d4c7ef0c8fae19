"""HTTP face of the M-Pesa adapter: POST /stkpush, POST /stkquery, GET /healthz, for the gateway only.

Every call but /healthz must carry X-Internal-Token. Every error is JSON {"status","message","error_code"}.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import requests
from flask import Flask, jsonify
from werkzeug.serving import make_server

from config import Config, check_microservice_production
from core.crypto import SecretBox
from microservices import http_face
from microservices.http_face import json_object
from microservices.mpesa.daraja import DarajaClient
from microservices.mpesa.payloads import parse_push, parse_query
from microservices.mpesa.token_cache import MemoryTokenCache, PostgresTokenCache, TokenCache

log = logging.getLogger(__name__)

# Defaults until config.py carries these names; a settings dict given to create_app wins over both.
DEFAULTS = {
    "DARAJA_CONNECT_TIMEOUT_S": 5,
    "DARAJA_READ_TIMEOUT_S": 30,
    "DARAJA_TOKEN_MARGIN_S": 60,  # use a cached token until this long before it expires
    "DARAJA_QUERY_ATTEMPTS": 2,
    "DARAJA_RETRY_BACKOFF_S": 0.2,
    "MAX_CONTENT_LENGTH": 64 * 1024,
}


def load_settings(overrides: dict | None = None) -> dict:
    """Return Config's values for this service, then the defaults above, then `overrides`."""
    settings = {name: getattr(Config, name, default) for name, default in DEFAULTS.items()}
    settings.update(
        DATABASE_URL=Config.DATABASE_URL, INTERNAL_TOKEN=Config.INTERNAL_TOKEN, ENCRYPTION_KEY=Config.ENCRYPTION_KEY
    )
    settings.update(overrides or {})
    return settings


def build_token_cache(settings: dict) -> TokenCache:
    """Shared PostgreSQL cache when DATABASE_URL is set; otherwise an in-process one (single-instance dev only)."""
    margin = float(settings["DARAJA_TOKEN_MARGIN_S"])
    if settings.get("DATABASE_URL"):
        lock_wait = float(settings["DARAJA_CONNECT_TIMEOUT_S"]) + float(settings["DARAJA_READ_TIMEOUT_S"]) + 10
        box = SecretBox(settings["ENCRYPTION_KEY"])
        return PostgresTokenCache(settings["DATABASE_URL"], box, margin_s=margin, lock_wait_s=lock_wait)
    log.warning("DATABASE_URL is empty: Daraja tokens are cached in memory; run only one instance like this")
    return MemoryTokenCache(margin_s=margin)


def _register_routes(app: Flask, client: DarajaClient) -> None:
    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    @app.post("/stkpush")
    def stkpush():
        return jsonify(client.stk_push(parse_push(json_object())))

    @app.post("/stkquery")
    def stkquery():
        return jsonify(client.stk_query(parse_query(json_object())).to_dict())


def create_app(settings: dict | None = None) -> Flask:
    """Build the adapter; nothing connects until the first request."""
    conf = load_settings(settings)
    check_microservice_production(conf, ("INTERNAL_TOKEN", "ENCRYPTION_KEY"))
    app = Flask(__name__)
    app.config.update(conf)
    app.json.sort_keys = False  # keep Daraja's field order in pass-through answers
    session = requests.Session()
    session.headers["User-Agent"] = "mospay-mpesa-adapter/0.1"
    client = DarajaClient(
        session,
        build_token_cache(conf),
        connect_timeout_s=float(conf["DARAJA_CONNECT_TIMEOUT_S"]),
        read_timeout_s=float(conf["DARAJA_READ_TIMEOUT_S"]),
        query_attempts=int(conf["DARAJA_QUERY_ATTEMPTS"]),
        retry_backoff_s=float(conf["DARAJA_RETRY_BACKOFF_S"]),
    )
    app.extensions["mpesa_client"] = client
    endpoints = "POST /stkpush, POST /stkquery and GET /healthz"
    http_face.install(app, endpoints, "M-Pesa adapter", error_fields={"error_code": None})
    _register_routes(app, client)
    return app


def main() -> None:
    """Serve on 127.0.0.1 (port from Config.MPESA_SERVICE_PORT, else the port of Config.MPESA_SERVICE_URL)."""
    logging.basicConfig(level=logging.INFO)
    port = getattr(Config, "MPESA_SERVICE_PORT", None) or urlsplit(Config.MPESA_SERVICE_URL).port or 5101
    server = make_server("127.0.0.1", int(port), create_app(), threaded=True)
    log.info("M-Pesa adapter listening", extra={"port": port})
    server.serve_forever()


if __name__ == "__main__":
    main()
