"""Saving and rolling back a client function: compile in a savepoint, then the lint and attached-test gates,
then a stored version and an audit row. Everything happens in the caller's transaction, so a refusal leaves
the live version serving."""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import func, update
from sqlalchemy.engine import Connection

from admin import audit
from core.errors import InvalidField
from gateway import function_builder
from models import FunctionRegistry
from workshop import cases, catalog, lint, sandbox
from workshop.catalog import FunctionRef
from workshop.refusals import GateRefused
from workshop.source import compile_source

ORIGINS = ("api", "portal", "import")
MAX_REASON = 500


def _text_field(value: Any, what: str, *, required: bool) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidField(f"{what} is required: say why, it is kept with the version")
        return None
    if not isinstance(value, str) or len(value) > MAX_REASON or "\x00" in value:
        raise InvalidField(f"{what} must be text of at most {MAX_REASON} characters")
    return value.strip()


def gate_findings(conn: Connection, ref: FunctionRef, source: str) -> list[dict]:
    """Lint findings plus one finding per failing attached test, for the function as compiled on `conn`."""
    findings = lint.check(conn, ref, source, use_plpgsql_check=bool(current_app.config.get("PLPGSQL_CHECK", True)))
    report = cases.run_cases(conn, ref)
    findings += [
        {"rule": "test", "message": f"attached test {r['name']!r} failed: {r['message']}", "line": None}
        for r in report["results"]
        if not r["ok"]
    ]
    return findings


def save(conn: Connection, ref: FunctionRef, data: Any, actor: dict, origin: str) -> dict:
    """Compile, gate and store a new version of `ref` from {"source", "reason", "override_reason"?}.

    :raise InvalidField: missing reason or malformed body.
    :raise CompileRefused: PostgreSQL refused the source, or its name, schema or signature changed (400).
    :raise GateRefused: lint findings or failing tests and no override_reason (422).
    """
    if not isinstance(data, dict):
        raise InvalidField("send a JSON object: {source, reason, override_reason?}")
    reason = _text_field(data.get("reason"), "reason", required=True)
    override = _text_field(data.get("override_reason"), "override_reason", required=False)
    before = catalog.describe(conn, ref)["version"]
    sandbox.limit_time(conn)
    function_builder.mark_origin(conn, origin)
    source = data.get("source")
    compiled = compile_source(conn, ref, source)
    if before is not None and compiled == catalog.version(conn, ref.name, before)["source"]:  # nothing changed
        function_builder.mark_origin(conn, "")
        return {"name": ref.name, "version": before, "origin": origin, "unchanged": True, "warnings": []}
    findings = gate_findings(conn, ref, source)
    if findings and not override:
        raise GateRefused(
            f"{len(findings)} finding(s) refuse this source; fix them, or save again with override_reason", findings
        )
    note = f"{reason} (override: {override})" if findings else reason
    number = function_builder.record_version(
        conn, ref.registry_id, ref.name, compiled, origin, actor.get("username", "system"), note
    )
    _mark_edited(conn, ref)
    function_builder.mark_origin(conn, "")
    after = {"version": number, "origin": origin, "reason": note, "warnings": findings}
    audit.record(conn, actor, "function.save", ref.name, before={"version": before}, after=after)
    return {"name": ref.name, **after}


def rollback(conn: Connection, ref: FunctionRef, data: Any, actor: dict) -> dict:
    """Make an earlier version live again, itself stored as a new version (origin rollback).

    Only the compile gate applies: a rollback is the way back from a bad change and must not be blocked by
    tests written for it; the lint findings are returned as warnings.

    :raise InvalidField: missing version or reason.
    :raise NotFound: no such version.
    :raise CompileRefused: the old source no longer compiles (e.g. a helper it calls is gone).
    """
    if not isinstance(data, dict):
        raise InvalidField("send a JSON object: {version, reason}")
    target = catalog.version(conn, ref.name, catalog.version_number(data.get("version")))
    reason = _text_field(data.get("reason"), "reason", required=True)
    before = catalog.describe(conn, ref)["version"]
    function_builder.mark_origin(conn, "rollback")
    compiled = compile_source(conn, ref, target["source"])
    warnings = lint.check(conn, ref, target["source"], use_plpgsql_check=False)
    note = f"{reason} (rollback to v{target['version']})"
    number = function_builder.record_version(
        conn, ref.registry_id, ref.name, compiled, "rollback", actor.get("username", "system"), note
    )
    _mark_edited(conn, ref)
    function_builder.mark_origin(conn, "")
    audit.record(
        conn,
        actor,
        "function.rollback",
        ref.name,
        before={"version": before},
        after={"version": number, "restored": target["version"], "reason": note},
    )
    return {"name": ref.name, "version": number, "restored": target["version"], "warnings": warnings}


def _mark_edited(conn: Connection, ref: FunctionRef) -> None:
    conn.execute(
        update(FunctionRegistry)
        .where(FunctionRegistry.id == ref.registry_id)
        .values(state="edited", updated_at=func.now())
    )
