"""User management for super admins: create (generated password shown once), role, (de)activate, unlock,
two-factor policy and reset, password reset. The gateway's own users only: a client's users are managed on
that client's users page (routes/portal/client_users.py)."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, url_for

from admin import two_factor, users
from admin import user_management as user_admin
from core import db
from core.errors import GatewayError, InvalidField
from routes.portal import access
from routes.portal.forms import RoleForm, UserCreateForm, attach_error

bp = access.portal_blueprint("portal_users", __name__, "/portal/users")


def _list(form: UserCreateForm | None = None, status: int = 200, shown: dict | None = None) -> tuple[str, int]:
    with db.transaction() as conn:
        items = users.list_users(conn)  # the gateway's own; a client's users are on its page
    for item in items:
        item["locked"] = two_factor.is_locked(item)
        item["has_totp"] = bool(item.pop("totp_secret_enc", None))
    return render_template(
        "portal/users/list.html",
        items=items,
        form=form or UserCreateForm(formdata=None),
        role_form=RoleForm(formdata=None),
        shown=shown,
        roles=users.ROLES,
    ), status


@bp.get("")
@access.requires("users")
def list_users() -> tuple[str, int]:
    return _list()


@bp.post("")
@access.requires("users")
def create() -> tuple[str, int]:
    """Create a user; a generated password is shown once and must be changed at first sign-in."""
    form = UserCreateForm()
    if not form.validate_on_submit():
        return _list(form, 400)
    try:
        with db.transaction() as conn:
            user, password = users.create_user(
                conn, form.username.data.strip(), form.password.data or None, form.role.data, access.actor()
            )
            if form.totp_required.data:
                user = user_admin.set_totp_required(conn, user["id"], True, access.actor())
    except GatewayError as exc:
        attach_error(form, exc.message)
        return _list(form, 400)
    shown = {"username": user["username"], "password": password} if not form.password.data else None
    flash(f"User {user['username']} created with role {user['role']}.", "success")
    return _list(shown=shown)


def _action(user_id: int) -> tuple[str, dict | None]:
    """Run the posted action on one user; returns (message, shown-once password or None)."""
    action, actor = request.form.get("action", ""), access.actor()
    with db.transaction() as conn:
        if action == "role":
            user = user_admin.set_role(conn, user_id, request.form.get("role", ""), actor)
            return f"{user['username']} is now {user['role']}; their sessions were ended.", None
        if action in ("activate", "deactivate"):
            user = user_admin.set_active(conn, user_id, action == "activate", actor)
            return f"{user['username']} {action}d.", None
        if action == "unlock":
            return f"{user_admin.unlock(conn, user_id, actor)['username']} unlocked.", None
        if action in ("require_totp", "allow_no_totp"):
            user = user_admin.set_totp_required(conn, user_id, action == "require_totp", actor)
            return (
                f"Two-factor is {'required' if user['totp_required'] else 'optional'} for {user['username']}."
            ), None
        if action == "reset_totp":
            return f"Two-factor of {user_admin.reset_totp(conn, user_id, actor)['username']} was reset.", None
        if action == "reset_password":
            user, password = user_admin.reset_password(conn, user_id, actor)
            return f"New password generated for {user['username']}.", {
                "username": user["username"],
                "password": password,
            }
    raise InvalidField("unknown action: use the buttons on the users page")


@bp.post("/<int:user_id>")
@access.requires("users")
def update(user_id: int) -> Response | tuple[str, int]:
    try:
        message, shown = _action(user_id)
    except GatewayError as exc:
        flash(exc.message, "danger")
        return redirect(url_for("portal_users.list_users"))
    flash(message, "success")
    if shown:
        return _list(shown=shown)
    return redirect(url_for("portal_users.list_users"))
