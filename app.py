"""create_app(): binds extensions, registers blueprints, error handlers and CLI. Nothing runs at import."""

from __future__ import annotations

import logging
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider
from werkzeug.middleware.proxy_fix import ProxyFix

import cli
import config
from adapters.http import HttpAdapter, make_session
from adapters.url_policy import parse_allowlist
from core import db
from core.crypto import derive_key
from core.errors import register_error_handlers
from gateway import api_log, limits
from routes import register_blueprints


class JSONProvider(DefaultJSONProvider):
    """ISO 8601 timestamps and exact decimals in every JSON answer (Flask's default is an HTTP date)."""

    @staticmethod
    def default(o: Any) -> Any:
        if isinstance(o, datetime | date):
            return o.isoformat()
        if isinstance(o, Decimal):
            return str(o)
        return DefaultJSONProvider.default(o)


def _separate_keys(app: Flask) -> None:
    """One key per purpose (derived from SECRET_KEY unless configured); Flask's own SECRET_KEY (sessions, CSRF,
    remember-me) becomes the session key, so the master secret itself signs nothing."""
    for name, purpose in (("JWT_SECRET_KEY", "jwt"), ("SESSION_SECRET_KEY", "session"), ("HASH_KEY", "hash")):
        if not app.config.get(name):
            app.config[name] = derive_key(app.config["SECRET_KEY"], purpose)
    app.config["SECRET_KEY"] = app.config["SESSION_SECRET_KEY"]


def create_app(settings: dict[str, Any] | None = None) -> Flask:
    """Build the gateway. `settings` overrides config.Config (tests pass their database URL here)."""
    app = Flask(__name__)
    app.json = JSONProvider(app)
    app.config.from_mapping(config.Config.as_dict())
    app.config.update(settings or {})
    config.check_production(app.config)
    _separate_keys(app)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    if app.config["TRUSTED_PROXY_COUNT"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["TRUSTED_PROXY_COUNT"])  # type: ignore[method-assign]
    if app.config["DATABASE_URL"]:
        app.extensions["db_engine"] = db.make_engine(
            app.config["DATABASE_URL"], app.config["DB_POOL_SIZE"], app.config["DB_STATEMENT_TIMEOUT_MS"]
        )
    app.extensions["service_adapter"] = HttpAdapter(
        make_session(),
        app.config["INTERNAL_TOKEN"],
        retries=app.config["SERVICE_RETRIES"],
        host_allowlist=parse_allowlist(app.config["SERVICE_HOST_ALLOWLIST"]),
    )
    # Rate limits are counted after authentication (gateway/limits.py), in PostgreSQL unless a store is set.
    limits.parse_rate(app.config["RATELIMIT_DEFAULT"])
    limits.parse_rate(app.config["RATELIMIT_ANONYMOUS"])
    app.extensions["rate_store"] = limits.external_store(app)

    register_error_handlers(app)
    api_log.register(app)
    register_blueprints(app)
    cli.register(app)
    return app
