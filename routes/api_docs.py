"""/api/v1/openapi.json and a human docs page beside it."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template

from core.errors import HTTP_MESSAGES
from gateway import openapi

bp = Blueprint("api_docs", __name__, url_prefix="/api/v1")


@bp.get("/openapi.json")
def openapi_json():
    return jsonify(openapi.document())


@bp.get("/docs")
def docs_page():
    return render_template("api_docs.html", doc=openapi.document(), fields=openapi.F_FIELDS, messages=HTTP_MESSAGES)
