"""Test cases attached to a route: a payload, an optional service reply and the result keys expected.
They run through workshop.sandbox, so a case never writes anything and never calls a service."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from admin import audit
from core.errors import InvalidField
from core.masking import mask_json
from models import FunctionTest
from workshop import sandbox
from workshop.catalog import FunctionRef


def _expect_of(value: Any) -> dict:
    if (
        not isinstance(value, dict)
        or not value
        or not all(isinstance(k, str) and k for k in value)
        or sandbox.has_nul(value)
    ):
        raise InvalidField(
            'expect must be an object of result keys, e.g. {"action": "SERVICE", "servicepayload.amount": "250"}'
        )
    return value


def add(conn: Connection, ref: FunctionRef, data: Any, actor: dict) -> dict:
    """Store a test case on the route of `ref`.

    :raise InvalidField: a missing name or a bad payload, reply or expectation.
    :raise Conflict: the route already has a test of that name.
    """
    if not isinstance(data, dict):
        raise InvalidField("send a JSON object: {name, payload, service_reply?, expect}")
    name = data.get("name")
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 100 or "\x00" in name:
        raise InvalidField("name is required (1–100 characters)")
    # Stored like the transaction log: f007/f008 and other secret keys only ever as ****.
    payload = mask_json(sandbox.payload_of(data.get("payload")))
    reply = mask_json(sandbox.reply_of(data.get("service_reply")))
    expect = _expect_of(data.get("expect"))
    T = FunctionTest
    row = conn.execute(
        insert(T)
        .values(registry_id=ref.registry_id, fn_name=ref.name, name=name.strip(), payload=payload)
        .values(service_reply=reply, expect=expect, created_by=actor.get("username", "system"))
        .returning(T.id, T.created_at)
    ).one()
    test = {
        "id": row.id,
        "name": name.strip(),
        "fn_name": ref.name,
        "payload": payload,
        "service_reply": reply,
        "expect": expect,
        "created_at": row.created_at,
    }
    audit.record(conn, actor, "function.test_add", ref.name, after=test)
    return test


def list_cases(conn: Connection, ref: FunctionRef) -> list[dict]:
    """The test cases of the route `ref` belongs to (a response function's change can break a request test)."""
    T = FunctionTest
    columns = (T.id, T.fn_name, T.name, T.payload, T.service_reply, T.expect, T.created_by, T.created_at)
    rows = conn.execute(select(*columns).where(T.registry_id == ref.registry_id).order_by(T.name)).mappings()
    return [dict(r) for r in rows]


def _lookup(view: dict, path: str) -> tuple[bool, Any]:
    node: Any = view
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _matches(expected: Any, actual: Any) -> bool:
    if isinstance(expected, str) and not isinstance(actual, (dict, list, str)) and actual is not None:
        return expected == (json.dumps(actual) if isinstance(actual, bool) else str(actual))
    return expected == actual


def check_case(case: dict, run: dict) -> tuple[bool, str]:
    """Compare a run with a case's expectations. Keys address the final result; `request.` and `response.`
    address the request and response functions' results."""
    view = {
        **(sandbox.final_result(run) or {}),
        "request": run["request_result"],
        "response": run["response_result"],
        "http_status": run["http_status"],
    }
    problems = []
    for key, expected in case["expect"].items():
        found, actual = _lookup(view, key)
        if not found:
            problems.append(f"{key}: missing (expected {json.dumps(expected)})")
        elif not _matches(expected, actual):
            problems.append(f"{key}: expected {json.dumps(expected)}, got {json.dumps(actual, default=str)}")
    if problems and view.get("action") == "ERROR" and view.get("message"):  # say why it failed
        problems.append(f"the result's message was {json.dumps(view['message'])}")
    return not problems, "; ".join(problems) or "ok"


def run_cases(conn: Connection, ref: FunctionRef) -> dict:
    """Run every case of the route on `conn` as it stands (live, or a draft compiled on it)."""
    results = []
    for case in list_cases(conn, ref):
        abi = "callback" if case["fn_name"] == ref.callback_fn else "request"
        on = dataclasses.replace(ref, name=case["fn_name"], abi=abi)
        run = sandbox.run_route(conn, on, case["payload"], case["service_reply"])
        ok, message = check_case(case, run)
        results.append({"name": case["name"], "ok": ok, "message": message})
    passed = sum(r["ok"] for r in results)
    return {"passed": passed, "failed": len(results) - passed, "results": results}


def run_live(ref: FunctionRef) -> dict:
    """Run the route's cases against the live functions, in a rolled-back transaction."""
    with sandbox.rolled_back() as conn:
        return run_cases(conn, ref)
