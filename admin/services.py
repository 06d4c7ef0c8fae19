"""Service catalogue: services, routes, field rules, and assigning a service to a client (which generates
the client's function set through function_builder)."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import Float, cast, delete, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection

from adapters.url_policy import ServiceHostRefused, check_url, parse_allowlist
from admin import audit
from admin.clients import get_client
from core import validation as v
from core.actor import Actor
from core.errors import Conflict, InvalidField, NotAssigned, NotFound
from gateway import function_builder
from gateway.fields import FIELD_NAMES, check_pattern
from models import Assignment, Client, FunctionRegistry, Service, ServiceField, ServiceRoute

KINDS = ("http", "mpesa_stk", "router", "subscription", "status")


def _fields(data: dict) -> list[dict]:
    raw = data.get("fields", [])
    if not isinstance(raw, list):
        raise InvalidField("fields must be a list of {field, required, pattern?, max_length?}")
    out, seen = [], set()
    for item in raw:
        if not isinstance(item, dict) or item.get("field") not in FIELD_NAMES:
            raise InvalidField("each fields item needs field = one of f000–f010")
        if item["field"] in seen:
            raise InvalidField(f"field {item['field']} is listed twice")
        seen.add(item["field"])
        pattern = item.get("pattern")
        if pattern is not None:
            if not isinstance(pattern, str):
                raise InvalidField(f"{item['field']}.pattern must be a string")
            check_pattern(pattern)
        max_length = item.get("max_length")
        if max_length is not None and (
            isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1
        ):
            raise InvalidField(f"{item['field']}.max_length must be a positive integer")
        out.append(
            {
                "field": item["field"],
                "required": bool(item.get("required", False)),
                "pattern": pattern,
                "max_length": max_length,
            }
        )
    return out


def _routes(data: dict) -> list[str]:
    routes = data.get("routes")
    if not isinstance(routes, list) or not routes:
        raise InvalidField('routes must be a non-empty list of route names, e.g. ["pay", "status"]')
    for r in routes:
        v.name_field({"route": r}, "route")
    if len(set(routes)) != len(routes):
        raise InvalidField("routes must not repeat")
    return routes


def _base_url(data: dict) -> str:
    """The checked base_url: an http(s) URL whose host is not link-local, metadata or unspecified, and is on
    SERVICE_HOST_ALLOWLIST when one is set. Raises InvalidField."""
    url = (v.url_field(data, "base_url") or "").rstrip("/")
    try:
        check_url(url, parse_allowlist(current_app.config["SERVICE_HOST_ALLOWLIST"]))
    except ServiceHostRefused as exc:
        raise InvalidField(f"base_url refused: {exc}") from exc
    return url


def get_service(conn: Connection, name: str) -> dict:
    """The service with its routes and field rules. Raises NotFound."""
    routes = (
        select(func.coalesce(func.json_agg(aggregate_order_by(ServiceRoute.route, ServiceRoute.id)), text("'[]'")))
        .where(ServiceRoute.service_id == Service.id)
        .scalar_subquery()
    )
    rule = func.json_build_object(
        "field", ServiceField.field, "required", ServiceField.required,
        "pattern", ServiceField.pattern, "max_length", ServiceField.max_length,
    )  # fmt: skip
    fields = (
        select(func.coalesce(func.json_agg(aggregate_order_by(rule, ServiceField.field)), text("'[]'")))
        .where(ServiceField.service_id == Service.id)
        .scalar_subquery()
    )
    columns = (Service.id, Service.name, Service.display_name, Service.kind, Service.base_url)
    query = select(
        *columns,
        cast(Service.timeout_s, Float).label("timeout_s"),
        Service.settings,
        Service.active,
        Service.created_at,
        routes.label("routes"),
        fields.label("fields"),
    ).where(Service.name == name)
    row = conn.execute(query).mappings().first()
    if row is None:
        raise NotFound(f"no service named {name!r}")
    return dict(row)


def create_service(conn: Connection, data: dict, actor: Actor | None) -> dict:
    """Define a service: {name, display_name, kind, base_url, routes, timeout_s?, fields?, settings?}."""
    data = v.body_object(data)
    name = v.name_field(data, "name")
    kind = v.text_field(data, "kind")
    if kind not in KINDS:
        raise InvalidField(f"kind must be one of {', '.join(KINDS)}")
    settings = data.get("settings", {})
    if not isinstance(settings, dict):
        raise InvalidField("settings must be a JSON object")
    values = {
        "name": name,
        "display_name": v.text_field(data, "display_name"),
        "kind": kind,
        "base_url": _base_url(data),
        "timeout_s": v.number_field(data, "timeout_s", default=10, low=0, high=120),
        "settings": settings,
    }
    routes, rules = _routes(data), _fields(data)
    if conn.execute(select(Service.id).where(Service.name == name)).first():
        raise Conflict(f"a service named {name!r} exists; choose another name or edit it")
    service_id = conn.execute(insert(Service).values(**values).returning(Service.id)).scalar_one()
    _replace_routes_and_fields(conn, service_id, routes, rules)
    created = get_service(conn, name)
    audit.record(conn, actor, "service.create", name, after=created)
    return created


def update_service(conn: Connection, name: str, data: dict, actor: Actor | None) -> dict:
    """Edit display name, base URL, timeout, settings, routes (added, never silently dropped) and fields."""
    before = get_service(conn, name)
    data = v.body_object(data)
    sets: dict = {}
    if "display_name" in data:
        sets["display_name"] = v.text_field(data, "display_name")
    if "base_url" in data and data["base_url"] != before["base_url"]:
        # Whoever sets the URL receives the internal token and every assigned merchant's provider keys.
        if (actor or {}).get("role") not in (None, "super_admin"):
            raise NotAssigned("only a super admin can change a service's base_url")
        sets["base_url"] = _base_url(data)
    if "timeout_s" in data:
        sets["timeout_s"] = v.number_field(data, "timeout_s", default=10, low=0, high=120)
    if "active" in data:
        if not isinstance(data["active"], bool):
            raise InvalidField("active must be true or false")
        sets["active"] = data["active"]
    if "settings" in data:
        if not isinstance(data["settings"], dict):
            raise InvalidField("settings must be a JSON object")
        sets["settings"] = data["settings"]
    if sets:
        conn.execute(update(Service).where(Service.id == before["id"]).values(**sets, updated_at=func.now()))
    routes = _routes(data) if "routes" in data else before["routes"]
    removed = set(before["routes"]) - set(routes)
    if removed:
        raise InvalidField(
            f"routes {', '.join(sorted(removed))} cannot be removed while functions exist for them; "
            "deactivate the service instead"
        )
    rules = _fields(data) if "fields" in data else before["fields"]
    _replace_routes_and_fields(conn, before["id"], routes, rules)
    after = get_service(conn, name)
    audit.record(conn, actor, "service.update", name, before=before, after=after)
    return after


def _replace_routes_and_fields(conn: Connection, service_id: int, routes: list[str], rules: list[dict]) -> None:
    for route in routes:
        conn.execute(
            pg_insert(ServiceRoute)
            .values(service_id=service_id, route=route)
            .on_conflict_do_nothing(index_elements=[ServiceRoute.service_id, ServiceRoute.route])
        )
    conn.execute(delete(ServiceField).where(ServiceField.service_id == service_id))
    for rule in rules:
        conn.execute(insert(ServiceField).values(service_id=service_id, **rule))


def list_services(conn: Connection) -> list[dict]:
    names = conn.execute(select(Service.name).order_by(Service.name)).scalars().all()
    return [get_service(conn, n) for n in names]


def assign(conn: Connection, app_id: str, service_name: str, actor: Actor | None) -> dict:
    """Assign a service to a client and generate one function set per route (idempotent: re-assigning
    adds functions for new routes and keeps DBA edits)."""
    client = get_client(conn, app_id)
    service = get_service(conn, service_name)
    assignment_id = conn.execute(
        pg_insert(Assignment)
        .values(client_id=client["id"], service_id=service["id"])
        .on_conflict_do_update(index_elements=[Assignment.client_id, Assignment.service_id], set_={"active": True})
        .returning(Assignment.id)
    ).scalar_one()
    author = (actor or {}).get("username", "system")
    functions = []
    routes = select(ServiceRoute.id, ServiceRoute.route).where(ServiceRoute.service_id == service["id"])
    for route_id, route in conn.execute(routes.order_by(ServiceRoute.id)).all():
        names = function_builder.function_names(app_id, service_name, route)
        row = pg_insert(FunctionRegistry).values(
            assignment_id=assignment_id,
            client_id=client["id"],
            service_id=service["id"],
            route_id=route_id,
            request_fn=names.request,
            response_fn=names.response,
            callback_fn=names.callback,
            template_kind=service["kind"],
        )
        registry_id = conn.execute(
            row.on_conflict_do_update(
                index_elements=[FunctionRegistry.assignment_id, FunctionRegistry.route_id],
                set_={"updated_at": func.now()},
            ).returning(FunctionRegistry.id)
        ).scalar_one()
        report = function_builder.generate(conn, registry_id, author)
        functions.append(
            {
                "route": route,
                "request": f"{function_builder.FN_SCHEMA}.{names.request}",
                "response": f"{function_builder.FN_SCHEMA}.{names.response}",
                "callback": f"{function_builder.FN_SCHEMA}.{names.callback}",
                "generation": report,
            }
        )
    audit.record(
        conn, actor, "service.assign", f"{app_id}/{service_name}", after={"functions": functions}, app_id=app_id
    )
    return {"app_id": app_id, "service": service_name, "assignment_id": assignment_id, "functions": functions}


def set_assignment_active(conn: Connection, app_id: str, service_name: str, active: bool, actor: Actor | None) -> None:
    client, service = get_client(conn, app_id), get_service(conn, service_name)
    updated = conn.execute(
        update(Assignment)
        .where(Assignment.client_id == client["id"], Assignment.service_id == service["id"])
        .values(active=active)
    ).rowcount
    if not updated:
        raise NotFound(f"service {service_name!r} is not assigned to {app_id!r}")
    audit.record(
        conn, actor, "service.assignment_active", f"{app_id}/{service_name}", after={"active": active}, app_id=app_id
    )


def client_functions(conn: Connection, app_id: str) -> list[dict]:
    """The registry rows of a client: what each route calls and whether a DBA edited it."""
    fr = FunctionRegistry
    query = (
        select(fr.id, Service.name.label("service"), ServiceRoute.route, fr.fn_schema, fr.request_fn)
        .add_columns(fr.response_fn, fr.callback_fn, fr.template_kind, fr.state, Assignment.active, fr.updated_at)
        .join(Assignment, Assignment.id == fr.assignment_id)
        .join(Service, Service.id == fr.service_id)
        .join(ServiceRoute, ServiceRoute.id == fr.route_id)
        .join(Client, Client.id == fr.client_id)
        .where(Client.app_id == app_id)
        .order_by(Service.name, ServiceRoute.route)
    )
    rows = conn.execute(query).mappings().all()
    return [dict(r) for r in rows]
