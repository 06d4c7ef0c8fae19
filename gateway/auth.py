"""Client and admin authentication: Basic + App-ID, Bearer JWTs, API secrets, admin passwords."""

from __future__ import annotations

import base64
import binascii
import functools
import secrets
import time
import uuid
from dataclasses import dataclass

import bcrypt
import jwt
from flask import Request, current_app

from core import db
from core.crypto import constant_time_equal, keyed_hash
from core.errors import AuthError, InvalidField, NotAssigned, UnknownRoute
from gateway import limits, registry

_DUMMY_HASH = keyed_hash("dummy", "dummy")


@dataclass(frozen=True)
class ClientCredentials:
    """What the request presented: App-ID with Basic username/secret, or a verified Bearer token's claims."""

    app_id: str
    username: str | None = None
    secret: str | None = None
    token_version: int | None = None


def new_api_credentials(app_id: str) -> tuple[str, str]:
    """(api_username, api_secret): the secret is random, shown once, stored only as a keyed hash."""
    return f"{app_id}_{secrets.token_hex(4)}", secrets.token_urlsafe(32)


def hash_api_secret(secret: str) -> str:
    return keyed_hash(current_app.config["HASH_KEY"], secret)


def _basic(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise AuthError("Authorization: Basic must be base64(api_username:api_secret)") from exc
    if ":" not in decoded:
        raise AuthError("Authorization: Basic must be base64(api_username:api_secret)")
    username, secret = decoded.split(":", 1)
    return username, secret


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


def client_credentials(request: Request) -> ClientCredentials:
    """Read Basic + App-ID (or X-App-ID), or a client Bearer token. Raises AuthError when absent or malformed."""
    token = bearer_token(request)
    if token:
        claims = decode_token(token, "client")
        return ClientCredentials(app_id=claims["sub"], token_version=claims["ver"])
    basic = _basic(request)
    if basic is None:
        raise AuthError(
            "missing credentials: send Authorization: Basic base64(api_username:api_secret) with an App-ID header, "
            "or Authorization: Bearer <token> from POST /api/v1/auth/token"
        )
    app_id = (request.headers.get("App-ID") or request.headers.get("X-App-ID") or "").strip()
    if not app_id:
        raise AuthError("missing App-ID header: send your App ID as `App-ID: <app_id>`")
    return ClientCredentials(app_id=app_id, username=basic[0], secret=basic[1])


def check_client(creds: ClientCredentials, status: str, credential_version: int, secret_hash: str | None) -> None:
    """Verify the secret (constant time) or the token's credential version, then the client's status."""
    if creds.token_version is not None:
        if creds.token_version != credential_version:
            raise AuthError("token revoked: credentials were rotated; request a new token")
    else:
        expected = secret_hash or _DUMMY_HASH
        ok = constant_time_equal(hash_api_secret(creds.secret or ""), expected)
        if not ok or secret_hash is None:
            raise AuthError("invalid credentials: check App-ID, api_username and api_secret")
    if status != "active":
        raise NotAssigned("client is inactive; contact the gateway administrator")


def issue_token(kind: str, subject: str, version: int, extra: dict | None = None) -> tuple[str, int]:
    """An HS256 JWT (kind "client" or "admin") and its lifetime in seconds."""
    ttl = current_app.config["JWT_TTL_SECONDS"]
    now = int(time.time())
    claims = {
        "iss": current_app.config["JWT_ISSUER"],
        "sub": subject,
        "typ": kind,
        "ver": version,
        "iat": now,
        "exp": now + ttl,
        "jti": uuid.uuid4().hex,
        **(extra or {}),
    }
    return jwt.encode(claims, current_app.config["JWT_SECRET_KEY"], algorithm="HS256"), ttl


def decode_token(token: str, kind: str) -> dict:
    """Verified claims of a token of the given kind. Raises AuthError (expired, forged, wrong kind)."""
    try:
        claims = jwt.decode(
            token,
            current_app.config["JWT_SECRET_KEY"],
            algorithms=["HS256"],
            issuer=current_app.config["JWT_ISSUER"],
            options={"require": ["exp", "iat", "sub", "typ", "ver"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthError("token expired: request a new one") from exc
    except jwt.InvalidTokenError as exc:
        raise AuthError("invalid token: request a new one") from exc
    if claims.get("typ") != kind:
        raise AuthError(f"this endpoint needs {_a(kind)} token, not {_a(str(claims.get('typ')))} token")
    return claims


def _a(word: str) -> str:
    """The word with its English indefinite article ("an admin", "a client")."""
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"


BCRYPT_MAX_BYTES = 72  # bcrypt reads no further (and bcrypt ≥ 5 raises rather than truncate)


def check_password_length(password: str, field: str = "password") -> None:
    """Raises InvalidField (400) for a password bcrypt cannot take whole."""
    if len(password.encode()) > BCRYPT_MAX_BYTES:
        raise InvalidField(f"{field} must be at most {BCRYPT_MAX_BYTES} bytes in UTF-8 (a bcrypt limit)")


def hash_password(password: str) -> str:
    """bcrypt for human passwords. Raises InvalidField when the password is over 72 bytes."""
    check_password_length(password)
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()


@functools.cache
def _dummy_password_hash() -> str:
    # A real hash of the same cost, made once per process: checking an unknown user does the same work.
    return hash_password(secrets.token_urlsafe(16))


def verify_password(password: str, password_hash: str | None) -> bool:
    """True when password matches; with no hash (unknown user) it still spends one bcrypt check."""
    try:
        ok = bcrypt.checkpw(password.encode(), (password_hash or _dummy_password_hash()).encode())
    except ValueError:
        return False
    return ok and password_hash is not None


def basic_pair(request: Request) -> tuple[str, str] | None:
    """The (username, password) of a Basic header, for the admin token endpoint."""
    return _basic(request)


def presented_hash(creds: ClientCredentials) -> str | None:
    """The keyed hash of a Basic secret, as SQL compares it (None for a Bearer token)."""
    return None if creds.token_version is not None else hash_api_secret(creds.secret or "")


def authenticate_route(creds: ClientCredentials, service: str, route: str) -> registry.Resolution:
    """Authenticate and find the route without counting anything (the hot path counts in begin_request).
    Raises AuthError, NotAssigned or UnknownRoute."""
    with db.autocommit() as conn:
        res = registry.resolve(conn, creds.app_id, creds.username, service, route)
    return check_route(creds, res, service, route)


def check_route(
    creds: ClientCredentials, res: registry.Resolution | None, service: str, route: str
) -> registry.Resolution:
    """Word the refusal for what the resolve found, in the order callers rely on: credentials, client
    status, service, route, assignment, functions. Returns the resolution when nothing is wrong."""
    if res is None:
        check_client(creds, "active", 0, None)  # same work and answer as a wrong secret
        raise AuthError("invalid credentials")
    check_client(creds, res.status, res.credential_version, res.secret_hash)
    if res.service_id is None:
        raise UnknownRoute(f"unknown service {service!r} (f000): ask your administrator which are assigned")
    if res.route_id is None:
        raise UnknownRoute(f"unknown route {route!r} (f002) for service {service!r}")
    if not res.assignment_id or not res.assignment_active or not res.service_active:
        raise NotAssigned(f"service {service!r} is not assigned to {res.app_id} or is inactive")
    if res.registry_id is None:
        raise UnknownRoute(f"route {route!r} has no functions for {res.app_id}; an admin must regenerate them")
    return res


def authenticate(creds: ClientCredentials) -> registry.Resolution:
    """Authenticate without a route (token and status endpoints) and count the request against the client's
    rate limit in the same statement. Raises AuthError, NotAssigned or RateLimited."""
    with db.autocommit() as conn:
        res = registry.resolve(
            conn, creds.app_id, creds.username, "", "", presented_hash(creds), creds.token_version, limits.sql_limits()
        )
    judge(creds, res)
    limits.check_client_external(res.client_id, res.app_id, res.rate_limit)
    return res


def judge(creds: ClientCredentials, res: registry.Resolution | None) -> registry.Resolution:
    """Raise the refusal for a route-less resolution (unknown App ID, credential, client status, rate limit),
    or return it when the request may go on."""
    if res is None:
        check_client(creds, "active", 0, None)  # same work and answer as a wrong secret
        raise AuthError("invalid credentials")
    check_client(creds, res.status, res.credential_version, res.secret_hash)
    refusal = limits.limited(res)
    if refusal:
        raise refusal
    return res
