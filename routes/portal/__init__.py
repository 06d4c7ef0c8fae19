"""The server-rendered admin portal (SB Admin 2): its blueprints, sign-in sessions, CSRF and template helpers.
Every portal blueprint is made by access.portal_blueprint, so one guard covers them all: sign-in required by
default, CSRF on every write, security headers on every answer."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from flask import Flask, redirect, url_for
from werkzeug.wrappers import Response

from routes.portal import access


def _datetime(value: datetime | str | None) -> str:
    if isinstance(value, str):  # timestamps inside JSON answers of SQL functions (ISO 8601)
        value = datetime.fromisoformat(value)
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "—"


def _money(value: Decimal | float | int | str | None) -> str:
    if value is None or value == "":
        return "—"
    return f"{Decimal(str(value)):,.2f}"


def _number(value: int | None) -> str:
    return f"{value or 0:,}"


def register(app: Flask) -> None:
    """Bind Flask-Login and CSRF, register the portal's blueprints, the `/` redirect and `demo-data`."""
    from routes.portal import (
        account,
        billing,
        client_users,
        clients,
        function_editor,
        functions,
        login,
        monitoring,
        services,
        transactions,
        usage,
        users,
    )

    # CSRF is opt-in per blueprint (access.guard calls csrf.protect()): the JSON API authenticates every
    # request with headers, never with a cookie, so it needs no token, and an API blueprint added later must
    # not start refusing machine clients because someone forgot to exempt it.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    access.csrf.init_app(app)
    access.login_manager.init_app(app)
    access.login_manager.login_view = "portal_login.login"
    access.login_manager.login_message = "Sign in to use the portal."
    access.login_manager.login_message_category = "info"
    access.login_manager.session_protection = "basic"

    for module in (
        login, account, monitoring, transactions, clients, client_users, services, functions, function_editor, usage,
        users, billing,
    ):  # fmt: skip
        app.register_blueprint(module.bp)

    @app.get("/")
    def portal_root() -> Response:
        return redirect(url_for("portal_monitoring.dashboard"))

    app.jinja_env.filters["dt"] = _datetime
    app.jinja_env.filters["money"] = _money
    app.jinja_env.filters["number"] = _number
    app.jinja_env.globals["can"] = access.can
    app.jinja_env.globals["tenant_client"] = access.tenant_client
