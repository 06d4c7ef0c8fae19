"""Who may do what in the portal, checked on the server for every request: the signed-in user, session
age limits, the forced password change, CSRF on every write, role checks on every action, and the
security headers of every page."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, flash, g, redirect, request, session, url_for
from flask_login import LoginManager, UserMixin, current_user, logout_user
from flask_wtf.csrf import CSRFProtect

from admin import clients, roles, users
from admin.scope import Scope
from billing import queue
from core import db
from core.actor import Actor
from core.errors import NotAssigned

csrf = CSRFProtect()
login_manager = LoginManager()

# Every view names the permission it needs (admin/roles.py); a client's own users reach only the views that
# also say tenants=True, and only with their own client's app_id in the address.
# Endpoints reachable without a full sign-in (the sign-in steps themselves).
PUBLIC_ENDPOINTS = frozenset(
    {
        "portal_login.login",
        "portal_login.verify_code",
        "portal_login.enrol_code",
        "portal_login.logout",
    }
)
# Endpoints a user who must change their password may still reach.
PASSWORD_CHANGE_ENDPOINTS = frozenset({"portal_account.change_password", "portal_login.logout"})
DEFAULT_IDLE_SECONDS = 3600
DEFAULT_MAX_SESSION_SECONDS = 12 * 3600
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class PortalUser(UserMixin):
    """A row of gateway.users as Flask-Login sees it. The session id carries token_version, so a password
    change, role change or deactivation ends every other session of that user at once."""

    def __init__(self, row: dict) -> None:
        self.row = row
        self.id = row["id"]
        self.username: str = row["username"]
        self.role: str = row["role"]
        self.token_version: int = row["token_version"]
        self.must_change_password: bool = row["must_change_password"]
        self.totp_required: bool = row["totp_required"]
        self.has_totp: bool = bool(row.get("totp_secret_enc"))
        self.scope = Scope.of(row)

    @property
    def is_active(self) -> bool:
        return bool(self.row["active"])

    def get_id(self) -> str:
        return f"{self.id}:{self.token_version}"

    def can(self, permission: str) -> bool:
        return roles.allows(self.role, permission)

    @property
    def is_tenant(self) -> bool:
        return self.scope.is_tenant

    @property
    def actor(self) -> Actor:
        """The audit identity handed to the service layer."""
        return users.actor_of(self.row)


@login_manager.user_loader
def load_user(session_id: str) -> PortalUser | None:
    user_id, _, version = session_id.partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None
    with db.transaction() as conn:
        row = users.get_user(conn, int(user_id))
    if row is None or not row["active"] or row["token_version"] != int(version):
        return None
    return PortalUser(row)


def can(permission: str) -> bool:
    """For templates: show a button only to users who may use it (the view checks again)."""
    return bool(current_user.is_authenticated and current_user.can(permission))


def requires(permission: str, *, tenants: bool = False) -> Callable:
    """Refuse the view with 403 and a clear message unless the signed-in user's role has `permission`.
    `tenants=True` opens it to a client's own users too; the view must then narrow what it shows by scope()."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.can(permission):
                raise NotAssigned(roles.refusal(current_user.role, permission))
            return view(*args, **kwargs)

        wrapped.tenants = tenants  # type: ignore[attr-defined]
        return wrapped

    return decorator


def any_signed_in(view: Callable) -> Callable:
    """A view of one's own account: every signed-in user, of the gateway or of a client."""
    view.tenants = True  # type: ignore[attr-defined]
    return view


def actor() -> Actor:
    return current_user.actor


def scope() -> Scope:
    """What the signed-in user may see: everything, or their own client's data."""
    return current_user.scope


def tenant_client() -> dict | None:
    """For templates: the signed-in tenant user's client (app_id, company name, whether it runs ISP billing),
    read once per request; None for a gateway user."""
    if not (current_user.is_authenticated and current_user.is_tenant):
        return None
    if "tenant_client" not in g:
        with db.transaction() as conn:
            client = clients.get_client(conn, current_user.scope.app_id)
            g.tenant_client = {
                "app_id": client["app_id"],
                "company_name": client["company_name"],
                "sells_plans": queue.sells_plans(conn, client["id"]),
            }
    return g.tenant_client


def _check_tenant() -> None:
    """A client's user: only views open to tenants, and only their own client's app_id (404 for any other,
    worded as for a client that does not exist)."""
    view = current_app.view_functions.get(request.endpoint or "")
    if not getattr(view, "tenants", False):
        raise NotAssigned(roles.GATEWAY_ONLY)
    app_id = (request.view_args or {}).get("app_id")
    if app_id is not None:
        current_user.scope.check_app(app_id)


def start_session() -> None:
    now = int(time.time())
    session["login_at"] = now
    session["seen_at"] = now


def _expired() -> str | None:
    now = int(time.time())
    idle = current_app.config.get("PORTAL_IDLE_SECONDS", DEFAULT_IDLE_SECONDS)
    longest = current_app.config.get("PORTAL_MAX_SESSION_SECONDS", DEFAULT_MAX_SESSION_SECONDS)
    if now - session.get("seen_at", 0) > idle:
        return "You were signed out after a period of inactivity. Sign in again."
    if now - session.get("login_at", 0) > longest:
        return "Your session reached its maximum length. Sign in again."
    return None


def guard() -> Response | None:
    """before_request of every portal blueprint."""
    if request.method in WRITE_METHODS:
        csrf.protect()  # raises CSRFError (400) with a message errors.py turns into advice
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    reason = _expired()
    if reason:
        logout_user()
        session.clear()
        flash(reason, "warning")
        return redirect(url_for("portal_login.login", next=request.full_path if request.method == "GET" else None))
    session["seen_at"] = int(time.time())
    if current_user.must_change_password and request.endpoint not in PASSWORD_CHANGE_ENDPOINTS:
        flash("Choose a new password before you continue: the one you signed in with was generated.", "warning")
        return redirect(url_for("portal_account.change_password"))
    if current_user.is_tenant:
        _check_tenant()
    return None


CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def security_headers(response: Response) -> Response:
    """after_request of every portal blueprint: no framing, no sniffing, no caching of admin pages."""
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def safe_next(target: str | None) -> str | None:
    """A redirect target only when it is a path on this site (no open redirect to another host)."""
    if not target or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        if parts.netloc != request.host or parts.scheme not in ("http", "https"):
            return None
        target = parts.path + (f"?{parts.query}" if parts.query else "")
    if target.startswith("/") and not target.startswith("//"):
        return target
    return None


def portal_blueprint(name: str, import_name: str, url_prefix: str) -> Blueprint:
    """A portal blueprint: sign-in, CSRF and the security headers apply to every view it will hold.
    Attached here, once per blueprint, because an app factory may run many times in one process."""
    bp = Blueprint(name, import_name, url_prefix=url_prefix)
    bp.before_request(guard)
    bp.after_request(security_headers)
    return bp
