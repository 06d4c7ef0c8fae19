"""Services: list, create, edit (routes, timeout, field definitions, settings), assign to clients."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, url_for

from admin import services
from core import db
from core.errors import GatewayError
from reports import overview as client_overview
from routes.portal import access, form_posts
from routes.portal.forms import (
    FIELD_LABELS,
    AssignClientForm,
    ServiceForm,
    attach_error,
    service_data,
    service_form_data,
)

bp = access.portal_blueprint("portal_services", __name__, "/portal/services")


@bp.get("")
@access.requires("read")
def list_services() -> str:
    with db.transaction() as conn:
        items = services.list_services(conn)
    return render_template("portal/services/list.html", items=items)


@bp.route("/new", methods=["GET", "POST"])
@access.requires("write")
def new_service() -> Response | tuple[str, int]:
    """Define a service; assign it to clients afterwards to generate their functions."""
    form = ServiceForm()
    if not form.is_submitted():
        form.fill_rules([])
    elif form.validate():
        try:
            data = service_data(form)
            with db.transaction() as conn:
                created = services.create_service(conn, data, access.actor())
        except GatewayError as exc:
            attach_error(form, exc.message)
        else:
            flash(f"Service {created['name']} created. Assign it to a client to generate its functions.", "success")
            return redirect(url_for("portal_services.detail", name=created["name"]))
    return render_template("portal/services/form.html", form=form, service=None, field_labels=FIELD_LABELS), (
        400 if form.is_submitted() else 200
    )


def _detail(
    name: str, form: ServiceForm | None = None, assign_form: AssignClientForm | None = None, status: int = 200
) -> tuple[str, int]:
    with db.transaction() as conn:
        service = services.get_service(conn, name)
        assigned = client_overview.service_clients(conn, service["id"])
        choices = client_overview.client_choices(conn)
    if form is None:
        form = ServiceForm(formdata=None, data=service_form_data(service))
        form.fill_rules(service["fields"])
    return render_template(
        "portal/services/form.html",
        form=form,
        service=service,
        assigned=assigned,
        assign_form=assign_form or AssignClientForm(formdata=None),
        client_choices=choices,
        field_labels=FIELD_LABELS,
    ), status


@bp.get("/<name>")
@access.requires("read")
def detail(name: str) -> tuple[str, int]:
    """The service's settings (editable by admins) and the clients it is assigned to."""
    return _detail(name)


@bp.post("/<name>")
@access.requires("write")
def edit(name: str) -> Response | tuple[str, int]:
    with db.transaction() as conn:
        current = services.get_service(conn, name)
    form = ServiceForm()
    # Name and kind are fixed once created (the name is part of function names; the kind chose the templates),
    # so the edit page shows them read-only and they are taken from the stored service.
    form.name.data, form.kind.data = name, current["kind"]
    if form.validate():
        try:
            data = service_data(form, include_name=False)
            with db.transaction() as conn:
                services.update_service(conn, name, data, access.actor())
        except GatewayError as exc:
            attach_error(form, exc.message)
        else:
            flash(f"Service {name} saved.", "success")
            return redirect(url_for("portal_services.detail", name=name))
    return _detail(name, form=form, status=400)


@bp.post("/<name>/assign")
@access.requires("write")
def assign(name: str) -> Response | tuple[str, int]:
    """Assign this service to a client (generates the client's functions for every route)."""
    form = AssignClientForm()
    ok, result = form_posts.apply(
        form, lambda conn: services.assign(conn, form.app_id.data.strip(), name, access.actor())
    )
    if ok:
        flash(
            f"Service {name} assigned to {result['app_id']}: {len(result['functions'])} function set(s) generated.",
            "success",
        )
        return redirect(url_for("portal_services.detail", name=name) + "#clients")
    return _detail(name, assign_form=form, status=400)
