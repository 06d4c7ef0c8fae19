"""Sign-in (password, then a TOTP code or enrolment when the account needs one) and sign-out."""

from __future__ import annotations

import time

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from admin import audit, two_factor, users
from core import db
from core.actor import system_actor
from core.errors import AuthError, InvalidField
from routes.portal import access
from routes.portal.forms import CodeForm, LoginForm

bp = access.portal_blueprint("portal_login", __name__, "/portal")
PENDING_KEY = "pending_login"
PENDING_TTL_S = 300  # the code step must follow the password within 5 minutes
SIGN_IN_ACTOR = system_actor("(sign-in)")


def _authenticate(username: str, password: str) -> tuple[dict | None, str | None]:
    """(user, None) or (None, message). The failure counter must be committed even though sign-in fails,
    so the AuthError is caught inside the transaction instead of rolling it back."""
    with db.transaction() as conn:
        try:
            user = users.authenticate(conn, username, password)
        except AuthError as exc:
            # A password typed into the username box must not land in the audit log: keep only names that
            # could be usernames.
            target = username if users.USERNAME_RE.match(username) else "(not a valid username)"
            audit.record(conn, SIGN_IN_ACTOR, "user.login_failed", target)
            return None, exc.message
    return user, None


def _finish(user: dict, next_url: str | None) -> Response:
    session.clear()  # a new session id for the signed-in user (no session fixation)
    login_user(access.PortalUser(user))
    access.start_session()
    with db.transaction() as conn:
        users.login_succeeded(conn, user["id"])  # all factors passed: only now the failure count resets
        audit.record(conn, users.actor_of(user), "user.login", user["username"])
    if user["must_change_password"]:
        flash("Welcome. Your password was generated for you: choose your own now.", "warning")
        return redirect(url_for("portal_account.change_password"))
    return redirect(access.safe_next(next_url) or url_for("portal_monitoring.dashboard"))


def _pending() -> dict | None:
    """The user who passed the password step and still owes a code, if that was recent."""
    pending = session.get(PENDING_KEY)
    if not pending or time.time() - pending.get("at", 0) > PENDING_TTL_S:
        session.pop(PENDING_KEY, None)
        return None
    with db.transaction() as conn:
        user = users.get_user(conn, pending["uid"])
    if not user or not user["active"] or user["token_version"] != pending["ver"]:
        session.pop(PENDING_KEY, None)
        return None
    return user


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int] | str:
    """Username and password; accounts with two-factor continue to the code step."""
    if current_user.is_authenticated:
        return redirect(url_for("portal_monitoring.dashboard"))
    form = LoginForm()
    next_url = access.safe_next(request.args.get("next"))
    if not form.validate_on_submit():
        return render_template("portal/login/login.html", form=form, next_url=next_url), (
            400 if form.is_submitted() else 200
        )
    user, error = _authenticate(form.username.data.strip(), form.password.data)
    if user is None:
        form.form_errors.append(error)
        return render_template("portal/login/login.html", form=form, next_url=next_url), 401
    if user["totp_secret_enc"] or user["totp_required"]:
        session.clear()
        session[PENDING_KEY] = {
            "uid": user["id"],
            "ver": user["token_version"],
            "at": int(time.time()),
            "next": next_url,
        }
        if user["totp_secret_enc"]:
            return redirect(url_for("portal_login.verify_code"))
        return redirect(url_for("portal_login.enrol_code"))
    return _finish(user, next_url)


@bp.route("/login/code", methods=["GET", "POST"])
def verify_code() -> Response | tuple[str, int] | str:
    """The second step: a code from the user's authenticator app. Wrong codes count toward the lockout."""
    user = _pending()
    if user is None or not user["totp_secret_enc"]:
        flash("Sign in with your password first (the code step expires after 5 minutes).", "info")
        return redirect(url_for("portal_login.login"))
    form = CodeForm()
    if form.validate_on_submit():
        if two_factor.is_locked(user):
            form.code.errors.append("account locked after repeated failures; try again later or ask a super admin")
            return render_template("portal/login/code.html", form=form, user=user), 401
        with db.transaction() as conn:
            ok = two_factor.verify(conn, user["id"], two_factor.decrypt(user["totp_secret_enc"]), form.code.data)
            if not ok:
                locked = users.count_failure(conn, user["id"])
                audit.record(
                    conn,
                    SIGN_IN_ACTOR,
                    "user.login_failed",
                    user["username"],
                    after={"step": "totp"},
                    client_id=user["client_id"],
                )
        if ok:
            return _finish(user, session.get(PENDING_KEY, {}).get("next"))
        form.code.errors.append(
            "account locked after repeated failures; try again later or ask a super admin"
            if locked
            else "that code is not valid now (or was already used): type the current code from your authenticator app"
        )
        return render_template("portal/login/code.html", form=form, user=user), 401
    return render_template("portal/login/code.html", form=form, user=user), 400 if form.is_submitted() else 200


@bp.route("/login/enrol", methods=["GET", "POST"])
def enrol_code() -> Response | tuple[str, int] | str:
    """A super admin requires two-factor for this account and it has none yet: set it up before entering."""
    user = _pending()
    if user is None or user["totp_secret_enc"]:
        flash("Sign in with your password first (the set-up step expires after 5 minutes).", "info")
        return redirect(url_for("portal_login.login"))
    # The candidate secret is kept encrypted in the (signed, not encrypted) session cookie until confirmed.
    if "pending_totp" not in session:
        session["pending_totp"] = two_factor.encrypt(two_factor.new_secret())
    secret = two_factor.decrypt(session["pending_totp"])
    form = CodeForm()
    status = 200
    if form.validate_on_submit():
        try:
            with db.transaction() as conn:
                actor = {"id": user["id"], "username": user["username"]}
                two_factor.enable(conn, user, secret, form.code.data, actor)
                user = users.get_user(conn, user["id"]) or user
        except InvalidField as exc:
            form.code.errors.append(exc.message)
            status = 400
        else:
            session.pop("pending_totp", None)
            flash("Two-factor sign-in is on for your account.", "success")
            return _finish(user, session.get(PENDING_KEY, {}).get("next"))
    elif form.is_submitted():
        status = 400
    return render_template(
        "portal/login/enrol.html",
        form=form,
        user=user,
        secret=secret,
        uri=two_factor.provisioning_uri(secret, user["username"]),
    ), status


@bp.route("/logout", methods=["GET", "POST"])
def logout() -> Response | str:
    """POST signs out (a cross-site GET must not); GET asks for confirmation."""
    if request.method == "GET":
        if not current_user.is_authenticated:
            return redirect(url_for("portal_login.login"))
        return render_template("portal/login/logout.html")
    if current_user.is_authenticated:
        with db.transaction() as conn:
            audit.record(conn, current_user.actor, "user.logout", current_user.username)
    logout_user()
    session.clear()
    flash("You are signed out.", "success")
    return redirect(url_for("portal_login.login"))
