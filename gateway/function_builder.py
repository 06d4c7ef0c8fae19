"""Renders a client's function set from sql/templates on assignment; keeps every version; never
silently overwrites a DBA's edit."""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass
from pathlib import Path

from psycopg2 import sql
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.engine import Connection

from core import errors
from core.names import NAME_HELP, is_name
from models import Client, FunctionRegistry, FunctionVersion, Service, ServiceRoute

FR = FunctionRegistry

TEMPLATE_DIR = Path(__file__).resolve().parents[1] / "sql" / "templates"
FN_SCHEMA = "clientfn"
ABIS = ("request", "response", "callback")


@dataclass(frozen=True)
class FunctionNames:
    request: str
    response: str
    callback: str

    def of(self, abi: str) -> str:
        return getattr(self, abi)


def function_names(app_id: str, service: str, route: str) -> FunctionNames:
    """The MosPay names for one (client, service, route); parts are validated, never taken raw from input."""
    for part in (app_id, service, route):
        if not is_name(part):
            raise errors.InvalidField(f"name part {part!r} must be {NAME_HELP}")
    base = f"{app_id}_{service}_{route}"
    return FunctionNames(request=base, response=f"response_{base}", callback=f"callback_{base}")


def template_path(kind: str, route: str, abi: str) -> Path:
    """kind/route/abi.sql, else kind/abi.sql, else common/abi.sql."""
    for candidate in (TEMPLATE_DIR / kind / route / f"{abi}.sql", TEMPLATE_DIR / kind / f"{abi}.sql"):
        if candidate.exists():
            return candidate
    return TEMPLATE_DIR / "common" / f"{abi}.sql"


def render(conn: Connection, kind: str, app_id: str, service: str, route: str, abi: str, fn_name: str) -> str:
    """The CREATE FUNCTION statement for one function, identifiers and literals composed by psycopg2.sql."""
    template = sql.SQL(template_path(kind, route, abi).read_text())
    composed = template.format(
        fn=sql.Identifier(FN_SCHEMA, fn_name),
        app=sql.Literal(app_id),
        service=sql.Literal(service),
        route=sql.Literal(route),
        kind=sql.Literal(kind),
    )
    return composed.as_string(conn.connection.dbapi_connection)


def _as_string(conn: Connection, composed: sql.Composable) -> str:
    # exec_driver_sql treats % as a parameter marker; composed SQL carries no parameters.
    return composed.as_string(conn.connection.dbapi_connection).replace("%", "%%")


def current_source(conn: Connection, fn_name: str) -> str | None:
    """pg_get_functiondef of clientfn.<fn_name>, or None when it does not exist."""
    return conn.execute(
        text(
            "SELECT pg_get_functiondef(p.oid) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = :schema AND p.proname = :name"
        ),
        {"schema": FN_SCHEMA, "name": fn_name},
    ).scalar()


def existing_functions(conn: Connection) -> set[str]:
    """The names of the functions that exist in the client-function schema now (pg_catalog)."""
    return set(
        conn.execute(
            text("SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = :s"),
            {"s": FN_SCHEMA},
        ).scalars()
    )


def _md5(source: str) -> str:
    return hashlib.md5(source.encode(), usedforsecurity=False).hexdigest()


def _latest_version(conn: Connection, fn_name: str) -> tuple[int, str | None, str | None]:
    row = conn.execute(
        select(FunctionVersion.version, FunctionVersion.source_md5, FunctionVersion.source)
        .where(FunctionVersion.fn_name == fn_name)
        .order_by(FunctionVersion.version.desc())
        .limit(1)
    ).first()
    return (row[0], row[1], row[2]) if row else (0, None, None)


def mark_origin(conn: Connection, origin: str) -> None:
    """Tell the history event trigger (sql/gateway/70_history.sql) that this transaction's DDL on client functions
    is the gateway's own and records itself; transaction-local, so it is safe behind PgBouncer."""
    conn.execute(text("SELECT set_config('mospay.fn_origin', :o, true)"), {"o": origin})


