"""POST /api/v1/callbacks/<token>: provider and microservice callbacks."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from gateway import callbacks
from routes.request_body import json_body

bp = Blueprint("api_callbacks", __name__, url_prefix="/api/v1/callbacks")

ACK = {"ResultCode": 0, "ResultDesc": "Accepted"}  # what Daraja senders expect; harmless for others


@bp.post("/<token>")
def receive(token: str):
    """Record and apply a callback, then acknowledge."""
    body = json_body()
    ip = request.remote_addr
    if not callbacks.source_allowed(ip):
        callbacks.record_refused(body, ip, "source address not on CALLBACK_IP_ALLOWLIST")
        return jsonify({"status": "403", "message": "callback source address is not allowed"}), 403
    if len(token) > 128:
        return jsonify({"status": "404", "message": "unknown callback token"}), 404
    outcome = callbacks.handle(token, body, ip)
    status = int(outcome.get("http_status", 200))
    if status == 404:
        return jsonify({"status": "404", "message": "unknown callback token"}), 404
    if status >= 400:
        return jsonify({"status": str(status), "message": f"callback refused: {outcome.get('detail')}"}), status
    return jsonify({"status": "200", "message": f"callback {outcome['outcome']}", **ACK})
