"""POST /api/v1/auth/token: Basic + App-ID → a client Bearer JWT."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from gateway import auth

bp = Blueprint("api_auth", __name__, url_prefix="/api/v1/auth")


@bp.post("/token")
def token():
    """Issue a client token; the body may be empty."""
    creds = auth.client_credentials(request)
    if creds.token_version is not None:
        raise auth.AuthError("exchange Basic credentials for a token, not another token")
    client = auth.authenticate(creds)
    g.client_id, g.app_id = client.client_id, client.app_id
    token_value, ttl = auth.issue_token("client", client.app_id, client.credential_version, {"cid": client.client_id})
    return jsonify(
        {"status": "200", "message": "token issued", "token": token_value, "token_type": "Bearer", "expires_in": ttl}
    )
