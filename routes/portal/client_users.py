"""A client's own users in the portal: the client's org_admin (or a gateway admin, from the client page) lists
them, creates one with a generated password shown once, changes a role, deactivates or reactivates, unlocks,
requires two-factor sign-in and resets a password. Everything goes through admin.client_users, which finds a user
only within the client of the address, so another client's username answers 404 like one that does not exist."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, url_for

from admin import client_users, clients, two_factor
from admin.roles import CLIENT_ROLES
from core import db
from core.errors import GatewayError, InvalidField
from routes.portal import access
from routes.portal.forms import ClientUserForm, attach_error

bp = access.portal_blueprint("portal_client_users", __name__, "/portal/clients")


def _list(app_id: str, form: ClientUserForm | None = None, status: int = 200, shown: dict | None = None):
    with db.transaction() as conn:
        client = clients.get_client(conn, app_id)
        items = [{**u, "locked": two_factor.is_locked(u)} for u in client_users.list_users(conn, app_id)]
    return render_template(
        "portal/client_users/list.html",
        client=client,
        items=items,
        form=form or ClientUserForm(formdata=None),
        shown=shown,
        roles=CLIENT_ROLES,
    ), status


@bp.get("/<app_id>/users")
@access.requires("client_users", tenants=True)
def list_users(app_id: str) -> tuple[str, int]:
    return _list(app_id)


@bp.post("/<app_id>/users")
@access.requires("client_users", tenants=True)
def create(app_id: str) -> tuple[str, int]:
    """Create the client's user; the generated password is shown in this answer only."""
    form = ClientUserForm()
    if not form.validate_on_submit():
        return _list(app_id, form, 400)
    data = {"username": form.username.data.strip(), "role": form.role.data, "email": (form.email.data or "").strip()}
    try:
        with db.transaction() as conn:
            created = client_users.create(conn, app_id, data, access.actor())
    except GatewayError as exc:
        attach_error(form, exc.message)
        return _list(app_id, form, 400)
    flash(f"User {created['username']} created with role {created['role'].replace('_', ' ')}.", "success")
    return _list(app_id, shown={"username": created["username"], "password": created["password"]})


# The buttons of the users page, each one change of admin.client_users.update.
CHANGES = {
    "activate": {"active": True},
    "deactivate": {"active": False},
    "unlock": {"unlock": True},
    "require_2fa": {"totp_required": True},
    "relax_2fa": {"totp_required": False},
}
DONE = {
    "activate": "{u} activated.",
    "deactivate": "{u} deactivated; their sessions ended.",
    "unlock": "{u} unlocked.",
    "require_2fa": "{u} must set up two-factor sign-in at their next sign-in.",
    "relax_2fa": "{u} no longer has to use two-factor sign-in.",
}


def _action(app_id: str, username: str) -> tuple[str, dict | None]:
    """Run the posted action on one of the client's users: (message, shown-once password or None)."""
    action, actor = request.form.get("action", ""), access.actor()
    with db.transaction() as conn:
        if action == "role":
            user = client_users.update(conn, app_id, username, {"role": request.form.get("role", "")}, actor)
            return f"{user['username']} is now {user['role'].replace('_', ' ')}; their sessions were ended.", None
        if action in CHANGES:
            client_users.update(conn, app_id, username, CHANGES[action], actor)
            return DONE[action].format(u=username), None
        if action == "reset_password":
            shown = client_users.reset_password(conn, app_id, username, actor)
            return f"New password generated for {username}.", {"username": username, "password": shown["password"]}
    raise InvalidField("unknown action: use the buttons on the users page")


@bp.post("/<app_id>/users/<username>")
@access.requires("client_users", tenants=True)
def update(app_id: str, username: str) -> Response | tuple[str, int]:
    try:
        message, shown = _action(app_id, username)
    except GatewayError as exc:
        if exc.http_status == 404:
            raise  # another client's (or no) user: the portal's 404 page, as for any missing object
        flash(exc.message, "danger")
        return redirect(url_for("portal_client_users.list_users", app_id=app_id))
    flash(message, "success")
    if shown:
        return _list(app_id, shown=shown)
    return redirect(url_for("portal_client_users.list_users", app_id=app_id))
