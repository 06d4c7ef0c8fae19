"""Running a route's functions without consequences: inside a transaction that is always rolled back, with a
given (or recorded) microservice reply standing in for the service. No outside call is made from here."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import current_app
from sqlalchemy import select, text, true
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from core import db
from core.errors import InvalidField
from gateway import function_builder
from models import CallAttempt, Transaction
from workshop.catalog import FunctionRef

CALLBACK_PLACEHOLDER = "http://dry-run.invalid/api/v1/callbacks/dry-run"
MAX_PAYLOAD_FIELDS = 40


@contextmanager
def rolled_back() -> Iterator[Connection]:
    """A connection whose transaction is rolled back whatever happens, under the usual statement timeout."""
    try:
        with db.engine().connect() as conn:
            trans = conn.begin()
            try:
                function_builder.mark_origin(conn, "draft")  # drafts are never history
                limit_time(conn)
                yield conn
            finally:
                trans.rollback()
    except DBAPIError as exc:
        raise db.translate(exc) from exc


def has_nul(value: Any) -> bool:
    """True when a NUL character hides anywhere in the value (PostgreSQL text and jsonb cannot hold one)."""
    return "\\u0000" in json.dumps(value)


def limit_time(conn: Connection) -> None:
    """The pipeline's statement timeout for this transaction: a DBA's loop must not hold a connection."""
    timeout = int(current_app.config["DB_STATEMENT_TIMEOUT_MS"])
    conn.execute(text("SELECT set_config('statement_timeout', :t, true)"), {"t": f"{timeout}ms"})


def payload_of(value: Any) -> dict:
    """A sample f-field payload: a JSON object of strings.

    :raise InvalidField: not an object, or a value that is not a string.
    """
    if not isinstance(value, dict) or not value:
        raise InvalidField('payload must be a JSON object of f-fields, e.g. {"f000": "mpesa", "f004": "250"}')
    if len(value) > MAX_PAYLOAD_FIELDS or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise InvalidField("payload values must be strings (f000–f010, as the merchant sends them)")
    if has_nul(value):
        raise InvalidField("payload must not contain NUL characters")
    return value


def reply_of(value: Any) -> dict | None:
    """A sample microservice reply {"code": int, "data": object}, or None.

    :raise InvalidField: wrong shape.
    """
    if value is None:
        return None
    code = value.get("code") if isinstance(value, dict) else None
    if isinstance(code, bool) or not isinstance(code, int) or not 100 <= code <= 599:
        raise InvalidField('service_reply must be {"code": <HTTP status 100–599>, "data": {…}}')
    data = value.get("data", {})
    if not isinstance(data, (dict, list)) or has_nul(data):
        raise InvalidField("service_reply.data must be a JSON object (the microservice's answer), without NULs")
    return {"code": code, "data": data}


def _invoke(conn: Connection, fn: str | None, abi: str, uid: str, data_input: dict, reply: dict | None) -> dict:
    return db.call_json(
        conn,
        "SELECT gateway.invoke(:schema, :fn, :abi, :uid, CAST(:input AS json), :code, CAST(:data AS json))",
        {
            "schema": function_builder.FN_SCHEMA,
            "fn": fn,
            "abi": abi,
            "uid": uid,
            "input": db.as_json(data_input),
            "code": reply["code"] if reply else None,
            "data": db.as_json(reply["data"]) if reply else None,
        },
    )


def _result(invoked: dict) -> dict:
    if invoked.get("ok"):
        return invoked["result"]
    return {"status": "502", "action": "ERROR", "type": "error", "message": invoked.get("error")}


def http_status(result: dict, invoked_ok: bool = True) -> int | None:
    """The status gateway.apply_result would answer with; None while the result asks for a service call."""
    action = result.get("action")
    status = str(result.get("status", ""))
    code = int(status) if status.isdigit() and 100 <= int(status) <= 599 else None
    if not invoked_ok:
        return 502
    if action == "SERVICE":
        return None
    if action == "OUTPUT":
        return code or 200
    if action == "PENDING":
        return code or 202
    return max(code or 400, 400)


def run_route(conn: Connection, ref: FunctionRef, payload: dict, reply: dict | None) -> dict:
    """Request function, then (when it asks for SERVICE and a reply is given) the response function; for a
    callback function, the callback with the reply's data. Each run sits in its own savepoint."""
    uid = payload.get("f010") or "dry-run"
    data_input = {**payload, "callback_url": CALLBACK_PLACEHOLDER}
    out: dict = {"request_result": None, "call_spec": None, "response_result": None, "http_status": None}
    savepoint = conn.begin_nested()
    try:
        if ref.abi == "callback":
            invoked = _invoke(conn, ref.callback_fn, "callback", uid, data_input, reply or {"code": 200, "data": {}})
            out["response_result"] = _result(invoked)
            out["http_status"] = http_status(out["response_result"], bool(invoked.get("ok")))
            return out
        invoked = _invoke(conn, ref.request_fn, "request", uid, data_input, None)
        out["request_result"] = final = _result(invoked)
        ok = bool(invoked.get("ok"))
        if ok and final.get("action") == "SERVICE":
            out["call_spec"] = final
            if reply is not None:
                invoked = _invoke(conn, ref.response_fn, "response", uid, data_input, reply)
                out["response_result"] = final = _result(invoked)
                ok = bool(invoked.get("ok"))
        out["http_status"] = http_status(final, ok)
        return out
    finally:
        savepoint.rollback()


def final_result(run: dict) -> dict | None:
    """The result the merchant would get (the response function's when there was one)."""
    return run["response_result"] or run["request_result"]


def recorded_requests(conn: Connection, ref: FunctionRef, last: int) -> list[dict]:
    """The route's last `last` transactions: masked request and the first recorded service reply."""
    t, ca = Transaction, CallAttempt
    first_reply = (
        select(ca.status_code, ca.response_body)
        .where(ca.transaction_id == t.id)
        .order_by(ca.step, ca.id)
        .limit(1)
        .lateral("first_reply")
    )
    query = (
        select(t.f010, t.request, first_reply.c.status_code, first_reply.c.response_body)
        .outerjoin(first_reply, true())
        .where(t.client_id == ref.client_id, t.registry_id == ref.registry_id)
        .order_by(t.created_at.desc(), t.id.desc())
        .limit(last)
    )
    rows = conn.execute(query).all()
    out = []
    for f010, request, code, body in rows:
        reply = None
        if code is not None:
            try:
                data = json.loads(body) if body else {}
            except ValueError:  # recorded bodies are truncated at a limit; keep what we have as text
                data = {"raw": body}
            reply = {"code": code, "data": data if isinstance(data, (dict, list)) else {"raw": data}}
        payload = {k: str(v) for k, v in (request or {}).items()}
        out.append({"f010": f010, "payload": payload, "reply": reply})
    return out
