"""The public captive page at /hotspot/<app_id>: a subscriber picks a plan, pays by STK push, watches the
progress and is signed in on the MikroTik hotspot. Mobile-first, CSRF on every form, rate-limited per source
address, and nothing secret in a URL: what must survive a redirect (payment id, a new password until shown once,
the hotspot's parameters) sits in the signed session cookie, the password encrypted.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import generate_csrf, validate_csrf
from wtforms.validators import ValidationError

import payment_processor
from billing import captive, catalogue, subscribers
from core import db
from core.crypto import SecretBox, app_secret_box, new_token
from core.errors import GatewayError, InvalidField
from routes.rate_limits import limiter

bp = Blueprint("hotspot", __name__, url_prefix="/hotspot")
FORM_LIMIT = "10/minute;60/hour"
# Forms may post to the hotspot's own login page (http on the LAN), nothing else leaves this origin.
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; "
       "base-uri 'self'; form-action 'self' http: https:; frame-ancestors 'none'")  # fmt: skip


def _limit() -> str:
    return str(current_app.config.get("HOTSPOT_RATE_LIMIT") or FORM_LIMIT)


# Per source address, not the shared default key: the page is public and has no App-ID header.
per_ip = limiter.limit(_limit, key_func=get_remote_address, methods=["POST"])


@bp.before_request
def _limited() -> None:
    """The limiter checks only where asked (routes/rate_limits.py): here, the limits of the views marked per_ip."""
    limiter.check()


def _box() -> SecretBox:
    return app_secret_box()


def _state(app_id: str) -> dict:
    return session.setdefault(f"hs:{app_id}", {})


def _save(app_id: str, **changes: Any) -> None:
    state = {**_state(app_id), **changes}
    session[f"hs:{app_id}"] = {k: v for k, v in state.items() if v is not None}


def _check_csrf() -> None:
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError as exc:
        raise InvalidField("the form expired: reload the page and try again") from exc


def _page(app_id: str, status: int = 200, error: str | None = None) -> ResponseReturnValue:
    state = _state(app_id)
    with db.transaction() as conn:
        account = subscribers.merchant_view(conn, app_id, state["user"]) if state.get("user") else None
        offer = captive.offer(conn, app_id, account["service_type"] if account else "hotspot")
        if account:
            for plan in offer["plans"]:
                plan["effect"] = captive.renewal_effect(conn, offer["client_id"], account["username"], plan["code"])
    return render_template("hotspot/index.html", offer=offer, account=account, error=error,
                           login=state.get("login"), csrf_token=generate_csrf()), status  # fmt: skip


@bp.errorhandler(GatewayError)
def _gateway_error(exc: GatewayError) -> ResponseReturnValue:
    """A refused form (expired token, bad phone, wrong plan, …) is shown on the captive page itself with its
    status; the JSON poll answers JSON; an unknown ISP gets the plain error page."""
    if request.endpoint == "hotspot.progress":
        return jsonify(exc.body()), exc.http_status
    app_id = (request.view_args or {}).get("app_id")
    if exc.http_status == 404 or not app_id:
        return render_template("errors/error.html", status=exc.http_status, message=exc.message), exc.http_status
    return _page(app_id, exc.http_status, exc.message)


@bp.after_request
def _headers(response):  # noqa: ANN001, ANN202 - Flask hook
    # A page that can show a password: never cached, never framed, never leaking its address as a Referer.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Content-Security-Policy"] = CSP
    return response


@bp.route("/<app_id>", methods=["GET", "POST"])
def index(app_id: str) -> ResponseReturnValue:
    """The landing page; the router's login.html sends mac, ip, link-login-only and dst here (GET or POST)."""
    values = request.form if request.method == "POST" else request.args
    if any(k in values for k in ("mac", "ip", "link-login-only", "link-login", "dst")):
        login = captive.hotspot_login(values, tuple(current_app.config.get("HOTSPOT_LOGIN_HOSTS") or ()))
        _save(app_id, login=login.__dict__)
        return redirect(url_for("hotspot.index", app_id=app_id))  # drop the parameters from the address bar
    return _page(app_id)


