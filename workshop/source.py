"""A DBA's submitted source: one CREATE FUNCTION of the same function, compiled inside a savepoint so a refusal
leaves the live version serving. PostgreSQL's own message and line are handed back."""

from __future__ import annotations

import re

import psycopg2
from sqlalchemy import text
from sqlalchemy.engine import Connection

from gateway import function_builder
from workshop.catalog import ABI_ARGS, ABI_RESULT, FunctionRef
from workshop.refusals import CompileRefused

MAX_SOURCE = 60_000
_LEADING = re.compile(r"^(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*", re.S)
_HEADER = re.compile(
    r'^CREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+(?:"?([A-Za-z0-9_]+)"?\s*\.\s*)?"?([A-Za-z0-9_]+)"?\s*\(', re.I
)
_DOLLAR = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")
_NEAR_LINE = re.compile(r"line (\d+)")
_BODY = re.compile(r"\bAS\s+\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$", re.I)


def statements(source: str) -> list[str]:
    """Split SQL text on top-level semicolons, honouring quotes, dollar quotes and comments."""
    out, start, i, n = [], 0, 0, len(source)
    while i < n:
        ch = source[i]
        if ch == "-" and source.startswith("--", i):
            end = source.find("\n", i)
            i = n if end < 0 else end + 1
        elif ch == "/" and source.startswith("/*", i):
            end = source.find("*/", i + 2)
            i = n if end < 0 else end + 2
        elif ch in ("'", '"'):
            i = _string_end(source, i)
        elif ch == "$" and (m := _DOLLAR.match(source, i)) and not (i and source[i - 1].isalnum()):
            end = source.find(m.group(0), m.end())
            i = n if end < 0 else end + len(m.group(0))
        elif ch == ";":
            out.append(source[start:i])
            start = i = i + 1
        else:
            i += 1
    out.append(source[start:])
    return [s for s in out if _LEADING.sub("", s).strip()]


def _string_end(source: str, i: int) -> int:
    """Index just past the quoted string or identifier opening at i ('' and "" are escaped quotes; in an
    E'…' string a backslash escapes the next character too)."""
    quote, n = source[i], len(source)
    escapes = (
        quote == "'"
        and i > 0
        and source[i - 1] in "eE"
        and not (i > 1 and (source[i - 2].isalnum() or source[i - 2] == "_"))
    )
    j = i + 1
    while j < n:
        if escapes and source[j] == "\\":
            j += 2
        elif source[j] == quote:
            if source.startswith(quote * 2, j):
                j += 2
            else:
                return j + 1
        else:
            j += 1
    return n


def check_shape(ref: FunctionRef, source: object) -> str:
    """The source when it is one CREATE [OR REPLACE] FUNCTION of clientfn.<ref.name>.

    :raise CompileRefused: empty, too long, several statements, or another name or schema.
    """
    if not isinstance(source, str) or not source.strip():
        raise CompileRefused("source is required: the whole CREATE OR REPLACE FUNCTION statement", 1)
    if len(source) > MAX_SOURCE or "\x00" in source:
        raise CompileRefused(f"source must be at most {MAX_SOURCE} characters, without NUL characters", None)
    parts = statements(source)
    if len(parts) != 1:
        raise CompileRefused("send exactly one statement: CREATE OR REPLACE FUNCTION … (nothing before or after it)")
    body = _LEADING.sub("", parts[0])
    header = _HEADER.match(body)
    line = source[: len(source) - len(source.lstrip())].count("\n") + 1
    if header is None:
        raise CompileRefused("the statement must be CREATE OR REPLACE FUNCTION clientfn.<name>(…)", line)
    schema, name = (header.group(1) or "").lower(), header.group(2).lower()
    if schema != function_builder.FN_SCHEMA:
        raise CompileRefused(
            f"the function must stay in schema {function_builder.FN_SCHEMA}: write "
            f"{function_builder.FN_SCHEMA}.{ref.name}",
            line,
        )
    if name != ref.name:
        raise CompileRefused(f"this statement creates {name}, not {ref.name}: a function keeps its name", line)
    return source


def _line_of(exc: psycopg2.Error, source: str) -> int | None:
    diag = exc.diag
    if diag.statement_position and diag.statement_position.isdigit():
        return source[: int(diag.statement_position) - 1].count("\n") + 1
    near = _NEAR_LINE.search(diag.context or "")
    if near:  # PL/pgSQL counts lines from the start of the body (the line of the opening dollar quote)
        body = _BODY.search(source)
        return (source[: body.end()].count("\n") if body else 0) + int(near.group(1))
    return None


def compile_source(conn: Connection, ref: FunctionRef, source: str) -> str:
    """Run the CREATE in a savepoint and check the ABI; returns pg_get_functiondef of the result.

    :raise CompileRefused: PostgreSQL's error with its line, or a changed signature (both rolled back).
    """
    check_shape(ref, source)
    savepoint = conn.begin_nested()
    try:
        # The raw cursor runs the text byte for byte (no %-parameter parsing), so error positions match it.
        with conn.connection.dbapi_connection.cursor() as cur:
            cur.execute(source)
    except psycopg2.Error as exc:
        savepoint.rollback()
        message = (exc.diag.message_primary or str(exc)).strip()
        raise CompileRefused(f"PostgreSQL refused the source: {message}", _line_of(exc, source)) from exc
    problem = _signature_problem(conn, ref)
    if problem:
        savepoint.rollback()
        raise CompileRefused(problem, 1)
    savepoint.commit()
    return function_builder.current_source(conn, ref.name) or ""


def _signature_problem(conn: Connection, ref: FunctionRef) -> str | None:
    rows = conn.execute(
        text(
            "SELECT oidvectortypes(p.proargtypes), pg_get_function_result(p.oid) FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = :s AND p.proname = :n"
        ),
        {"s": function_builder.FN_SCHEMA, "n": ref.name},
    ).all()
    want = f"{ref.name}({ABI_ARGS[ref.abi]}) RETURNS {ABI_RESULT}"
    if len(rows) != 1 or rows[0][0] != ABI_ARGS[ref.abi] or rows[0][1] != ABI_RESULT:
        return f"the signature must stay the {ref.abi} ABI's: {want}"
    return None
