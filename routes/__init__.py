"""The whole URL map in one list."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from routes import (
        api_admin,
        api_auth,
        api_billing,
        api_callbacks,
        api_docs,
        api_functions,
        api_isp,
        api_payments,
        api_usage,
        health,
        hotspot,
    )
    from routes.portal import register as register_portal

    for module in (
        health, api_auth, api_payments, api_callbacks, api_admin, api_functions, api_billing, api_isp, api_usage,
        api_docs, hotspot,
    ):  # fmt: skip
        app.register_blueprint(module.bp)
    register_portal(app)