@bp.post("/<app_id>/signin")
@per_ip
def signin(app_id: str) -> ResponseReturnValue:
    """Username and password the subscriber already has → their account view."""
    _check_csrf()
    with db.transaction() as conn:
        found = captive.sign_in(conn, _box(), app_id, request.form.get("username", ""),
                                request.form.get("password", ""))  # fmt: skip
    if found is None:
        return _page(app_id, 401, "wrong username or password")
    _save(app_id, user=found["username"])
    return redirect(url_for("hotspot.index", app_id=app_id))


@bp.post("/<app_id>/signout")
def signout(app_id: str) -> ResponseReturnValue:
    _check_csrf()
    session.pop(f"hs:{app_id}", None)
    return redirect(url_for("hotspot.index", app_id=app_id))


@bp.post("/<app_id>/pay")
@per_ip
def pay(app_id: str) -> ResponseReturnValue:
    """Start the STK push for the chosen plan (a new phone gets a hotspot account first)."""
    _check_csrf()
    _save(app_id, f010=_start_payment(app_id))
    return redirect(url_for("hotspot.wait", app_id=app_id))


def _start_payment(app_id: str) -> str:
    state = _state(app_id)
    with db.transaction() as conn:
        username = state.get("user")
        offer = captive.offer(conn, app_id, None)
        plan = next((p for p in offer["plans"] if p["code"] == request.form.get("plan")), None)
        if plan is None:
            raise InvalidField("pick one of the plans")
        res = captive.pay_route(conn, app_id, offer["pay_service"])
        if username is None:
            username, password = captive.new_customer(conn, app_id, offer["client_id"], request.form.get("phone", ""))
            _save(app_id, user=username, new_password=_box().encrypt(password))
        phone = catalogue.phone_field({"phone": request.form.get("phone")}) or ""
    f010 = "hs-" + new_token()[:24]
    values = captive.payment_fields(app_id, offer["pay_service"], plan, username, phone, f010)
    log = {"method": request.method, "path": request.path, "remote_addr": request.remote_addr,
           "started_at": int(time.time() * 1000)}  # fmt: skip
    status, result = payment_processor.process_resolved(res, values, log)
    if status >= 400:
        raise InvalidField(result.get("message") or "the payment could not be started")
    return f010


@bp.get("/<app_id>/wait")
def wait(app_id: str) -> ResponseReturnValue:
    """Progress page: polls /progress until the payment is confirmed (or fails)."""
    if not _state(app_id).get("f010"):
        return redirect(url_for("hotspot.index", app_id=app_id))
    with db.transaction() as conn:
        offer = captive.offer(conn, app_id, None)
    return render_template("hotspot/wait.html", offer=offer, csrf_token=generate_csrf())


@bp.get("/<app_id>/progress")
def progress(app_id: str) -> ResponseReturnValue:
    """JSON {stage, message, ends_at} of this browser's latest payment."""
    f010 = _state(app_id).get("f010")
    with db.transaction() as conn:
        offer = captive.offer(conn, app_id, None)
        found = captive.progress(conn, offer["client_id"], f010) if f010 else None
    if found is None:
        return jsonify({"status": "404", "message": "no payment started from this browser"}), 404
    return jsonify({"status": "200", **found})


@bp.get("/<app_id>/done")
def done(app_id: str) -> ResponseReturnValue:
    """Connected: the end time, a new password shown once, and the device sign-in on the hotspot."""
    state = _state(app_id)
    if not state.get("f010") or not state.get("user"):
        return redirect(url_for("hotspot.index", app_id=app_id))
    with db.transaction() as conn:
        offer = captive.offer(conn, app_id, None)
        found = captive.progress(conn, offer["client_id"], state["f010"])
        login = state.get("login") or {}
        password = None
        if found and found["stage"] == "connected" and login.get("link_login_only"):
            password = captive.stored_password(conn, _box(), app_id, state["user"])
    new_password = _box().decrypt(state["new_password"]) if state.get("new_password") else None
    if found and found["stage"] == "connected":
        _save(app_id, new_password=None)  # shown once
    return render_template("hotspot/done.html", offer=offer, progress=found, username=state["user"],
                           new_password=new_password, login=login, device_password=password)  # fmt: skip
