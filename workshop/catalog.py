"""Client functions as the workshop sees them: which route each belongs to, its ABI, its versions and diffs."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from sqlalchemy import Select, func, or_, select
from sqlalchemy.engine import Connection

from core.errors import InvalidField, NotFound
from gateway import function_builder
from models import Client, FunctionRegistry, FunctionVersion, Service, ServiceRoute

FN_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# Argument types and result of each ABI, as pg_proc prints them (oidvectortypes, pg_get_function_result).
ABI_ARGS = {"request": "text, json", "response": "text, json, integer, json", "callback": "text, json, json"}
ABI_RESULT = "TABLE(results json)"

FR, V = FunctionRegistry, FunctionVersion
VERSION_COLUMNS = (V.version, V.origin, V.author, V.reason, V.created_at)


def _routes() -> Select:
    """Registry rows with the names of their client, service and route."""
    return (
        select(
            FR.id.label("registry_id"), FR.client_id, Client.app_id, Service.name.label("service"), ServiceRoute.route
        )
        .add_columns(FR.request_fn, FR.response_fn, FR.callback_fn, FR.state, FR.template_kind)
        .join(Client, Client.id == FR.client_id)
        .join(Service, Service.id == FR.service_id)
        .join(ServiceRoute, ServiceRoute.id == FR.route_id)
    )


@dataclass(frozen=True)
class FunctionRef:
    """One client function and the route it serves."""

    name: str
    abi: str
    registry_id: int
    client_id: int
    app_id: str
    service: str
    route: str
    request_fn: str
    response_fn: str
    callback_fn: str | None


def resolve(conn: Connection, name: str) -> FunctionRef:
    """The registered function called `name` (as in pg_proc).

    :raise NotFound: no route of any client has a function of that name.
    """
    if not FN_NAME.match(name or ""):
        raise NotFound(f"no client function is called {name!r}")
    base = re.sub(r"^(response|callback)_", "", name)  # the request function's name is the route's key
    query = _routes().where(
        FR.fn_schema == function_builder.FN_SCHEMA,
        FR.request_fn.in_((name, base)),
        or_(FR.request_fn == name, FR.response_fn == name, FR.callback_fn == name),
    )
    row = conn.execute(query.limit(1)).mappings().first()
    if row is None:
        raise NotFound(f"no client function is called {name!r}; list them with GET /api/v1/admin/functions")
    abi = "request" if name == row["request_fn"] else ("response" if name == row["response_fn"] else "callback")
    return FunctionRef(
        name=name,
        abi=abi,
        **{k: row[k] for k in ("registry_id", "client_id", "app_id", "service", "route")},
        request_fn=row["request_fn"],
        response_fn=row["response_fn"],
        callback_fn=row["callback_fn"],
    )


def list_functions(conn: Connection, app_id: str | None = None) -> list[dict]:
    """Every existing client function (optionally of one client) with its latest version and edited flag."""
    routes = _routes().order_by(Client.app_id, Service.name, ServiceRoute.route)
    if app_id is not None:
        routes = routes.where(Client.app_id == app_id)
    registry = conn.execute(routes).mappings().all()
    latest = select(V.fn_name, func.max(V.version).label("version")).group_by(V.fn_name).subquery()
    versions = {
        r.fn_name: (r.version, r.origin)
        for r in conn.execute(
            select(V.fn_name, V.version, V.origin).join(
                latest, (latest.c.fn_name == V.fn_name) & (latest.c.version == V.version)
            )
        )
    }
    existing = function_builder.existing_functions(conn)
    out = []
    for row in registry:
        for abi in ("request", "response", "callback"):
            name = row[f"{abi}_fn"]
            if not name or name not in existing:
                continue
            version, origin = versions.get(name, (None, None))
            out.append(
                {
                    "name": name,
                    "abi": abi,
                    "app_id": row["app_id"],
                    "service": row["service"],
                    "route": row["route"],
                    "version": version,
                    "edited": origin not in (None, "generated"),
                }
            )
    return out


def describe(conn: Connection, ref: FunctionRef) -> dict:
    """The function's live source, latest version and route."""
    latest = conn.execute(
        select(V.version, V.origin).where(V.fn_name == ref.name).order_by(V.version.desc()).limit(1)
    ).first()
    live = function_builder.current_source(conn, ref.name)
    if live is None:
        raise NotFound(f"function clientfn.{ref.name} does not exist in the database: re-assign the service")
    return {
        "name": ref.name,
        "schema": function_builder.FN_SCHEMA,
        "abi": ref.abi,
        "app_id": ref.app_id,
        "service": ref.service,
        "route": ref.route,
        "source": live,
        "version": latest[0] if latest else None,
        "edited": bool(latest) and latest[1] != "generated",
        "route_functions": {"request": ref.request_fn, "response": ref.response_fn, "callback": ref.callback_fn},
    }


def versions(conn: Connection, name: str) -> list[dict]:
    """Every stored version of a function, newest first, without sources."""
    rows = conn.execute(select(*VERSION_COLUMNS).where(V.fn_name == name).order_by(V.version.desc())).mappings()
    return [dict(r) for r in rows]


def version(conn: Connection, name: str, number: int) -> dict:
    """One stored version with its source.

    :raise NotFound: no such version.
    """
    query = select(*VERSION_COLUMNS, V.source).where(V.fn_name == name, V.version == number)
    row = conn.execute(query).mappings().first()
    if row is None:
        raise NotFound(f"{name} has no version {number}; GET …/versions lists them")
    return dict(row)


def diff(conn: Connection, name: str, old: int, new: int) -> str:
    """A unified diff between two stored versions."""
    a, b = version(conn, name, old), version(conn, name, new)
    return "".join(
        difflib.unified_diff(
            a["source"].splitlines(keepends=True),
            b["source"].splitlines(keepends=True),
            fromfile=f"{name} v{old}",
            tofile=f"{name} v{new}",
        )
    )


def version_number(value: object, what: str = "version") -> int:
    """A positive version number from JSON or a query string.

    :raise InvalidField: not a positive integer.
    """
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).isdigit() or int(value) < 1:
        raise InvalidField(f"{what} must be a positive integer version number")
    return int(value)
