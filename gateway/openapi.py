"""The OpenAPI 3 document of the client and admin APIs (served at /api/v1/openapi.json)."""

from __future__ import annotations

from gateway import openapi_admin
from gateway.fields import MAX_FIELD_LENGTH

F_FIELDS = {
    "f000": "service name (e.g. mpesa)",
    "f001": "service/category label (ISP: plan code)",
    "f002": "route",
    "f003": "your App ID",
    "f004": "amount, positive decimal with at most 2 places",
    "f005": "mobile number (07…, 01…, 2547…, +2547…)",
    "f006": "username / account reference",
    "f007": "encrypted password (never stored)",
    "f008": "password (never stored)",
    "f009": "device id",
    "f010": "your unique id for this request (idempotency key, 1–64 of A-Za-z0-9._:-)",
}

_ERROR = {"$ref": "#/components/schemas/Error"}


DESCRIPTIONS = {
    400: "bad input: the message names the field and the fix",
    401: "missing, wrong or revoked credentials or token",
    402: "payment declined by the payer (cancelled, wrong PIN, too little balance, no answer)",
    403: "client inactive, service not assigned or inactive",
    404: "unknown service, route, transaction or callback token",
    405: "method not allowed",
    409: "f010 reused with another payload, still in progress, or a prompt already open",
    413: "body over 64 KiB",
    415: "body not application/json",
    429: "rate limited (Retry-After says when to retry)",
    500: "internal error (logged)",
    502: "microservice or client function failed",
    503: "database unavailable or M-Pesa busy",
    504: "microservice or database timed out",
}


def _errors(*codes: int) -> dict:
    return {
        str(c): {"description": DESCRIPTIONS[c], "content": {"application/json": {"schema": _ERROR}}} for c in codes
    }


def document() -> dict:
    fields_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["f000", "f002", "f003", "f010"],
        "properties": {
            k: {"type": "string", "maxLength": MAX_FIELD_LENGTH, "description": d} for k, d in F_FIELDS.items()
        },
    }
    security = [{"basicAppId": [], "appId": []}, {"bearer": []}]
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "MosPay-style payment gateway",
            "version": "1.0.0",
            "description": "Client and admin APIs. Every error is {status, message} with the same HTTP status.",
        },
        "servers": [{"url": "/"}],
        "components": {
            "securitySchemes": {
                "basicAppId": {"type": "http", "scheme": "basic", "description": "api_username:api_secret"},
                "appId": {"type": "apiKey", "in": "header", "name": "App-ID"},
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                **openapi_admin.SECURITY_SCHEMES,
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["status", "message"],
                    "properties": {"status": {"type": "string"}, "message": {"type": "string"}},
                },
                "Fields": fields_schema,
                "Result": {
                    "type": "object",
                    "required": ["status", "message", "transaction_id"],
                    "properties": {
                        "status": {"type": "string"},
                        "message": {"type": "string"},
                        "type": {"type": "string"},
                        "version": {"type": "string"},
                        "action": {"type": "string", "enum": ["OUTPUT", "ERROR", "PENDING"]},
                        "transaction_id": {"type": "string", "format": "uuid"},
                    },
                },
                "Transaction": {
                    "type": "object",
                    "properties": {
                        "status": {"type": "string"},
                        "transaction_id": {"type": "string"},
                        "f010": {"type": "string"},
                        "amount": {"type": "string"},
                        "receipt": {"type": "string"},
                        "reason": {"type": "string"},
                    },
                },
            },
        },
        "paths": {
            "/api/v1/auth/token": {
                "post": {
                    "summary": "Exchange Basic credentials + App-ID for a Bearer token",
                    "security": [{"basicAppId": [], "appId": []}],
                    "responses": {
                        "200": {
                            "description": "token",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {
                                            "status": {"type": "string"},
                                            "token": {"type": "string"},
                                            "expires_in": {"type": "integer"},
                                        },
                                    }
                                }
                            },
                        },
                        **_errors(401, 403, 429),
                    },
                }
            },
            "/api/v1/payment/process": {
                "post": {
                    "summary": "Process an f000–f010 payment request",
                    "security": security,
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Fields"}}},
                    },
                    "responses": {
                        "200": {
                            "description": "done (OUTPUT)",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Result"}}},
                        },
                        "202": {
                            "description": "accepted, awaiting callback (PENDING)",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Result"}}},
                        },
                        **_errors(400, 401, 402, 403, 404, 405, 409, 413, 415, 429, 500, 502, 503, 504),
                    },
                }
            },
            "/api/v1/payment/status": {
                "post": {
                    "summary": "Status of a payment by f010 (MosPay form)",
                    "security": security,
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Fields"}}},
                    },
                    "responses": {
                        "200": {
                            "description": "transaction",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Transaction"}}},
                        },
                        **_errors(400, 401, 403, 404, 413, 415, 429, 503),
                    },
                }
            },
            "/api/v1/transactions/{f010}": {
                "get": {
                    "summary": "Status of a payment by f010 (REST form)",
                    "security": security,
                    "parameters": [{"name": "f010", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "responses": {
                        "200": {
                            "description": "transaction",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Transaction"}}},
                        },
                        **_errors(401, 403, 404, 429, 503),
                    },
                }
            },
            "/api/v1/isp/plans": {
                "get": {
                    "summary": "ISP merchants: your active plans (code, name, price, duration, profile, service_type)",
                    "security": security,
                    "responses": {"200": {"description": "{status, items}"}, **_errors(401, 403)},
                }
            },
            "/api/v1/isp/subscribers/{username}": {
                "get": {
                    "summary": "ISP merchants: one subscriber's status, plan, period end and last payments",
                    "security": security,
                    "parameters": [{"name": "username", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "responses": {"200": {"description": "subscriber"}, **_errors(401, 403, 404)},
                }
            },
            "/api/v1/callbacks/{token}": {
                "post": {
                    "summary": "Provider or microservice callback for one transaction",
                    "security": [],
                    "parameters": [{"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
                    "responses": {"200": {"description": "acknowledged"}, **_errors(400, 403, 404)},
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Gateway and database health",
                    "security": [],
                    "responses": {"200": {"description": "up"}, "503": {"description": "down"}},
                }
            },
            **openapi_admin.paths(),
        },
    }
