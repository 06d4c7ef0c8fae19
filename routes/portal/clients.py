"""Clients: list, create (secrets shown once), edit, (de)activate, rotate credentials and webhook secret,
Daraja and router credentials (write-only), assigned services. A client's own users open only their client's
page (the list sends them there) and, as org_admin, its credentials section."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm

from admin import clients, services
from core import db
from reports import overview as client_overview
from routes.portal import access, form_posts
from routes.portal.forms import (
    AssignServiceForm,
    ClientEditForm,
    ClientForm,
    MpesaForm,
    RouterForm,
    client_data,
    mpesa_data,
    router_data,
)

bp = access.portal_blueprint("portal_clients", __name__, "/portal/clients")
PER_PAGE = 25


@bp.get("")
@access.requires("read", tenants=True)
def list_clients() -> Response | str:
    """Clients, newest first, searchable by App ID, company or email. A client's own user has one client: the
    list sends them to its page."""
    if access.scope().is_tenant:
        return redirect(url_for("portal_clients.detail", app_id=access.scope().app_id))
    q = (request.args.get("q") or "").strip()
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    with db.transaction() as conn:
        result = clients.list_clients(conn, q or None, page, PER_PAGE)
    pages = max((result["total"] + PER_PAGE - 1) // PER_PAGE, 1)
    return render_template("portal/clients/list.html", result=result, q=q, page=page, pages=pages)


def _secrets_page(client: dict, secrets: dict, title: str) -> tuple[str, int]:
    # Rendered in the answer to the POST, never stored in the session or shown again; no-store keeps it out
    # of the browser cache and the back button.
    return render_template("portal/clients/secrets.html", client=client, secrets=secrets, title=title), 200


@bp.route("/new", methods=["GET", "POST"])
@access.requires("write")
def new_client() -> tuple[str, int]:
    """Create a client; its API secret and webhook secret are shown on the next page only."""
    form = ClientForm()
    ok, created = form_posts.apply(form, lambda conn: clients.create_client(conn, client_data(form), access.actor()))
    if ok:
        flash(f"Client {created['app_id']} created.", "success")
        return _secrets_page(
            created, {k: created[k] for k in ("api_username", "api_secret", "webhook_secret")}, "Client created"
        )
    return render_template("portal/clients/new.html", form=form), 400 if form.is_submitted() else 200


def _detail(app_id: str, status: int = 200, **forms: FlaskForm) -> tuple[str, int]:
    with db.transaction() as conn:
        page = client_overview.client_page(conn, app_id)
    if access.scope().is_tenant:
        page["assignable"] = []  # the gateway's service catalogue is not a client's business
    # Forms that were not the one posted start empty (formdata=None), not from the posted fields.
    assign_form = forms.get("assign_form") or AssignServiceForm(formdata=None)
    assign_form.service.choices = [(s["name"], f"{s['name']} — {s['display_name']}") for s in page["assignable"]]
    return render_template(
        "portal/clients/detail.html",
        **page,
        edit_form=forms.get("edit_form") or ClientEditForm(formdata=None, data=page["client"]),
        mpesa_form=forms.get("mpesa_form") or MpesaForm(formdata=None),
        router_form=forms.get("router_form") or RouterForm(formdata=None, data=_router_defaults(page["providers"])),
        assign_form=assign_form,
    ), status


def _router_defaults(providers: dict) -> dict:
    router = providers.get("router") or {}
    return {
        "host": router.get("host"),
        "port": router.get("port", 8728),
        "username": router.get("username"),
        "tls": router.get("tls", False),
    }


@bp.get("/<app_id>")
@access.requires("read", tenants=True)
def detail(app_id: str) -> tuple[str, int]:
    """Client details, credentials, provider settings and assigned services with their functions."""
    return _detail(app_id)


@bp.post("/<app_id>/edit")
@access.requires("write")
def edit(app_id: str) -> Response | tuple[str, int]:
    form = ClientEditForm()
    ok, _ = form_posts.apply(form, lambda conn: clients.update_client(conn, app_id, client_data(form), access.actor()))
    if ok:
        flash("Client details saved.", "success")
        return redirect(url_for("portal_clients.detail", app_id=app_id))
    return _detail(app_id, 400, edit_form=form)


@bp.post("/<app_id>/status")
@access.requires("write")
def set_status(app_id: str) -> Response:
    """Deactivate (its API calls and tokens are refused at once) or reactivate."""
    active = request.form.get("active") == "1"
    with db.transaction() as conn:
        clients.set_status(conn, app_id, active, access.actor())
    flash(
        f"Client {app_id} {'reactivated' if active else 'deactivated: its API calls are now refused'}.",
        "success" if active else "warning",
    )
    return redirect(url_for("portal_clients.detail", app_id=app_id))


@bp.post("/<app_id>/credentials/rotate")
@access.requires("credentials", tenants=True)
def rotate(app_id: str) -> tuple[str, int]:
    """New API username and secret; the old ones and every token issued with them stop working."""
    with db.transaction() as conn:
        creds = clients.rotate_credentials(conn, app_id, access.actor())
        client = clients.get_client(conn, app_id)
    return _secrets_page(
        client, {"api_username": creds["api_username"], "api_secret": creds["api_secret"]}, "API credentials rotated"
    )


@bp.post("/<app_id>/webhook-secret/rotate")
@access.requires("credentials", tenants=True)
def rotate_webhook(app_id: str) -> tuple[str, int]:
    with db.transaction() as conn:
        result = clients.rotate_webhook_secret(conn, app_id, access.actor())
        client = clients.get_client(conn, app_id)
    return _secrets_page(client, {"webhook_secret": result["webhook_secret"]}, "Webhook secret rotated")


@bp.post("/<app_id>/mpesa")
@access.requires("credentials", tenants=True)
def set_mpesa(app_id: str) -> Response | tuple[str, int]:
    """Store Daraja credentials (encrypted; the secret fields are never shown again)."""
    form = MpesaForm()
    ok, _ = form_posts.apply(
        form, lambda conn: clients.set_mpesa_credentials(conn, app_id, mpesa_data(form), access.actor())
    )
    if ok:
        flash("M-Pesa (Daraja) credentials saved.", "success")
        return redirect(url_for("portal_clients.detail", app_id=app_id) + "#providers")
    return _detail(app_id, 400, mpesa_form=form)


@bp.post("/<app_id>/router")
@access.requires("credentials", tenants=True)
def set_router(app_id: str) -> Response | tuple[str, int]:
    """Store the router's API login (the password is write-only)."""
    form = RouterForm()
    ok, _ = form_posts.apply(
        form, lambda conn: clients.set_router_settings(conn, app_id, router_data(form), access.actor())
    )
    if ok:
        flash("Router settings saved.", "success")
        return redirect(url_for("portal_clients.detail", app_id=app_id) + "#providers")
    return _detail(app_id, 400, router_form=form)


@bp.post("/<app_id>/services")
@access.requires("write")
def assign_service(app_id: str) -> Response | tuple[str, int]:
    """Assign a service: its function set is generated for every route."""
    form = AssignServiceForm()
    with db.transaction() as conn:
        form.service.choices = [(s["name"], s["name"]) for s in client_overview.client_page(conn, app_id)["assignable"]]
    ok, result = form_posts.apply(form, lambda conn: services.assign(conn, app_id, form.service.data, access.actor()))
    if ok:
        flash(
            f"Service {result['service']} assigned: {len(result['functions'])} function set(s) generated.",
            "success",
        )
        return redirect(url_for("portal_clients.detail", app_id=app_id) + "#services")
    return _detail(app_id, 400, assign_form=form)


@bp.post("/<app_id>/services/<service>/active")
@access.requires("write")
def set_assignment(app_id: str, service: str) -> Response:
    active = request.form.get("active") == "1"
    with db.transaction() as conn:
        services.set_assignment_active(conn, app_id, service, active, access.actor())
    flash(f"Service {service} {'enabled' if active else 'disabled'} for {app_id}.", "success")
    return redirect(url_for("portal_clients.detail", app_id=app_id) + "#services")
