"""API log rows for requests the SQL pipeline did not log itself (auth, status, admin, every failure)."""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, request
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from core import db
from core.masking import dump_masked, mask_callback_tokens, mask_text

log = logging.getLogger(__name__)


def _request_body() -> str | None:
    if not request.content_length:
        return None
    data = request.get_json(silent=True)
    if data is None:
        return mask_text(request.get_data(as_text=True)[:500], limit=500)
    return dump_masked(data)


def _response_body(response: Response) -> str | None:
    if response.mimetype != "application/json" or response.direct_passthrough:
        return None
    return dump_masked(response.get_json(silent=True))


def register(app: Flask) -> None:
    @app.before_request
    def _start_clock() -> None:
        g.started_at = time.time()

    @app.after_request
    def _write(response: Response) -> Response:
        if not request.path.startswith("/api/") or g.get("api_logged") or request.path.endswith("/openapi.json"):
            return response
        try:
            with db.transaction() as conn:
                conn.execute(
                    text(
                        "INSERT INTO gateway.api_logs (client_id, app_id, method, path, http_status, latency_ms, "
                        "remote_addr, request_body, response_body) VALUES (:c, :a, :m, :p, :s, :l, :r, :req, :resp)"
                    ),
                    {
                        "c": g.get("client_id"),
                        "a": g.get("app_id"),
                        "m": request.method,
                        "p": mask_callback_tokens(request.path[:500]),
                        "s": response.status_code,
                        "l": int((time.time() - g.get("started_at", time.time())) * 1000),
                        "r": request.remote_addr,
                        "req": _request_body(),
                        "resp": _response_body(response),
                    },
                )
        except (SQLAlchemyError, Exception) as exc:  # noqa: BLE001 - logging must never break the answer
            log.warning("api log not written: %s", type(exc).__name__)
        return response
