"""GET /healthz: the gateway and its database."""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text

from core import db
from core.errors import DatabaseUnavailable

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    try:
        with db.transaction(timeout_ms=2000) as conn:
            conn.execute(text("SELECT 1"))
    except DatabaseUnavailable:
        return jsonify({"status": "503", "message": "database unavailable", "database": "down"}), 503
    return jsonify({"status": "200", "message": "ok", "database": "up"})
