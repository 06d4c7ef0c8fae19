"""Dry-run and shadow replay: what a live or draft function set would answer, found out in rolled-back
transactions (workshop.sandbox), so nothing is written and no microservice is called."""

from __future__ import annotations

from typing import Any

from core.errors import InvalidField
from workshop import sandbox
from workshop.catalog import FunctionRef
from workshop.source import compile_source

MAX_SHADOW = 200


def dry_run(ref: FunctionRef, payload: Any, service_reply: Any = None, source: str | None = None) -> dict:
    """Run the route for one sample payload (and reply); with `source`, the draft replaces `ref` first.

    :raise InvalidField: bad payload or reply.
    :raise CompileRefused: the draft does not compile.
    """
    sample, reply = sandbox.payload_of(payload), sandbox.reply_of(service_reply)
    with sandbox.rolled_back() as conn:
        if source is not None:
            compile_source(conn, ref, source)
        return {**sandbox.run_route(conn, ref, sample, reply), "draft": source is not None}


def _outcome(run: dict) -> dict:
    return {"call_spec": run["call_spec"], "result": sandbox.final_result(run), "http_status": run["http_status"]}


def shadow(ref: FunctionRef, source: Any, last: Any) -> dict:
    """Replay the route's last N recorded requests against the live version and against `source`; list the
    requests whose call spec, result or status differ.

    :raise InvalidField: no source or a bad N.
    :raise CompileRefused: the draft does not compile.
    """
    if not isinstance(source, str) or not source.strip():
        raise InvalidField("source (the draft's CREATE OR REPLACE FUNCTION) is required")
    if isinstance(last, bool) or not isinstance(last, int) or not 1 <= last <= MAX_SHADOW:
        raise InvalidField(f"last must be a whole number of requests from 1 to {MAX_SHADOW}")
    with sandbox.rolled_back() as conn:
        records = sandbox.recorded_requests(conn, ref, last)
        live = [_outcome(sandbox.run_route(conn, ref, r["payload"], r["reply"])) for r in records]
        compile_source(conn, ref, source)
        draft = [_outcome(sandbox.run_route(conn, ref, r["payload"], r["reply"])) for r in records]
    differences = [
        {"f010": r["f010"], "live": a, "draft": b} for r, a, b in zip(records, live, draft, strict=True) if a != b
    ]
    return {"replayed": len(records), "differences": differences}
