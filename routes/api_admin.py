"""JSON admin API: the same service-layer calls as the portal and the CLI."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import Blueprint, g, jsonify, request

from admin import client_users, clients, outbox, roles, services, sign_in, users
from admin.scope import Scope
from core import db
from core.errors import AuthError, InvalidField, NotAssigned
from gateway import auth
from reports import transactions
from routes.request_body import json_body

bp = Blueprint("api_admin", __name__, url_prefix="/api/v1/admin")


def _token_user() -> dict:
    token = auth.bearer_token(request)
    if not token:
        raise AuthError("admin endpoints need Authorization: Bearer <token> from POST /api/v1/admin/auth/token")
    claims = auth.decode_token(token, "admin")
    with db.transaction() as conn:
        user = users.get_user(conn, int(claims["sub"]))
    if not user or not user["active"] or user["token_version"] != claims["ver"]:
        raise AuthError("admin token revoked; sign in again")
    if claims.get("app_id") != user["client_app_id"]:
        raise AuthError("admin token does not match its user; sign in again")
    return user


def admin_required(permission: str = "write", *, tenants: bool = False) -> Callable:
    """Bearer admin token (client tokens are refused) of a user whose role holds `permission` (admin/roles.py).
    A client's own user reaches only endpoints with tenants=True, and only with its own client's app_id
    (another's answers 404 as one that does not exist); the view narrows everything else by g.scope."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            user = _token_user()
            scope = Scope.of(user)
            if scope.is_tenant:
                if not tenants:
                    raise NotAssigned(roles.GATEWAY_ONLY)
                if "app_id" in kwargs:
                    scope.check_app(kwargs["app_id"])
            if not roles.allows(user["role"], permission):
                raise NotAssigned(roles.refusal(user["role"], permission))
            g.actor, g.scope = users.actor_of(user), scope
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
    # A client's user's token carries its client; admin_required checks it against the user row.
    claims = {"role": user["role"], "app_id": user["client_app_id"]}
    value, ttl = auth.issue_token("admin", str(user["id"]), user["token_version"], claims)
    return jsonify(
        {
            "status": "200",
            "message": "token issued",
            "token": value,
            "token_type": "Bearer",
            "expires_in": ttl,
            "role": user["role"],
            "app_id": user["client_app_id"],
        }
    )


@bp.post("/account/password")
def change_password():
    """Basic with the current password; {"current_password", "new_password"} (+ "otp") → password changed."""
    pair = _basic_pair()
    sign_in.change_password(*pair, _optional_body())
    return jsonify({"status": "200", "message": "password changed; request a new token with it"})


@bp.post("/services")
@admin_required("write")
def create_service():
    with db.transaction() as conn:
        return jsonify(services.create_service(conn, json_body(), g.actor)), 201


@bp.get("/services")
@admin_required("read")
def list_services():
    with db.transaction() as conn:
        return jsonify({"items": services.list_services(conn)})


@bp.get("/services/<name>")
@admin_required("read")
def get_service(name: str):
    with db.transaction() as conn:
        return jsonify(services.get_service(conn, name))


@bp.patch("/services/<name>")
@admin_required("write")
def update_service(name: str):
    with db.transaction() as conn:
        return jsonify(services.update_service(conn, name, json_body(), g.actor))


@bp.post("/clients")
@admin_required("write")
def create_client():
    with db.transaction() as conn:
        return jsonify(clients.create_client(conn, json_body(), g.actor)), 201


@bp.get("/clients")
@admin_required("read", tenants=True)
def list_clients():
    """Every client for the gateway's users; a client's own user sees only its client."""
    page = request.args.get("page", 1, type=int) or 1
    with db.transaction() as conn:
        return jsonify(clients.list_clients(conn, request.args.get("q"), page, scope=g.scope))


@bp.get("/clients/<app_id>")
@admin_required("read", tenants=True)
def get_client(app_id: str):
    with db.transaction() as conn:
        client = clients.get_client(conn, app_id)
        client["functions"] = services.client_functions(conn, app_id)
        client["providers"] = clients.provider_summaries(conn, client["id"])
        return jsonify(client)


@bp.patch("/clients/<app_id>")
@admin_required("write")
def update_client(app_id: str):
    with db.transaction() as conn:
        return jsonify(clients.update_client(conn, app_id, json_body(), g.actor))


@bp.post("/clients/<app_id>/deactivate")
@admin_required("write")
def deactivate_client(app_id: str):
    with db.transaction() as conn:
        return jsonify(clients.set_status(conn, app_id, False, g.actor))


@bp.post("/clients/<app_id>/activate")
@admin_required("write")
def activate_client(app_id: str):
    with db.transaction() as conn:
        return jsonify(clients.set_status(conn, app_id, True, g.actor))


@bp.post("/clients/<app_id>/credentials/rotate")
@admin_required("credentials", tenants=True)
def rotate_credentials(app_id: str):
    with db.transaction() as conn:
        return jsonify(clients.rotate_credentials(conn, app_id, g.actor))


@bp.post("/clients/<app_id>/webhook-secret/rotate")
@admin_required("credentials", tenants=True)
def rotate_webhook_secret(app_id: str):
    with db.transaction() as conn:
        return jsonify(clients.rotate_webhook_secret(conn, app_id, g.actor))


@bp.put("/clients/<app_id>/credentials/mpesa")
@admin_required("credentials", tenants=True)
def set_mpesa(app_id: str):
    with db.transaction() as conn:
        return jsonify(clients.set_mpesa_credentials(conn, app_id, json_body(), g.actor))


@bp.put("/clients/<app_id>/router")
@admin_required("credentials", tenants=True)
def set_router(app_id: str):
    with db.transaction() as conn:
        return jsonify(clients.set_router_settings(conn, app_id, json_body(), g.actor))


@bp.post("/clients/<app_id>/services")
@admin_required("write")
def assign_service(app_id: str):
    body = json_body()
    service = body.get("service") if isinstance(body, dict) else None
    if not isinstance(service, str) or not service:
        raise services.InvalidField("service (the service name to assign) is required")
    with db.transaction() as conn:
        return jsonify(services.assign(conn, app_id, service, g.actor)), 201


@bp.get("/transactions")
@admin_required("read", tenants=True)
def list_transactions():
    page = request.args.get("page", 1, type=int) or 1
    with db.transaction() as conn:
        return jsonify(transactions.search(conn, request.args.to_dict(), page, scope=g.scope))


@bp.get("/transactions/<public_id>")
@admin_required("read", tenants=True)
def transaction_detail(public_id: str):
    with db.transaction() as conn:
        return jsonify(transactions.detail(conn, public_id, g.scope))


@bp.post("/outbox/<int:outbox_id>/redeliver")
@admin_required("operate", tenants=True)
def redeliver(outbox_id: int):
    """Queue a webhook (or follow-up call) again; the worker sends it on its next pass."""
    with db.transaction() as conn:
        return jsonify(outbox.redeliver(conn, outbox_id, g.actor, g.scope))


@bp.post("/clients/<app_id>/users")
@admin_required("client_users", tenants=True)
def create_client_user(app_id: str):
    """{"username", "role" (org_admin|manager|user), "email"?} → 201 with a generated password, shown once."""
    with db.transaction() as conn:
        return jsonify(client_users.create(conn, app_id, json_body(), g.actor)), 201


@bp.get("/clients/<app_id>/users")
@admin_required("read", tenants=True)
def list_client_users(app_id: str):
    with db.transaction() as conn:
        return jsonify({"items": client_users.list_users(conn, app_id)})


@bp.patch("/clients/<app_id>/users/<username>")
@admin_required("client_users", tenants=True)
def update_client_user(app_id: str, username: str):
    """Any of {"role", "active", "totp_required", "unlock": true}; a new role or deactivation ends the user's
    sessions and tokens at once."""
    with db.transaction() as conn:
        return jsonify(client_users.update(conn, app_id, username, json_body(), g.actor))


@bp.post("/clients/<app_id>/users/<username>/password")
@admin_required("client_users", tenants=True)
def reset_client_user_password(app_id: str, username: str):
    """A generated password, shown once, to be changed at the user's next sign-in."""
    with db.transaction() as conn:
        return jsonify(client_users.reset_password(conn, app_id, username, g.actor))
