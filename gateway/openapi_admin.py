"""The admin part of the OpenAPI document: every /api/v1/admin route, its body and its answers."""

from __future__ import annotations

_ERROR = {"$ref": "#/components/schemas/Error"}
_OBJECT = {"type": "object"}
_ITEMS = {"type": "object", "required": ["items"], "properties": {"items": {"type": "array"}}}
_SECURITY = [{"adminBearer": []}]
_READ_ERRORS = (400, 401, 403, 404, 429, 503)
_WRITE_ERRORS = (400, 401, 403, 404, 409, 413, 415, 429, 503)

_SERVICE = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "lowercase [a-z][a-z0-9]*, at most 16"},
        "display_name": {"type": "string"},
        "kind": {"type": "string", "enum": ["http", "mpesa_stk", "router", "subscription", "status"]},
        "base_url": {"type": "string", "format": "uri"},
        "routes": {"type": "array", "items": {"type": "string"}},
        "timeout_s": {"type": "integer"},
    },
}
_CLIENT = {
    "type": "object",
    "properties": {
        "app_id": {"type": "string", "description": "lowercase [a-z][a-z0-9]*, at most 16"},
        "company_name": {"type": "string"},
        "email": {"type": "string", "format": "email"},
        "callback_url": {"type": "string", "format": "uri"},
    },
}
_PATH_PARAMS = {
    "app_id": {"name": "app_id", "in": "path", "required": True, "schema": {"type": "string"}},
    "name": {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
    "public_id": {"name": "public_id", "in": "path", "required": True, "schema": {"type": "string"}},
    "outbox_id": {"name": "outbox_id", "in": "path", "required": True, "schema": {"type": "integer"}},
    "username": {"name": "username", "in": "path", "required": True, "schema": {"type": "string"}},
}
_CLIENT_USER = {
    "type": "object",
    "required": ["username", "role"],
    "properties": {
        "username": {"type": "string", "description": "3-64 of letters, digits, . _ @ -"},
        "role": {"type": "string", "enum": ["org_admin", "manager", "user"]},
        "email": {"type": "string", "format": "email"},
    },
}
_CLIENT_USER_CHANGE = {
    "type": "object",
    "properties": {
        "role": {"type": "string", "enum": ["org_admin", "manager", "user"]},
        "active": {"type": "boolean"},
        "totp_required": {"type": "boolean"},
        "unlock": {"type": "boolean", "enum": [True]},
    },
}


def _answers(ok: int, schema: dict, codes: tuple[int, ...]) -> dict:
    out = {str(ok): {"description": "ok", "content": {"application/json": {"schema": schema}}}}
    for code in codes:
        out[str(code)] = {"description": "error", "content": {"application/json": {"schema": _ERROR}}}
    return out


def _op(summary: str, params: tuple[str, ...] = (), body: dict | None = None, ok: int = 200, schema=None) -> dict:
    op: dict = {
        "summary": summary,
        "security": _SECURITY,
        "parameters": [_PATH_PARAMS[p] for p in params],
        "responses": _answers(ok, schema or _OBJECT, _WRITE_ERRORS if body is not None else _READ_ERRORS),
    }
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op


def _post(summary: str, params: tuple[str, ...] = ()) -> dict:
    """A POST without a body (actions such as rotate or activate)."""
    op = _op(summary, params)
    op["responses"] = _answers(200, _OBJECT, _WRITE_ERRORS)
    return op


TOKEN = {
    "summary": "Exchange an admin's Basic username:password for an admin Bearer token",
    "security": [{"basicAdmin": []}],
    "responses": _answers(
        200,
        {
            "type": "object",
            "required": ["status", "token", "expires_in"],
            "properties": {
                "status": {"type": "string"},
                "token": {"type": "string"},
                "expires_in": {"type": "integer"},
            },
        },
        (400, 401, 403, 429, 503),
    ),
}


def paths() -> dict:
    """OpenAPI path items of the admin API (admin Bearer tokens; client tokens are refused with 401)."""
    c = "/api/v1/admin/clients/{app_id}"
    return {
        "/api/v1/admin/auth/token": {"post": TOKEN},
        "/api/v1/admin/services": {
            "get": _op("List services", schema=_ITEMS),
            "post": _op("Create a service", body=_SERVICE, ok=201),
        },
        "/api/v1/admin/services/{name}": {
            "get": _op("One service", ("name",)),
            "patch": _op("Change a service", ("name",), body=_SERVICE),
        },
        "/api/v1/admin/clients": {
            "get": _op("List clients (?q=&page=)"),
            "post": _op("Create a client; answers its secrets once", body=_CLIENT, ok=201),
        },
        c: {"get": _op("One client", ("app_id",)), "patch": _op("Change a client", ("app_id",), body=_CLIENT)},
        f"{c}/deactivate": {"post": _post("Deactivate a client", ("app_id",))},
        f"{c}/activate": {"post": _post("Activate a client", ("app_id",))},
        f"{c}/credentials/rotate": {"post": _post("New API credentials (shown once)", ("app_id",))},
        f"{c}/webhook-secret/rotate": {"post": _post("New webhook signing secret (shown once)", ("app_id",))},
        f"{c}/credentials/mpesa": {"put": _op("Set the client's Daraja credentials", ("app_id",), body=_OBJECT)},
        f"{c}/router": {"put": _op("Set the client's router settings", ("app_id",), body=_OBJECT)},
        f"{c}/services": {
            "post": _op(
                "Assign a service",
                ("app_id",),
                body={"type": "object", "required": ["service"], "properties": {"service": {"type": "string"}}},
                ok=201,
            )
        },
        f"{c}/plans": {
            "get": _op("The client's plans", ("app_id",), schema=_ITEMS),
            "post": _op("Create a plan", ("app_id",), body=_OBJECT, ok=201),
        },
        f"{c}/subscribers": {
            "get": _op("The client's subscribers", ("app_id",), schema=_ITEMS),
            "post": _op("Create a subscriber", ("app_id",), body=_OBJECT, ok=201),
        },
        f"{c}/subscriptions": {"get": _op("Paid periods, newest first", ("app_id",))},
        f"{c}/usage": {
            "get": _op("The client's usage statement for ?month=YYYY-MM (default: this month)", ("app_id",))
        },
        f"{c}/users": {
            "get": _op("The client's own users", ("app_id",), schema=_ITEMS),
            "post": _op(
                "Create a client user; answers its generated password once", ("app_id",), body=_CLIENT_USER, ok=201
            ),
        },
        f"{c}/users/{{username}}": {
            "patch": _op("Change a client user's role or active flag", ("app_id", "username"), body=_CLIENT_USER_CHANGE)
        },
        f"{c}/users/{{username}}/password": {
            "post": _post("A generated password for a client user, shown once", ("app_id", "username"))
        },
        f"{c}/drift": {"get": _op("Router/billing differences", ("app_id",), schema=_ITEMS)},
        f"{c}/drift/check": {"post": _post("Reconcile the client's router now", ("app_id",))},
        "/api/v1/admin/transactions": {"get": _op("Search transactions (?page=&status=&app_id=…)")},
        "/api/v1/admin/transactions/{public_id}": {"get": _op("One transaction with its attempts", ("public_id",))},
        "/api/v1/admin/outbox/{outbox_id}/redeliver": {"post": _post("Queue a webhook again", ("outbox_id",))},
    }


SECURITY_SCHEMES = {
    "adminBearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "admin token"},
    "basicAdmin": {"type": "http", "scheme": "basic", "description": "admin username:password"},
}
