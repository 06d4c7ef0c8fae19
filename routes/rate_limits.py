"""The app's Flask-Limiter: one instance, bound by create_app(), which routes decorate (e.g. the captive page's
per-address limit). It lives here, not in app.py, so a route never imports the app factory."""

from __future__ import annotations

from flask import request
from flask_limiter import Limiter


def _rate_key() -> str:
    # Per client where we know it, else per address: one noisy client cannot starve the others.
    return request.headers.get("App-ID") or request.headers.get("X-App-ID") or request.remote_addr or "unknown"


# auto_check off: Flask-Limiter's before-request check ran on every request (about 3 % of a worker's CPU on the
# payment path) although only the captive page declares a limit. Routes that declare one call
# `limiter.check()` themselves (routes/hotspot.py, in its blueprint's before_request).
limiter = Limiter(key_func=_rate_key, auto_check=False)
