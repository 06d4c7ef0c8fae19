"""Service catalogue: services, routes, field rules, and assigning a service to a client (which generates
the client's function set through function_builder)."""

from __future__ import annotations

import json

from flask import current_app
from sqlalchemy import text
from sqlalchemy.engine import Connection

from adapters.url_policy import ServiceHostRefused, check_url, parse_allowlist
from admin import audit
from admin.clients import get_client
from core import validation as v
from core.actor import Actor
from core.errors import Conflict, InvalidField, NotAssigned, NotFound
from gateway import function_builder
from gateway.fields import FIELD_NAMES, check_pattern

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
    row = (
        conn.execute(
            text(
                "SELECT s.id, s.name, s.display_name, s.kind, s.base_url, s.timeout_s::float AS timeout_s, s.settings, "
                "s.active, s.created_at, "
                "(SELECT coalesce(json_agg(r.route ORDER BY r.id), '[]') FROM gateway.service_routes r "
                " WHERE r.service_id = s.id) AS routes, "
                "(SELECT coalesce(json_agg(json_build_object('field', f.field, 'required', f.required, "
                " 'pattern', f.pattern, 'max_length', f.max_length) ORDER BY f.field), '[]') "
                " FROM gateway.service_fields f WHERE f.service_id = s.id) AS fields "
                "FROM gateway.services s WHERE s.name = :n"
            ),
            {"n": name},
        )
        .mappings()
        .first()
    )
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
        "settings": json.dumps(settings),
    }
    routes, rules = _routes(data), _fields(data)
    if conn.execute(text("SELECT 1 FROM gateway.services WHERE name = :n"), {"n": name}).first():
        raise Conflict(f"a service named {name!r} exists; choose another name or edit it")
    service_id = conn.execute(
        text(
            "INSERT INTO gateway.services (name, display_name, kind, base_url, timeout_s, settings) "
            "VALUES (:name, :display_name, :kind, :base_url, :timeout_s, CAST(:settings AS jsonb)) RETURNING id"
        ),
        values,
    ).scalar_one()
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
        sets["settings"] = json.dumps(data["settings"])
    for key, value in sets.items():  # keys come from the fixed list above
        cast = "CAST(:val AS jsonb)" if key == "settings" else ":val"
        conn.execute(
            text(f"UPDATE gateway.services SET {key} = {cast}, updated_at = now() WHERE id = :id"),  # noqa: S608
            {"val": value, "id": before["id"]},
        )
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
            text(
                "INSERT INTO gateway.service_routes (service_id, route) VALUES (:s, :r) "
                "ON CONFLICT (service_id, route) DO NOTHING"
            ),
            {"s": service_id, "r": route},
        )
    conn.execute(text("DELETE FROM gateway.service_fields WHERE service_id = :s"), {"s": service_id})
    for rule in rules:
        conn.execute(
            text(
                "INSERT INTO gateway.service_fields (service_id, field, required, pattern, max_length) "
                "VALUES (:s, :field, :required, :pattern, :max_length)"
            ),
            {"s": service_id, **rule},
        )


def list_services(conn: Connection) -> list[dict]:
    names = conn.execute(text("SELECT name FROM gateway.services ORDER BY name")).scalars().all()
    return [get_service(conn, n) for n in names]


def assign(conn: Connection, app_id: str, service_name: str, actor: Actor | None) -> dict:
    """Assign a service to a client and generate one function set per route (idempotent: re-assigning
    adds functions for new routes and keeps DBA edits)."""
    client = get_client(conn, app_id)
    service = get_service(conn, service_name)
    assignment_id = conn.execute(
        text(
            "INSERT INTO gateway.assignments (client_id, service_id) VALUES (:c, :s) "
            "ON CONFLICT (client_id, service_id) DO UPDATE SET active = true RETURNING id"
        ),
        {"c": client["id"], "s": service["id"]},
    ).scalar_one()
    author = (actor or {}).get("username", "system")
    functions = []
    for route_id, route in conn.execute(
        text("SELECT id, route FROM gateway.service_routes WHERE service_id = :s ORDER BY id"), {"s": service["id"]}
    ).all():
        names = function_builder.function_names(app_id, service_name, route)
        registry_id = conn.execute(
            text(
                "INSERT INTO gateway.function_registry (assignment_id, client_id, service_id, route_id, request_fn, "
                "response_fn, callback_fn, template_kind) VALUES (:a, :c, :s, :r, :req, :resp, :cb, :kind) "
                "ON CONFLICT (assignment_id, route_id) DO UPDATE SET updated_at = now() RETURNING id"
            ),
            {
                "a": assignment_id,
                "c": client["id"],
                "s": service["id"],
                "r": route_id,
                "req": names.request,
                "resp": names.response,
                "cb": names.callback,
                "kind": service["kind"],
            },
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
    audit.record(conn, actor, "service.assign", f"{app_id}/{service_name}", after={"functions": functions})
    return {"app_id": app_id, "service": service_name, "assignment_id": assignment_id, "functions": functions}


def set_assignment_active(conn: Connection, app_id: str, service_name: str, active: bool, actor: Actor | None) -> None:
    client, service = get_client(conn, app_id), get_service(conn, service_name)
    updated = conn.execute(
        text("UPDATE gateway.assignments SET active = :a WHERE client_id = :c AND service_id = :s"),
        {"a": active, "c": client["id"], "s": service["id"]},
    ).rowcount
    if not updated:
        raise NotFound(f"service {service_name!r} is not assigned to {app_id!r}")
    audit.record(conn, actor, "service.assignment_active", f"{app_id}/{service_name}", after={"active": active})


def client_functions(conn: Connection, app_id: str) -> list[dict]:
    """The registry rows of a client: what each route calls and whether a DBA edited it."""
    rows = (
        conn.execute(
            text(
                "SELECT fr.id, s.name AS service, sr.route, fr.fn_schema, fr.request_fn, fr.response_fn, "
                "fr.callback_fn, fr.template_kind, fr.state, a.active, fr.updated_at FROM gateway.function_registry fr "
                "JOIN gateway.assignments a ON a.id = fr.assignment_id JOIN gateway.services s ON s.id = fr.service_id "
                "JOIN gateway.service_routes sr ON sr.id = fr.route_id JOIN gateway.clients c ON c.id = fr.client_id "
                "WHERE c.app_id = :a ORDER BY s.name, sr.route"
            ),
            {"a": app_id},
        )
        .mappings()
        .all()
    )
    return [dict(r) for r in rows]
