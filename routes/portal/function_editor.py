"""The DBA's workshop in the portal: one page per client function with a CodeMirror editor, history, diff,
rollback, dry-run, attached tests, shadow replay and statistics. Viewers read and try; admins write."""

from __future__ import annotations

import json
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from core import db
from core.errors import GatewayError, InvalidField
from routes.portal import access
from workshop import cases, catalog, editor, stats, trials

bp = access.portal_blueprint("portal_function_editor", __name__, "/portal/functions")


def _json_field(name: str, *, required: bool = True) -> Any:
    raw = (request.form.get(name) or "").strip()
    if not raw:
        if required:
            raise InvalidField(f"{name.replace('_', ' ')} is required (JSON)")
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise InvalidField(f"{name.replace('_', ' ')} is not valid JSON: {exc}") from exc


def _page(fn: str, status: int = 200, **extra: Any) -> tuple[str, int]:
    """The editor page; `extra` carries the outcome of the action just taken (and the DBA's unsaved text)."""
    old, new = request.args.get("from", type=int), request.args.get("to", type=int)
    with db.transaction() as conn:
        ref = catalog.resolve(conn, fn)
        fun = catalog.describe(conn, ref)
        history = catalog.versions(conn, fn)
        tests = cases.list_cases(conn, ref)
        numbers = stats.function_stats(conn, ref)
        diff = catalog.diff(conn, fn, old, new) if old and new else None
    return render_template(
        "portal/functions/editor.html",
        fun=fun,
        history=history,
        tests=tests,
        stats=numbers,
        diff=diff,
        diff_from=old,
        diff_to=new,
        draft=extra.pop("draft", None) or fun["source"],
        **extra,
    ), status


@bp.get("/<fn>")
@access.requires("read")
def edit(fn: str) -> tuple[str, int]:
    """The editor page of one function."""
    return _page(fn)


@bp.post("/<fn>/save")
@access.requires("write")
def save(fn: str) -> Response | tuple[str, int]:
    """Compile, gate and store the editor's text as a new version (origin portal)."""
    body = {k: request.form.get(k) for k in ("source", "reason", "override_reason")}
    try:
        with db.transaction() as conn:
            saved = editor.save(conn, catalog.resolve(conn, fn), body, access.actor(), "portal")
    except GatewayError as exc:  # show the refusal beside the DBA's text, which is kept
        return _page(fn, exc.http_status, draft=body["source"], refusal=exc.body())
    flash(f"Saved version {saved['version']}: it serves payments now.", "success")
    return redirect(url_for(".edit", fn=fn))


@bp.post("/<fn>/rollback")
@access.requires("write")
def rollback(fn: str) -> Response:
    """Make an earlier version live again (itself a new version)."""
    data = {"version": request.form.get("version"), "reason": request.form.get("reason")}
    with db.transaction() as conn:
        done = editor.rollback(conn, catalog.resolve(conn, fn), data, access.actor())
    flash(f"Rolled back to version {done['restored']} as version {done['version']}.", "success")
    return redirect(url_for(".edit", fn=fn))


@bp.post("/<fn>/dry-run")
@access.requires("read")
def dry_run(fn: str) -> tuple[str, int]:
    """Run the route for a sample payload in a rolled-back transaction (the editor's draft when asked)."""
    draft = (request.form.get("source") or "").strip()
    source = request.form.get("source") if request.form.get("use_draft") and draft else None
    try:
        with db.transaction() as conn:
            ref = catalog.resolve(conn, fn)
        outcome = trials.dry_run(ref, _json_field("payload"), _json_field("service_reply", required=False), source)
    except GatewayError as exc:
        return _page(fn, exc.http_status, draft=source, trial_error=exc.body())
    return _page(fn, draft=source, dry_run=outcome)


@bp.post("/<fn>/shadow")
@access.requires("read")
def shadow(fn: str) -> tuple[str, int]:
    """Replay the route's last N recorded requests against the editor's draft."""
    source = request.form.get("source")
    try:
        with db.transaction() as conn:
            ref = catalog.resolve(conn, fn)
        outcome = trials.shadow(ref, source, request.form.get("last", type=int))
    except GatewayError as exc:
        return _page(fn, exc.http_status, draft=source, trial_error=exc.body())
    return _page(fn, draft=source, shadow=outcome)


@bp.post("/<fn>/tests")
@access.requires("write")
def add_test(fn: str) -> Response | tuple[str, int]:
    """Attach a test case to the function's route."""
    try:
        data = {
            "name": request.form.get("name"),
            "payload": _json_field("payload"),
            "service_reply": _json_field("service_reply", required=False),
            "expect": _json_field("expect"),
        }
        with db.transaction() as conn:
            cases.add(conn, catalog.resolve(conn, fn), data, access.actor())
    except GatewayError as exc:
        return _page(fn, exc.http_status, trial_error=exc.body())
    flash(f"Test {data['name']!r} attached: saves now need it to pass.", "success")
    return redirect(url_for(".edit", fn=fn) + "#tests")


@bp.post("/<fn>/tests/run")
@access.requires("read")
def run_tests(fn: str) -> tuple[str, int]:
    """Run the route's attached tests against the live functions."""
    with db.transaction() as conn:
        ref = catalog.resolve(conn, fn)
    return _page(fn, test_run=cases.run_live(ref))
