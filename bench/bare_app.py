"""Ceiling (b), the bare pipeline: one Flask endpoint that calls the client's request function, makes the same
HTTP call, calls the response function, and does nothing else (no auth, no transaction row, no API log, no
limiter). Served by gunicorn with the gateway's gunicorn.conf.py, so the worker settings are the same.

    BARE_DATABASE_URL=… BARE_REQUEST_FN=clientfn.x BARE_RESPONSE_FN=clientfn.y BARE_SERVICE_URL=http://… \\
        gunicorn -c gunicorn.conf.py "bench.bare_app:create_app()"
"""

from __future__ import annotations

import json
import os
import re

from flask import Flask, jsonify, request
from sqlalchemy import create_engine, text

from adapters.http import make_session

# The function names come from the environment of a benchmark run, never from a request; still, pin the shape.
_FN_NAME = re.compile(r"^clientfn\.[a-z0-9_]+$")


def _fn(name: str) -> str:
    value = os.environ[name]
    if not _FN_NAME.match(value):
        raise RuntimeError(f"{name} must look like clientfn.<name>, got {value!r}")
    return value


def create_app() -> Flask:
    """The bare pipeline app; settings come from BARE_* environment variables."""
    app = Flask(__name__)
    # Autocommit: each function call is one statement and one round trip, as the ceiling should be.
    engine = create_engine(os.environ["BARE_DATABASE_URL"], pool_size=10, max_overflow=10, isolation_level="AUTOCOMMIT")
    session = make_session()
    token = os.environ.get("INTERNAL_TOKEN", "")
    base_url = os.environ["BARE_SERVICE_URL"].rstrip("/")
    request_sql = text(f"SELECT results FROM {_fn('BARE_REQUEST_FN')}(:uid, CAST(:input AS json))")  # noqa: S608
    response_sql = text(
        f"SELECT results FROM {_fn('BARE_RESPONSE_FN')}(:uid, CAST(:input AS json), :code, CAST(:out AS json))"  # noqa: S608
    )

    @app.post("/bare")
    def bare():
        body = request.get_json(force=True)
        uid, data_input = str(body["f010"]), json.dumps(body)
        with engine.connect() as conn:
            spec = conn.execute(request_sql, {"uid": uid, "input": data_input}).scalar_one()
        reply = session.post(
            base_url + spec["serviceurl"],
            json=spec["servicepayload"],
            headers={"X-Internal-Token": token, "Idempotency-Key": uid},
            timeout=10,
        )
        with engine.connect() as conn:
            result = conn.execute(
                response_sql,
                {"uid": uid, "input": data_input, "code": reply.status_code, "out": reply.text},
            ).scalar_one()
        return jsonify(result), int(result["status"])

    return app
