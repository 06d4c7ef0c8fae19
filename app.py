"""create_app(): binds extensions, registers blueprints, error handlers and CLI. Nothing runs at import."""

from __future__ import annotations

import logging
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import Flask, Response
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
from routes.cookie_session import CookieSessionInterface
from routes.rate_limits import limiter


class JSONProvider(DefaultJSONProvider):
    """ISO 8601 timestamps and exact decimals in every JSON answer (Flask's default is an HTTP date)."""

    @staticmethod
    def default(o: Any) -> Any:
        if isinstance(o, datetime | date):
            return o.isoformat()
        if isinstance(o, Decimal):
            return str(o)
        return DefaultJSONProvider.default(o)


def _retry_after_only_when_limited(response: Response) -> Response:
    """Flask-Limiter sends Retry-After with every answer; it means "wait", so only a 429 or 503 keeps it."""
    if response.status_code not in (429, 503):
        response.headers.pop("Retry-After", None)
    return response


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
    app.session_interface = CookieSessionInterface()
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
    # The API's limits are counted after authentication (gateway/limits.py), in PostgreSQL unless a store is set.
    limits.parse_rate(app.config["RATELIMIT_DEFAULT"])
    limits.parse_rate(app.config["RATELIMIT_ANONYMOUS"])
    app.extensions["rate_store"] = limits.external_store(app)
    # Flask-Limiter keeps only the limits routes declare themselves (the captive page's, per address): no
    # app-wide default, which would count the API per App-ID header again.
    app.config["RATELIMIT_STORAGE_URI"] = app.config["RATELIMIT_STORAGE_URI"] or "memory://"
    app.config["RATELIMIT_HEADERS_ENABLED"] = True
    app.after_request(_retry_after_only_when_limited)  # registered first, so it runs after the limiter's headers
    # Flask-Limiter would read RATELIMIT_DEFAULT as an app-wide limit keyed on the App-ID header, the very hole
    # gateway/limits.py closes: it must not see it (it reads its config only here).
    client_default = app.config.pop("RATELIMIT_DEFAULT")
    limiter.init_app(app)
    app.config["RATELIMIT_DEFAULT"] = client_default

    register_error_handlers(app)
    api_log.register(app)
    register_blueprints(app)
    cli.register(app)
    return app
