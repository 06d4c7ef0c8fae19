"""Guard rails on a client function: what is unsafe to let serve payments. Our own checks always run;
plpgsql_check adds the errors PostgreSQL finds only at run time (unknown columns, wrong types) when installed."""

from __future__ import annotations

import re

from psycopg2 import sql
from sqlalchemy import select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from gateway import function_builder
from models import FunctionRegistry
from workshop.catalog import ABI_ARGS, FunctionRef

# What a client function may reference outside its own schema: the helpers the templates use, each of which
# scopes its answer to the calling transaction or client.
READABLE = frozenset(
    {
        "gateway.stk_outcome",
        "gateway.transaction_status",
        "billing.activate_paid",
        "billing.mark_provisioning",
        "billing.quote",
        "billing.router_account",
        "billing.router_spec",
        "billing.subscriber_status",
    }
)
PINNED_PATH = frozenset({"pg_catalog", "pg_temp"})
_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)
_EXECUTE = re.compile(r"\bEXECUTE\b(.*?)(?:;|\bUSING\b|\bINTO\b)", re.I | re.S)
_QUALIFIED = re.compile(r'\b"?([a-z_][a-z0-9_]*)"?\s*\.\s*"?([a-z_][a-z0-9_]*)"?', re.I)
_FN_LIKE = re.compile(r"\b((?:response_|callback_)?[a-z][a-z0-9]*_[a-z][a-z0-9]*_[a-z][a-z0-9]*)\b")
_SECDEF = re.compile(r"\bSECURITY\s+DEFINER\b", re.I)


def _blank_comments(source: str) -> str:
    """Comments replaced by spaces of the same shape, so positions and line numbers still match."""
    return _COMMENTS.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), source)


def _line(source: str, pos: int) -> int:
    return source[:pos].count("\n") + 1


def _finding(rule: str, message: str, line: int | None) -> dict:
    return {"rule": rule, "message": message, "line": line}


def check(conn: Connection, ref: FunctionRef, source: str, *, use_plpgsql_check: bool = True) -> list[dict]:
    """Findings for the compiled function `ref` whose submitted text is `source` (empty list = clean)."""
    code = _blank_comments(source)
    proc = conn.execute(
        text(
            "SELECT p.oid, p.prosecdef, p.proconfig, EXISTS (SELECT 1 FROM aclexplode(coalesce(p.proacl, "
            "acldefault('f', p.proowner))) a WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE') AS public_exec "
            "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = :s AND p.proname = :n"
        ),
        {"s": function_builder.FN_SCHEMA, "n": ref.name},
    ).one()
    findings = _catalog_findings(proc, code)
    findings += _dynamic_sql(code)
    findings += _foreign_references(conn, ref, code)
    if use_plpgsql_check:
        findings += plpgsql_check(conn, ref, source)
    return findings


def _catalog_findings(proc, code: str) -> list[dict]:
    out = []
    if proc.prosecdef:
        m = _SECDEF.search(code)
        out.append(
            _finding(
                "security_definer",
                "SECURITY DEFINER runs the function with its owner's rights: use SECURITY INVOKER (the default)",
                _line(code, m.start()) if m else 1,
            )
        )
    path = next((c.split("=", 1)[1] for c in proc.proconfig or [] if c.startswith("search_path=")), None)
    if path is None:
        out.append(_finding("search_path", "pin the search_path: SET search_path = pg_catalog, pg_temp", 1))
    else:
        extra = {p.strip() for p in path.split(",")} - PINNED_PATH
        if extra:
            out.append(
                _finding(
                    "search_path",
                    f"search_path may hold only pg_catalog, pg_temp (found {', '.join(sorted(extra))}); "
                    "qualify the few helpers you call instead",
                    _line(code, code.lower().find("search_path")) if "search_path" in code.lower() else 1,
                )
            )
    if proc.public_exec:
        out.append(
            _finding("public_execute", "EXECUTE is granted to PUBLIC: REVOKE ALL ON FUNCTION … FROM PUBLIC", None)
        )
    return out


def _dynamic_sql(code: str) -> list[dict]:
    return [
        _finding(
            "dynamic_sql",
            "EXECUTE of text built by concatenation: pass values with USING and identifiers with format('%I')",
            _line(code, m.start()),
        )
        for m in _EXECUTE.finditer(code)
        if "||" in m.group(1)
    ]


def _foreign_references(conn: Connection, ref: FunctionRef, code: str) -> list[dict]:
    out = []
    schemas = set(
        conn.execute(
            text("SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'")
        ).scalars()
    )
    for m in _QUALIFIED.finditer(code):
        schema, name = m.group(1).lower(), m.group(2).lower()
        if schema in schemas and schema != function_builder.FN_SCHEMA and f"{schema}.{name}" not in READABLE:
            out.append(
                _finding(
                    "foreign_table",
                    f"{schema}.{name} is outside what a client function may read "
                    f"(allowed: {', '.join(sorted(READABLE))})",
                    _line(code, m.start()),
                )
            )
    candidates = {m.group(1): m.start() for m in _FN_LIKE.finditer(code)}
    candidates.pop(ref.name, None)
    if candidates:
        bases = [n.removeprefix("response_").removeprefix("callback_") for n in candidates]
        fr = FunctionRegistry
        rows = conn.execute(
            select(fr.request_fn, fr.response_fn, fr.callback_fn).where(
                fr.client_id != ref.client_id, fr.request_fn.in_(bases)
            )
        ).all()
        others = {name for row in rows for name in row if name}
        for fn in sorted(others & set(candidates)):
            out.append(_finding("foreign_function", f"{fn} belongs to another client", _line(code, candidates[fn])))
    return out


def plpgsql_check(conn: Connection, ref: FunctionRef, source: str) -> list[dict]:
    """plpgsql_check's errors, or [] when the extension is not installed on this server."""
    schema = _plpgsql_check_schema(conn)
    if schema is None:
        return []
    body = re.search(r"\bAS\s+\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$", source, re.I)
    offset = source[: body.end()].count("\n") if body else 0
    signature = f"{function_builder.FN_SCHEMA}.{ref.name}({ABI_ARGS[ref.abi]})"
    query = sql.SQL(
        "SELECT lineno, message, level FROM {}.plpgsql_check_function_tb(CAST(:sig AS regprocedure), "
        "fatal_errors => false, other_warnings => false, performance_warnings => false, extra_warnings => false)"
    ).format(sql.Identifier(schema))
    rows = conn.execute(text(query.as_string(conn.connection.dbapi_connection)), {"sig": signature}).all()
    return [
        _finding("plpgsql_check", message, offset + lineno if lineno else None)
        for lineno, message, level in rows
        if level == "error"
    ]


def _plpgsql_check_schema(conn: Connection) -> str | None:
    """The schema of the plpgsql_check extension, creating it when the server has it and we may."""
    installed = conn.execute(
        text(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
            "WHERE e.extname = 'plpgsql_check'"
        )
    ).scalar()
    if installed:
        return installed
    if not conn.execute(text("SELECT 1 FROM pg_available_extensions WHERE name = 'plpgsql_check'")).scalar():
        return None
    savepoint = conn.begin_nested()
    try:
        # Its own schema: the gateway's search_path would otherwise put 20-odd functions into schema gateway.
        conn.execute(text("CREATE SCHEMA IF NOT EXISTS plpgsql_check"))
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS plpgsql_check SCHEMA plpgsql_check"))
    except DBAPIError:  # not allowed for this role: our own checks still ran
        savepoint.rollback()
        return None
    savepoint.commit()
    return _plpgsql_check_schema(conn)
