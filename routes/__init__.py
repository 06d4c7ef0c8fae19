"""The whole URL map in one list."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from routes import api_admin, api_auth, api_billing, api_callbacks, api_docs, api_isp, api_payments, health, hotspot

    for module in (health, api_auth, api_payments, api_callbacks, api_admin, api_billing, api_isp, api_docs, hotspot):
        app.register_blueprint(module.bp)
    try:
        from routes.portal import register as register_portal
    except ImportError:  # the portal is optional in API-only deployments
        return
    register_portal(app)
