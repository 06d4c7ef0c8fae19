"""API log rows for requests the SQL pipeline did not log itself (auth, status, admin, every failure).
A failed authentication (401) is also counted against its source address here, in the same statement as
its log row; past RATELIMIT_ANONYMOUS the answer becomes 429."""

from __future__ import annotations

import json
import logging
import time

from flask import Flask, Response, current_app, g, jsonify, request
from sqlalchemy import insert
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import RequestEntityTooLarge

from core import db
from core.errors import HTTP_MESSAGES
from core.json_input import fingerprint
from core.masking import dump_masked, mask_callback_tokens
from gateway import limits
from models import ApiLog

log = logging.getLogger(__name__)


def _request_body() -> str | None:
    # Only a body that routes.request_body parsed and checked is stored (masked); any other body, such as
    # text/plain or malformed JSON that may carry f007/f008, is kept as its size and hash, never as text.
    if "json_body" in g:
        return dump_masked(g.json_body)
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge:
        return json.dumps({"unparsed_body": {"bytes": request.content_length}})
    if not raw:
        return None
    return json.dumps(fingerprint(raw), separators=(",", ":"))


def _response_body(response: Response) -> str | None:
    if response.mimetype != "application/json" or response.direct_passthrough:
        return None
    return dump_masked(response.get_json(silent=True))


def _refused(response: Response) -> Response:
    """Log a 401 and count it against the source address; past the anonymous limit, answer 429 instead."""
    latency = int((time.time() - g.get("started_at", time.time())) * 1000)
    addr = request.remote_addr or "?"
    anonymous = limits.anonymous_limit()
    retry = limits.hit_anonymous_external(addr)
    entry = {
        "app_id": (request.headers.get("App-ID") or request.headers.get("X-App-ID") or "")[:100] or None,
        "method": request.method,
        "path": mask_callback_tokens(request.path[:500]),
        "remote_addr": addr,
        "latency_ms": latency,
        "request_body": _request_body(),
    }
    counted_in_sql = anonymous and not retry and current_app.extensions.get("rate_store") is None
    in_sql = anonymous if counted_in_sql else (None, None)
    with db.autocommit() as conn:
        retry = retry or db.call_json(
            conn,
            "SELECT to_jsonb(gateway.log_refused(CAST(:log AS jsonb), CAST(:resp AS jsonb), :n, :secs))",
            {"log": db.as_json(entry), "resp": _response_body(response), "n": in_sql[0], "secs": in_sql[1]},
        )
    if not retry:
        return response
    limited = jsonify({"status": "429", "message": HTTP_MESSAGES[429] + " (too many failed authentications)"})
    limited.status_code = 429
    limited.headers["Retry-After"] = str(retry)
    return limited


def register(app: Flask) -> None:
    @app.before_request
    def _start_clock() -> None:
        g.started_at = time.time()

    @app.after_request
    def _write(response: Response) -> Response:
        if not request.path.startswith("/api/") or g.get("api_logged") or request.path.endswith("/openapi.json"):
            return response
        if response.status_code == 401:
            try:
                return _refused(response)
            except Exception as exc:  # noqa: BLE001 - logging must never break the answer
                log.warning("api log not written: %s", type(exc).__name__)
                return response
        try:
            with db.autocommit() as conn:  # one INSERT: its own transaction, no BEGIN/COMMIT round trips
                conn.execute(
                    insert(ApiLog).values(
                        client_id=g.get("client_id"),
                        app_id=g.get("app_id"),
                        method=request.method,
                        path=mask_callback_tokens(request.path[:500]),
                        http_status=response.status_code,
                        latency_ms=int((time.time() - g.get("started_at", time.time())) * 1000),
                        remote_addr=request.remote_addr,
                        request_body=_request_body(),
                        response_body=_response_body(response),
                    )
                )
        except (SQLAlchemyError, Exception) as exc:  # noqa: BLE001 - logging must never break the answer
            log.warning("api log not written: %s", type(exc).__name__)
        return response
