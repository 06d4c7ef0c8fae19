"""Admin API of the DBA's workshop: /api/v1/admin/functions… (viewers read; admins and super admins write)."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from core import db
from core.errors import InvalidField
from routes.api_admin import admin_required
from routes.request_body import json_body
from workshop import cases, catalog, editor, stats, trials

bp = Blueprint("api_functions", __name__, url_prefix="/api/v1/admin/functions")


def _object() -> dict:
    body = json_body()
    if not isinstance(body, dict):
        raise InvalidField("send a JSON object")
    return body


@bp.get("")
@admin_required("read")
def list_functions():
    with db.transaction() as conn:
        return jsonify({"items": catalog.list_functions(conn, request.args.get("app_id") or None)})


@bp.get("/<fn>")
@admin_required("read")
def get_function(fn: str):
    with db.transaction() as conn:
        return jsonify(catalog.describe(conn, catalog.resolve(conn, fn)))


@bp.get("/<fn>/versions")
@admin_required("read")
def versions(fn: str):
    with db.transaction() as conn:
        return jsonify({"items": catalog.versions(conn, catalog.resolve(conn, fn).name)})


@bp.get("/<fn>/versions/<n>")
@admin_required("read")
def version(fn: str, n: str):
    with db.transaction() as conn:
        return jsonify(catalog.version(conn, catalog.resolve(conn, fn).name, catalog.version_number(n)))


@bp.get("/<fn>/diff")
@admin_required("read")
def diff(fn: str):
    old = catalog.version_number(request.args.get("from"), "from")
    new = catalog.version_number(request.args.get("to"), "to")
    with db.transaction() as conn:
        return jsonify({"diff": catalog.diff(conn, catalog.resolve(conn, fn).name, old, new)})


@bp.put("/<fn>")
@admin_required("write")
def save(fn: str):
    body = _object()
    with db.transaction() as conn:
        return jsonify(editor.save(conn, catalog.resolve(conn, fn), body, g.actor, "api"))


@bp.post("/<fn>/rollback")
@admin_required("write")
def rollback(fn: str):
    body = _object()
    with db.transaction() as conn:
        return jsonify(editor.rollback(conn, catalog.resolve(conn, fn), body, g.actor))


@bp.post("/<fn>/dry-run")
@admin_required("read")
def dry_run(fn: str):
    body = _object()
    with db.transaction() as conn:
        ref = catalog.resolve(conn, fn)
    return jsonify(trials.dry_run(ref, body.get("payload"), body.get("service_reply"), body.get("source")))


@bp.post("/<fn>/shadow")
@admin_required("read")
def shadow(fn: str):
    body = _object()
    with db.transaction() as conn:
        ref = catalog.resolve(conn, fn)
    return jsonify(trials.shadow(ref, body.get("source"), body.get("last", 20)))


@bp.post("/<fn>/tests")
@admin_required("write")
def add_test(fn: str):
    body = _object()
    with db.transaction() as conn:
        return jsonify(cases.add(conn, catalog.resolve(conn, fn), body, g.actor)), 201


@bp.get("/<fn>/tests")
@admin_required("read")
def list_tests(fn: str):
    with db.transaction() as conn:
        return jsonify({"items": cases.list_cases(conn, catalog.resolve(conn, fn))})


@bp.post("/<fn>/tests/run")
@admin_required("read")
def run_tests(fn: str):
    with db.transaction() as conn:
        ref = catalog.resolve(conn, fn)
    return jsonify(cases.run_live(ref))


@bp.get("/<fn>/stats")
@admin_required("read")
def function_stats(fn: str):
    with db.transaction() as conn:
        return jsonify(stats.function_stats(conn, catalog.resolve(conn, fn)))
