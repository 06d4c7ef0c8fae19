"""The signed-in user's own account: password change (forced after a generated password) and two-factor."""

from __future__ import annotations

from flask import flash, redirect, render_template, session, url_for
from flask_login import current_user, login_user
from werkzeug.wrappers import Response

from admin import two_factor, users
from core import db
from core.errors import GatewayError
from routes.portal import access, form_posts
from routes.portal.forms import CodeForm, PasswordChangeForm

bp = access.portal_blueprint("portal_account", __name__, "/portal/account")


def _page(
    password_form: PasswordChangeForm | None = None,
    code_form: CodeForm | None = None,
    status: int = 200,
    secret: str | None = None,
) -> tuple[str, int]:
    return render_template(
        "portal/account/account.html",
        password_form=password_form or PasswordChangeForm(),
        code_form=code_form or CodeForm(),
        secret=secret,
        uri=two_factor.provisioning_uri(secret, current_user.username) if secret else None,
    ), status


@bp.get("")
@access.any_signed_in
def account() -> tuple[str, int]:
    """Password and two-factor settings of the signed-in user."""
    return _page()


@bp.route("/password", methods=["GET", "POST"])
@access.any_signed_in
def change_password() -> Response | tuple[str, int]:
    """Change the own password: the current one is asked again; other sessions of this user end."""
    form = PasswordChangeForm()
    forced = current_user.must_change_password
    ok, fresh = form_posts.apply(
        form,
        lambda conn: users.change_own_password(
            conn, current_user.id, form.current_password.data, form.new_password.data, current_user.actor
        ),
    )
    if ok:
        # The change bumped token_version: sign this session in again with the new version.
        login_user(access.PortalUser(fresh))
        access.start_session()
        flash("Password changed. Other sessions of your account were signed out.", "success")
        return redirect(url_for("portal_monitoring.dashboard") if forced else url_for("portal_account.account"))
    status = 400 if form.is_submitted() else 200
    return render_template("portal/account/password.html", form=form, forced=forced), status


@bp.route("/two-factor", methods=["GET", "POST"])
@access.any_signed_in
def enrol() -> Response | tuple[str, int]:
    """Turn on two-factor sign-in: show a new secret, then confirm it with a code from the app."""
    if current_user.has_totp:
        flash("Two-factor sign-in is already on.", "info")
        return redirect(url_for("portal_account.account"))
    if "account_totp" not in session:
        session["account_totp"] = two_factor.encrypt(two_factor.new_secret())
    secret = two_factor.decrypt(session["account_totp"])
    form = CodeForm()
    if form.validate_on_submit():
        try:
            with db.transaction() as conn:
                two_factor.enable(conn, current_user.row, secret, form.code.data, current_user.actor)
        except GatewayError as exc:
            form.code.errors.append(exc.message)
        else:
            session.pop("account_totp", None)
            flash("Two-factor sign-in is on: you will be asked for a code at each sign-in.", "success")
            return redirect(url_for("portal_account.account"))
    return _page(code_form=form, secret=secret, status=400 if form.is_submitted() else 200)


@bp.post("/two-factor/off")
@access.any_signed_in
def disable() -> Response | tuple[str, int]:
    """Turn two-factor off (needs a current code; refused when a super admin requires it)."""
    form = CodeForm()
    if current_user.totp_required:
        flash("A super admin requires two-factor sign-in for your account: it cannot be turned off.", "danger")
        return redirect(url_for("portal_account.account"))
    if not current_user.has_totp:
        return redirect(url_for("portal_account.account"))
    if form.validate_on_submit():
        with db.transaction() as conn:
            ok = two_factor.verify(
                conn, current_user.id, two_factor.decrypt(current_user.row["totp_secret_enc"]), form.code.data
            )
            if ok:
                two_factor.disable(conn, current_user.row, current_user.actor)
        if ok:
            flash("Two-factor sign-in is off.", "success")
            return redirect(url_for("portal_account.account"))
        form.code.errors.append("that code is not valid now (or was already used)")
    return _page(code_form=form, status=400)