def record_version(
    conn: Connection,
    registry_id: int,
    fn_name: str,
    source: str,
    origin: str,
    author: str,
    reason: str | None = None,
) -> int:
    """Store a version row with a unified diff against the previous one. Returns the version number."""
    version, _, previous = _latest_version(conn, fn_name)
    diff = "".join(
        difflib.unified_diff(
            (previous or "").splitlines(keepends=True),
            source.splitlines(keepends=True),
            fromfile=f"{fn_name} v{version}",
            tofile=f"{fn_name} v{version + 1}",
        )
    )
    conn.execute(
        insert(FunctionVersion).values(
            registry_id=registry_id,
            fn_name=fn_name,
            version=version + 1,
            source=source,
            source_md5=_md5(source),
            origin=origin,
            author=author,
            reason=reason,
            diff=diff or None,
        )
    )
    return version + 1


def was_edited(conn: Connection, fn_name: str) -> bool:
    """True when the live function differs from the last version we recorded (an edit the history event
    trigger could not see, e.g. on a cluster where the gateway's role is not a superuser)."""
    live = current_source(conn, fn_name)
    _, md5, _ = _latest_version(conn, fn_name)
    return live is not None and md5 is not None and _md5(live) != md5


def is_dba_version(conn: Connection, fn_name: str) -> bool:
    """True when the latest version came from a person (psql, API, portal, rollback, import), not the templates."""
    origin = conn.execute(
        select(FunctionVersion.origin)
        .where(FunctionVersion.fn_name == fn_name)
        .order_by(FunctionVersion.version.desc())
        .limit(1)
    ).scalar()
    return origin not in (None, "generated")


def generate(conn: Connection, registry_id: int, author: str, *, force: bool = False) -> dict[str, str]:
    """(Re)create the three functions of one registry row.

    A function a DBA edited is kept (and its edit stored as a version) unless force=True.
    Returns {fn_name: "created" | "updated" | "unchanged" | "kept_edit"}.
    """
    reg = conn.execute(
        select(FR.id, Client.app_id, Service.name.label("service"), Service.kind, ServiceRoute.route)
        .add_columns(FR.request_fn, FR.response_fn, FR.callback_fn)
        .join(Client, Client.id == FR.client_id)
        .join(Service, Service.id == FR.service_id)
        .join(ServiceRoute, ServiceRoute.id == FR.route_id)
        .where(FR.id == registry_id)
    ).one()
    report: dict[str, str] = {}
    any_edit = False
    mark_origin(conn, "generated")
    for abi, fn_name in (("request", reg.request_fn), ("response", reg.response_fn), ("callback", reg.callback_fn)):
        live = current_source(conn, fn_name)
        if live is not None and was_edited(conn, fn_name):
            record_version(conn, registry_id, fn_name, live, "psql", "unknown (found at regeneration)")
        if live is not None and not force and is_dba_version(conn, fn_name):
            report[fn_name] = "kept_edit"
            any_edit = True
            continue
        conn.exec_driver_sql(
            render(conn, reg.kind, reg.app_id, reg.service, reg.route, abi, fn_name).replace("%", "%%")
        )
        conn.exec_driver_sql(_as_string(conn, revoke_statement(fn_name, abi)))
        new_source = current_source(conn, fn_name) or ""
        if live is not None and _md5(live) == _md5(new_source):
            report[fn_name] = "unchanged"
            if _latest_version(conn, fn_name)[1] is None:
                record_version(conn, registry_id, fn_name, new_source, "generated", author)
            continue
        record_version(conn, registry_id, fn_name, new_source, "generated", author)
        report[fn_name] = "created" if live is None else "updated"
    mark_origin(conn, "")
    state = "edited" if any_edit else "generated"
    conn.execute(update(FR).where(FR.id == registry_id).values(state=state, updated_at=func.now()))
    return report


_SIGNATURES = {
    "request": "(text, json)",
    "response": "(text, json, integer, json)",
    "callback": "(text, json, json)",
}


def revoke_statement(fn_name: str, abi: str) -> sql.Composed:
    """REVOKE EXECUTE from PUBLIC; the argument types are fixed by the ABI, not taken from input."""
    return sql.SQL("REVOKE ALL ON FUNCTION {}" + _SIGNATURES[abi] + " FROM PUBLIC").format(
        sql.Identifier(FN_SCHEMA, fn_name)
    )


def versions(conn: Connection, registry_id: int) -> list[dict]:
    """Every stored version of a registry row's functions, newest first per function (without the sources)."""
    v = FunctionVersion
    query = (
        select(v.fn_name, v.version, v.origin, v.author, v.created_at)
        .where(v.registry_id == registry_id)
        .order_by(v.fn_name, v.version.desc())
    )
    return [dict(r) for r in conn.execute(query).mappings()]
