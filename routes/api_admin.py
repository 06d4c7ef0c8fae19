"""JSON admin API: the same service-layer calls as the portal and the CLI."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import Blueprint, g, jsonify, request

from admin import clients, services, sign_in, users
from core import db
from core.errors import AuthError, InvalidField, NotAssigned
from gateway import auth
from reports import transactions
from routes.request_body import json_body

bp = Blueprint("api_admin", __name__, url_prefix="/api/v1/admin")
WRITE_ROLES = ("super_admin", "admin")


def admin_required(write: bool = True) -> Callable:
    """Bearer admin token (client tokens are refused); write actions need admin or super_admin."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            token = auth.bearer_token(request)
            if not token:
                raise AuthError("admin endpoints need Authorization: Bearer <token> from POST /api/v1/admin/auth/token")
            claims = auth.decode_token(token, "admin")
            with db.transaction() as conn:
                user = users.get_user(conn, int(claims["sub"]))
            if not user or not user["active"] or user["token_version"] != claims["ver"]:
                raise AuthError("admin token revoked; sign in again")
            if write and user["role"] not in WRITE_ROLES:
                raise NotAssigned(f"role {user['role']} is read-only")
            g.actor = {"id": user["id"], "username": user["username"], "role": user["role"]}
            return view(*args, **kwargs)

        return wrapped

    return decorator


def _basic_pair() -> tuple[str, str]:
    pair = auth.basic_pair(request)
    if not pair:
        raise AuthError("send Authorization: Basic base64(username:password)")
    return pair


def _optional_body() -> dict:
    # The token request may have no body at all (no two-factor); when present it must be a JSON object.
    body = json_body(allow_empty=True)
    if not isinstance(body, dict):
        raise InvalidField('the body must be a JSON object, e.g. {"otp": "123456"}')
    return body


@bp.post("/auth/token")
def token():
    """Basic admin username:password (+ {"otp"} with two-factor) → admin Bearer token."""
    pair = _basic_pair()
    user = sign_in.token_user(*pair, _optional_body().get("otp"))
    value, ttl = auth.issue_token("admin", str(user["id"]), user["token_version"], {"role": user["role"]})
    return jsonify(
        {
            "status": "200",
            "message": "token issued",
            "token": value,
            "token_type": "Bearer",
            "expires_in": ttl,
            "role": user["role"],
        }
    )


@bp.post("/account/password")
def change_password():
    """Basic with the current password; {"current_password", "new_password"} (+ "otp") → password changed."""
    pair = _basic_pair()
    sign_in.change_password(*pair, _optional_body())
    return jsonify({"status": "200", "message": "password changed; request a new token with it"})


@bp.post("/services")
@admin_required()
def create_service():
    with db.transaction() as conn:
        return jsonify(services.create_service(conn, json_body(), g.actor)), 201


@bp.get("/services")
@admin_required(write=False)
def list_services():
    with db.transaction() as conn:
        return jsonify({"items": services.list_services(conn)})


@bp.get("/services/<name>")
@admin_required(write=False)
def get_service(name: str):
    with db.transaction() as conn:
        return jsonify(services.get_service(conn, name))


@bp.patch("/services/<name>")
@admin_required()
def update_service(name: str):
    with db.transaction() as conn:
        return jsonify(services.update_service(conn, name, json_body(), g.actor))


@bp.post("/clients")
@admin_required()
def create_client():
    with db.transaction() as conn:
        return jsonify(clients.create_client(conn, json_body(), g.actor)), 201


@bp.get("/clients")
@admin_required(write=False)
def list_clients():
    page = request.args.get("page", 1, type=int) or 1
    with db.transaction() as conn:
        return jsonify(clients.list_clients(conn, request.args.get("q"), page))


@bp.get("/clients/<app_id>")
@admin_required(write=False)
def get_client(app_id: str):
    with db.transaction() as conn:
        client = clients.get_client(conn, app_id)
        client["functions"] = services.client_functions(conn, app_id)
        client["providers"] = clients.provider_summaries(conn, client["id"])
        return jsonify(client)


@bp.patch("/clients/<app_id>")
@admin_required()
def update_client(app_id: str):
    with db.transaction() as conn:
        return jsonify(clients.update_client(conn, app_id, json_body(), g.actor))


@bp.post("/clients/<app_id>/deactivate")
@admin_required()
def deactivate_client(app_id: str):
    with db.transaction() as conn:
        return jsonify(clients.set_status(conn, app_id, False, g.actor))


@bp.post("/clients/<app_id>/activate")
@admin_required()
def activate_client(app_id: str):
    with db.transaction() as conn:
        return jsonify(clients.set_status(conn, app_id, True, g.actor))


@bp.post("/clients/<app_id>/credentials/rotate")
@admin_required()
def rotate_credentials(app_id: str):
    with db.transaction() as conn:
        return jsonify(clients.rotate_credentials(conn, app_id, g.actor))


@bp.post("/clients/<app_id>/webhook-secret/rotate")
@admin_required()
def rotate_webhook_secret(app_id: str):
    with db.transaction() as conn:
        return jsonify(clients.rotate_webhook_secret(conn, app_id, g.actor))


@bp.put("/clients/<app_id>/credentials/mpesa")
@admin_required()
def set_mpesa(app_id: str):
    with db.transaction() as conn:
        return jsonify(clients.set_mpesa_credentials(conn, app_id, json_body(), g.actor))


@bp.put("/clients/<app_id>/router")
@admin_required()
def set_router(app_id: str):
    with db.transaction() as conn:
        return jsonify(clients.set_router_settings(conn, app_id, json_body(), g.actor))


@bp.post("/clients/<app_id>/services")
@admin_required()
def assign_service(app_id: str):
    body = json_body()
    service = body.get("service") if isinstance(body, dict) else None
    if not isinstance(service, str) or not service:
        raise services.InvalidField("service (the service name to assign) is required")
    with db.transaction() as conn:
        return jsonify(services.assign(conn, app_id, service, g.actor)), 201


@bp.get("/transactions")
@admin_required(write=False)
def list_transactions():
    page = request.args.get("page", 1, type=int) or 1
    with db.transaction() as conn:
        return jsonify(transactions.search(conn, request.args.to_dict(), page))


@bp.get("/transactions/<public_id>")
@admin_required(write=False)
def transaction_detail(public_id: str):
    with db.transaction() as conn:
        return jsonify(transactions.detail(conn, public_id))


@bp.post("/outbox/<int:outbox_id>/redeliver")
@admin_required()
def redeliver(outbox_id: int):
    """Queue a webhook (or follow-up call) again; the worker sends it on its next pass."""
    from admin import outbox as outbox_admin

    with db.transaction() as conn:
        return jsonify(outbox_admin.redeliver(conn, outbox_id, g.actor))
